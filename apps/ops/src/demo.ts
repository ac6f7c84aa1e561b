// What both demos share: the deployment they drive, their callers, and how a failed story ends.
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { commandLine, configuration, serverUrl, usageError } from "./cli.ts";
import { jsonTransport } from "./clients.ts";
import { callingAs } from "./dev-tokens.ts";

const usage = `usage: ./hexa demo [trial|vaccination] [--url URL]

Drives a suite's story (trial by default) through the public API of a running deployment, and
prints each status change as it happens.
  --url URL   the deployment (default http://HOST:PORT from the environment, as ./hexa start
              reads it: http://127.0.0.1:8080 unless HOST or PORT are set)
Tokens are development tokens signed with the key in AUTH_DEV_KEY_DIR, else DATA_DIR/auth.`;

const { values } = commandLine(usage, { url: { type: "string" } });
/** `--url`, by default the server HOST and PORT describe (the all-in-one on http://127.0.0.1:8080). */
export const demoUrl = values.url ?? serverUrl(configuration());
if (!/^https?:\/\/[^/\s]+\/?$/.test(demoUrl))
  usageError(`--url: must be an http(s) base URL, got ${JSON.stringify(demoUrl)}`, usage);

/** Each actor calls with a development token of its own role (see ./dev-tokens.ts). */
export function actingAs(role: string, subject: string): Transport {
  return jsonTransport(demoUrl, [callingAs(role, subject)]);
}

/**
 * Calls `call` again while the service answers `unavailable`: it has not heard yet, over the bus, of
 * what the call names (a plan just started, a reservation just booked). Gives up after `timeoutMs`.
 */
export async function retriedWhileUnavailable<T>(call: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (ConnectError.from(error).code !== Code.Unavailable || Date.now() > deadline) throw error;
      await new Promise((resume) => setTimeout(resume, 100));
    }
  }
}

/** Runs a demo's story; if it fails, says why and how to start the all-in-one, and exits 1. */
export async function runDemo(story: () => Promise<void>): Promise<void> {
  try {
    await story();
  } catch (error) {
    console.error(
      `demo failed: ${error instanceof Error ? error.message : error}\n` +
        `Is the all-in-one running at ${demoUrl}? Start it with ./hexa start (PORT=… to move it), or pass --url.`,
    );
    process.exit(1);
  }
}
