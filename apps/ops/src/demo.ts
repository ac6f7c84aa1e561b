// What both demos share: the deployment they drive, their callers, and how a failed story ends.
import type { Transport } from "@connectrpc/connect";
import { jsonTransport } from "./clients.ts";
import { callingAs } from "./dev-tokens.ts";

const urlFlag = process.argv.indexOf("--url");
/** `--url`, by default the all-in-one on http://127.0.0.1:8080. */
export const demoUrl = urlFlag > 0 ? (process.argv[urlFlag + 1] ?? "") : "http://127.0.0.1:8080";

/** Each actor calls with a development token of its own role (see ./dev-tokens.ts). */
export function actingAs(role: string, subject: string): Transport {
  return jsonTransport(demoUrl, [callingAs(role, subject)]);
}

/** Runs a demo's story; if it fails, says why and how to start the all-in-one, and exits 1. */
export async function runDemo(story: () => Promise<void>): Promise<void> {
  try {
    await story();
  } catch (error) {
    console.error(
      `demo failed: ${error instanceof Error ? error.message : error}\n` +
        `Is the all-in-one running at ${demoUrl}? Start it with ./hexa start, or pass --url.`,
    );
    process.exit(1);
  }
}
