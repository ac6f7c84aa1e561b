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

export async function runDeadLettersCommand(
  argv: readonly string[],
  bus: Pick<EventBus, "deadLetters">,
  out: Output,
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "list":
        return await list(rest, bus, out);
      case "replay":
        return await replay(rest, bus, out);
      case "help":
      case "--help":
      case "-h":
        out.write(deadLettersUsage);
        return 0;
      default:
        out.write(
          command === undefined ? deadLettersUsage : `unknown command "${command}"\n${deadLettersUsage}`,
        );
        return 2;
    }
  } catch (error) {
    out.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function list(
  args: readonly string[],
  bus: Pick<EventBus, "deadLetters">,
  out: Output,
): Promise<number> {
  const json = args.includes("--json");
  const unknown = args.filter((arg) => arg !== "--json");
  if (unknown.length > 0) {
    out.write(`unexpected argument(s) for list: ${unknown.join(" ")}\n${deadLettersUsage}`);
    return 2;
  }
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
  args: readonly string[],
  bus: Pick<EventBus, "deadLetters">,
  out: Output,
): Promise<number> {
  const all = args.includes("--all");
  const ids = args.filter((arg) => arg !== "--all");
  const byId = ids.length > 0;
  if (all === byId) {
    out.write(`replay takes dead-letter ids or --all\n${deadLettersUsage}`);
    return 2;
  }
  const targets = all ? (await bus.deadLetters.list()).map((letter) => letter.id) : ids;
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
