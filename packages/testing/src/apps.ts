import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "../../..");

/** A service process started from an app's main.ts, as a user or a Pod would start it. */
export interface RunningApp {
  readonly url: string;
  readonly process: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** What it wrote to stdout alone so far. */
  stdout(): string;
  /** SIGTERM, then waits for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: the process dies without any shutdown step. */
  kill(): Promise<void>;
}

/**
 * Starts `apps/<app>/src/main.ts` with the given environment (nothing inherited but PATH and HOME)
 * and waits until its /readyz answers 200.
 */
export async function startApp(
  app: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<RunningApp> {
  const port = env.PORT;
  if (!port) throw new Error("startApp needs PORT");
  const child = spawn(process.execPath, [resolve(root, "apps", app, "src/main.ts")], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      // The run's development key and its lifted rate limit (see the global setup).
      ...pick(["AUTH_DEV_KEY_DIR", "RATE_LIMIT_PER_SECOND", "RATE_LIMIT_BURST"]),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let stdout = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${app} exited with ${child.exitCode} before it was ready:\n${output}`);
    const ready = await fetch(`${url}/readyz`)
      .then((response) => response.status === 200)
      .catch(() => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${app} was not ready within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  return {
    url,
    process: child,
    output: () => output,
    stdout: () => stdout,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

function pick(names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])));
}

/** Resolves with what `promise` gives, or "nothing" when it has given nothing within `ms`. */
export async function within<T>(promise: Promise<T>, ms = 200): Promise<T | "nothing"> {
  let timer: NodeJS.Timeout | undefined;
  const nothing = new Promise<"nothing">((resolve) => {
    timer = setTimeout(() => resolve("nothing"), ms);
  });
  try {
    return await Promise.race([promise, nothing]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `attempt` until it stops throwing or the time is up; returns its value or rethrows its last error. */
export async function eventually<T>(
  attempt: () => Promise<T>,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((done) => setTimeout(done, intervalMs));
    }
  }
}
