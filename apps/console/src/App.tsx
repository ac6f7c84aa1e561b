import { lazy, Suspense, useEffect, useState } from "react";
import { currentSession, setSession } from "./auth-state.ts";
import type { ConsoleConfig } from "./config.ts";
import { SignIn } from "./SignIn.tsx";
import { screensFor } from "./screens.ts";
import type { Session } from "./session.ts";

const Workspace = lazy(() => import("./Workspace.tsx"));

/** `#/<screen>/<argument>`: the screen and, for some, what it shows (an order's id). */
function readRoute(): [string, string] {
  const [, path = "", argument = ""] = location.hash.split("/");
  return [path, decodeURIComponent(argument)];
}

function useRoute(): [string, string] {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const changed = () => setRoute(readRoute());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

export function App() {
  const [config, setConfig] = useState<ConsoleConfig | Error | undefined>(inlineConfig);
  const [session, changeSession] = useState<Session | undefined>(currentSession);
  const [path, argument] = useRoute();

  // biome-ignore lint/correctness/useExhaustiveDependencies: read once, when the page did not hold it
  useEffect(() => {
    if (!config) fetchConfig().then(setConfig, setConfig);
  }, []);
  // Once the first screen is up: what signed-in screens need, fetched ahead of the sign-in.
  useEffect(() => {
    void import("./Workspace.tsx");
  }, []);

  const signedIn = (next: Session | undefined) => {
    setSession(next);
    changeSession(next);
  };

  /** Ends the session here, and at the identity provider when it opened it. */
  const signOut = () => {
    const via = session?.via;
    signedIn(undefined);
    const signIn = config && !(config instanceof Error) ? config.signIn : undefined;
    if (via === "oidc" && signIn?.mode === "oidc")
      void import("./oidc.ts").then((oidc) => oidc.signOut(signIn));
  };

  const screens = session ? screensFor(session.roles) : [];
  const screen = screens.find((candidate) => candidate.path === path) ?? screens[0];

  return (
    <>
      <header className="top">
        <a className="brand" href="#/">
          hexa console
        </a>
        {session && (
          <div className="who">
            <span>
              {session.subject} <small>({session.roles.join(", ")})</small>
            </span>
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      {session && screens.length > 0 && (
        <nav className="screens" aria-label="Screens">
          {(["Product trials", "Vaccination"] as const).map((suite) => {
            const ofSuite = screens.filter((candidate) => candidate.suite === suite);
            if (ofSuite.length === 0) return null;
            return (
              <ul key={suite} aria-label={suite}>
                {ofSuite.map((candidate) => (
                  <li key={candidate.path}>
                    <a href={`#/${candidate.path}`} aria-current={candidate === screen ? "page" : undefined}>
                      {candidate.title}
                    </a>
                  </li>
                ))}
              </ul>
            );
          })}
        </nav>
      )}
      <main>
        {config instanceof Error && (
          <p className="refusal" role="alert">
            The console cannot start: {config.message}
          </p>
        )}
        {config && !(config instanceof Error) && !session && (
          <SignIn config={config.signIn} onSession={signedIn} />
        )}
        {session && !screen && <p>Your roles ({session.roles.join(", ") || "none"}) open no screen here.</p>}
        {session && screen && (
          <Suspense fallback={<p>Loading…</p>}>
            {/* Keyed by the session: another one starts with an empty cache. */}
            <Workspace key={session.token} session={session} screen={screen} argument={argument} />
          </Suspense>
        )}
      </main>
    </>
  );
}

/** The configuration the server wrote into the page: the first render can offer sign-in. */
function inlineConfig(): ConsoleConfig | undefined {
  const inline = document.getElementById("console-config")?.textContent;
  return inline ? (JSON.parse(inline) as ConsoleConfig) : undefined;
}

/** For a page served without it (some other static server): `/console/config.json`. */
async function fetchConfig(): Promise<ConsoleConfig> {
  const response = await fetch("/console/config.json", { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`the console's configuration answered HTTP ${response.status}`);
  return (await response.json()) as ConsoleConfig;
}
