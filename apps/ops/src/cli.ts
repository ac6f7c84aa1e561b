// What every ops command shares: its command line parsed by node:util parseArgs, with --help and
// precise mistakes, and the server's own configuration read by the one config reader.
import { type ParseArgsConfig, parseArgs } from "node:util";
import { urlHost } from "@hexa/adapters/connect/server";
import { type Environment, readEnvironment } from "@hexa/adapters/runtime/config";

const helpOption = { help: { type: "boolean", short: "h" } } as const;

/** The problem and the usage on stderr, exit code 2. */
export function usageError(problem: string, usage: string): never {
  console.error(`${problem}\n${usage}`);
  process.exit(2);
}

/**
 * The command line, parsed strictly (an unknown flag, or a flag missing its value, is a usage
 * error); `--help`/`-h` prints `usage` and exits 0.
 */
export function commandLine<const Options extends NonNullable<ParseArgsConfig["options"]>>(
  usage: string,
  options: Options,
  allowPositionals = false,
) {
  try {
    const parsed = parseArgs<{
      args: string[];
      options: Options & typeof helpOption;
      allowPositionals: true;
      strict: true;
    }>({
      args: process.argv.slice(2),
      options: { ...options, ...helpOption },
      allowPositionals: true,
      strict: true,
    });
    if ((parsed.values as { help?: boolean }).help) {
      console.log(usage);
      process.exit(0);
    }
    const [unexpected] = parsed.positionals;
    if (!allowPositionals && unexpected !== undefined) usageError(`unexpected argument ${unexpected}`, usage);
    return parsed;
  } catch (error) {
    return usageError((error as Error).message, usage);
  }
}

/** The configuration the server reads (PORT, HOST, DATA_DIR, NATS_URL…); a bad variable exits 2 naming it. */
export function configuration(): Environment {
  try {
    return readEnvironment();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
}

/** Where the server this configuration describes answers: http://HOST:PORT (a wildcard HOST as the loopback). */
export function serverUrl(env: Environment): string {
  return `http://${urlHost(env.HOST)}:${env.PORT}`;
}

/** A flag's value as a whole number of at least 1; anything else is a usage error naming the flag. */
export function wholeNumber(flag: string, text: string, usage: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    usageError(`${flag}: must be a whole number of at least 1, got ${JSON.stringify(text)}`, usage);
  return value;
}
