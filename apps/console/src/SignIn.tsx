import { useEffect, useState } from "react";
import type { SignInConfig } from "./config.ts";
import { developmentSignIn, type Session } from "./session.ts";
import { Field, formValues } from "./ui.tsx";

/** Subjects to start with, by role: customers and people act on their own records. */
const SUGGESTED_SUBJECT: Record<string, string> = {
  customer: "alice",
  person: "person-1",
  marketer: "marketer-1",
  courier: "courier-1",
  warehouse: "warehouse-1",
  "vaccine-manager": "vaccine-manager-1",
  "reservation-manager": "reservation-manager-1",
  admin: "admin-1",
};

export function SignIn({
  config,
  onSession,
}: {
  config: SignInConfig;
  onSession: (session: Session) => void;
}) {
  const [problem, setProblem] = useState<string>();
  const [role, setRole] = useState("customer");

  useEffect(() => {
    if (config.mode !== "oidc") return;
    import("./oidc.ts")
      .then((oidc) => oidc.completeSignIn(config))
      .then((session) => session && onSession(session))
      .catch((error: Error) => setProblem(error.message));
  }, [config, onSession]);

  if (config.mode === "unavailable") {
    return (
      <p className="refusal" role="alert">
        Sign-in is not available: {config.reason}
      </p>
    );
  }
  if (config.mode === "oidc") {
    return (
      <section aria-label="Sign in">
        <h1>Sign in</h1>
        <button
          type="button"
          onClick={() =>
            import("./oidc.ts")
              .then((oidc) => oidc.startSignIn(config))
              .catch((error: Error) => setProblem(error.message))
          }
        >
          Sign in with your organisation
        </button>
        {problem && <p role="alert">{problem}</p>}
      </section>
    );
  }
  return (
    <section aria-label="Sign in">
      <h1>Sign in (development)</h1>
      <p>Laptop mode: pick a role and who you are; the all-in-one signs a development token.</p>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const values = formValues(event.currentTarget);
          developmentSignIn(config.endpoint, values.role ?? "", values.subject ?? "").then(
            onSession,
            (error: Error) => setProblem(error.message),
          );
        }}
      >
        <div className="field">
          <label htmlFor="sign-in-role">Role</label>
          <select
            id="sign-in-role"
            name="role"
            value={role}
            onChange={(event) => setRole(event.target.value)}
          >
            {config.roles.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <Field
          key={role}
          label="Subject (who you are)"
          name="subject"
          defaultValue={SUGGESTED_SUBJECT[role] ?? ""}
        />
        <button type="submit">Sign in</button>
        {problem && (
          <p className="refusal" role="alert">
            {problem}
          </p>
        )}
      </form>
    </section>
  );
}
