import { parseArgs } from "node:util";
import type { DeadLetter, EventBus } from "../messaging/bus.ts";

/**
 * The `dead-letters` command of a service: lists the events that failed their last attempt and
 * replays them. It needs only the bus's `deadLetters`, so it works with any `EventBus`.
 *
 *   dead-letters list            a table: id, consumer, event type, aggregate id, attempts, failed at, error
 *   dead-letters list --json     the same as JSON, one array
 *   dead-letters replay <id>...  replays the named dead letters
 *   dead-letters replay --all    replays every dead letter
 *
 * Returns the exit code: 0 done, 1 something failed, 2 bad usage.
 */

export interface Output {
  write(text: string): unknown;
}

export const deadLettersUsage = `usage:
  dead-letters list [--json]     show the events that failed their last attempt
  dead-letters replay <id>...    deliver the named dead letters again and remove them
  dead-letters replay --all      deliver every dead letter again and remove it
`;

const errorWidth = 80;

/** What the command line asks for; `usage` is answered without touching the bus. */
export type DeadLettersRequest =
  | { readonly command: "list"; readonly json: boolean }
  | { readonly command: "replay"; readonly ids: readonly string[] }
  | { readonly command: "replay-all" }
  | { readonly command: "usage"; readonly text: string; readonly code: 0 | 2 };

/** Parses the command line (node:util parseArgs, strict); a mistake is a usage answer naming it. */
export function parseDeadLettersArgs(argv: readonly string[]): DeadLettersRequest {
  const mistake = (problem: string): DeadLettersRequest => ({
    command: "usage",
    text: `${problem}\n${deadLettersUsage}`,
    code: 2,
  });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return mistake((error as Error).message);
  }
  const {
    values,
    positionals: [command, ...rest],
  } = parsed;
  if (values.help || command === "help") return { command: "usage", text: deadLettersUsage, code: 0 };
  switch (command) {
    case "list":
      if (rest.length > 0 || values.all)
        return mistake(
          `unexpected argument(s) for list: ${[...rest, ...(values.all ? ["--all"] : [])].join(" ")}`,
        );
      return { command: "list", json: values.json === true };
    case "replay":
      if (values.json) return mistake("--json is for list");
      if (rest.length > 0 === (values.all === true)) return mistake("replay takes dead-letter ids or --all");
      return values.all ? { command: "replay-all" } : { command: "replay", ids: rest };
    case undefined:
      return { command: "usage", text: deadLettersUsage, code: 2 };
    default:
      return mistake(`unknown command "${command}"`);
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      all: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

export async function runDeadLettersCommand(
  request: DeadLettersRequest,
  bus: Pick<EventBus, "deadLetters">,
  out: Output,
): Promise<number> {
  try {
    switch (request.command) {
      case "usage":
        out.write(request.text);
        return request.code;
      case "list":
        return await list(request.json, bus, out);
      case "replay":
        return await replay(request.ids, bus, out);
      case "replay-all":
        return await replay(
          (await bus.deadLetters.list()).map((letter) => letter.id),
          bus,
          out,
        );
    }
  } catch (error) {
    out.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function list(json: boolean, bus: Pick<EventBus, "deadLetters">, out: Output): Promise<number> {
  const letters = await bus.deadLetters.list();
  if (json) {
    out.write(`${JSON.stringify(letters, null, 2)}\n`);
    return 0;
  }
  if (letters.length === 0) {
    out.write("no dead letters\n");
    return 0;
  }
  out.write(formatDeadLetters(letters));
  out.write(`${letters.length} dead letter${letters.length === 1 ? "" : "s"}\n`);
  return 0;
}

async function replay(
  targets: readonly string[],
  bus: Pick<EventBus, "deadLetters">,
  out: Output,
): Promise<number> {
  if (targets.length === 0) {
    out.write("no dead letters to replay\n");
    return 0;
  }
  let failed = 0;
  for (const id of targets) {
    try {
      await bus.deadLetters.replay(id);
      out.write(`replayed ${id}\n`);
    } catch (error) {
      failed++;
      out.write(`could not replay ${id}: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  out.write(`${targets.length - failed} replayed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

/** Dead letters as a plain-text table, one line each; long errors are cut to fit. */
export function formatDeadLetters(letters: readonly DeadLetter[]): string {
  const header = ["ID", "CONSUMER", "EVENT TYPE", "AGGREGATE ID", "ATTEMPTS", "FAILED AT", "ERROR"];
  const rows = letters.map((letter) => [
    letter.id,
    letter.consumer,
    letter.event.type,
    letter.event.aggregateId,
    String(letter.attempts),
    letter.failedAt,
    shorten(letter.error, errorWidth),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    `${cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd()}\n`;
  return [header, ...rows].map(line).join("");
}

function shorten(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 3)}...`;
}
