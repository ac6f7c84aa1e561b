// What both benchmarks share: a fresh database on the PostgreSQL they measure, the all-in-one
// started against it with NATS, closed-loop load, and latency summaries.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { deleteNamespaceStreams } from "@hexa/adapters/jetstream/streams";
import { startTemporaryPostgres } from "@hexa/adapters/postgres/embedded";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { type RunningApp, startApp } from "@hexa/testing/apps";
import { freePort } from "@hexa/testing/global-setup";
import pg from "pg";
import { configuration } from "./cli.ts";
import { jsonTransport } from "./clients.ts";
import { devKeyDir } from "./dev-tokens.ts";

const env = configuration();
export const NATS_URL = env.NATS_URL ?? "nats://127.0.0.1:4222";

export function log(text: string): void {
  console.error(`[benchmark] ${text}`);
}

export function summary(latenciesMs: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
  return { p50: at(50), p99: at(99), max: sorted.at(-1) ?? Number.NaN };
}

export const ms = (value: number): string => `${value.toFixed(1)} ms`;

/** Runs `total` calls of `call(i)` with `concurrency` in flight; returns the elapsed time and each call's latency. */
export async function closedLoop(
  total: number,
  concurrency: number,
  call: (i: number) => Promise<unknown>,
): Promise<{ elapsedMs: number; latencies: number[]; rate: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t0 = performance.now();
        await call(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  return { elapsedMs, latencies, rate: total / (elapsedMs / 1000) };
}

/**
 * The baseline the targets compare with: `total` raw single-row INSERT + COMMIT (autocommit) on a
 * pool of `concurrency` connections to `databaseUrl`, after 200 to warm up.
 */
export async function insertBaseline(
  databaseUrl: string,
  total: number,
  concurrency: number,
): Promise<Awaited<ReturnType<typeof closedLoop>>> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: concurrency });
  try {
    await pool.query(
      "create table if not exists bench_baseline (id bigserial primary key, customer_id text, plan_id uuid, quantity int, address text, placed_at timestamptz)",
    );
    const planId = randomUUID();
    const insert = (i: number) =>
      pool.query(
        "insert into bench_baseline (customer_id, plan_id, quantity, address, placed_at) values ($1, $2, 1, '1 Bench Road', now())",
        [`c-${i}`, planId],
      );
    await closedLoop(200, concurrency, insert);
    return await closedLoop(total, concurrency, insert);
  } finally {
    await pool.end();
  }
}

/**
 * The ceiling: `total` calls of `call`, each of which must be turned away as InvalidArgument, after
 * 200 to warm up. Such a call crosses Connect JSON, authentication and validation and stops there,
 * before any database or bus: no RPC of the service goes faster on this machine with this client.
 */
export async function ceiling(
  total: number,
  concurrency: number,
  call: () => Promise<unknown>,
): Promise<Awaited<ReturnType<typeof closedLoop>>> {
  const refused = async () => {
    try {
      await call();
    } catch (error) {
      if (ConnectError.from(error).code === Code.InvalidArgument) return;
      throw error;
    }
    throw new Error("the ceiling's call was accepted; it must fail validation");
  };
  await closedLoop(200, concurrency, refused);
  return closedLoop(total, concurrency, refused);
}

/**
 * CPU seconds (user + system) used so far by the all-in-one (`appPid`) and by all processes named
 * `postgres`, read from Linux's /proc; undefined where there is no /proc.
 */
export function cpuSeconds(appPid: number): { app: number; postgres: number } | undefined {
  try {
    const postgres = namedCpuSeconds("postgres");
    const app = processStat(appPid);
    return app ? { app: app.seconds, postgres } : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) used so far by all processes called `name`, from /proc. */
function namedCpuSeconds(name: string): number {
  let seconds = 0;
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    const process = processStat(Number(pid));
    if (process?.name === name) seconds += process.seconds;
  }
  return seconds;
}

/**
 * Where the machine's CPU goes during `run`: milliseconds per unit (`units` of them) of this process
 * (the load generator), of the processes `servers` together, of all PostgreSQL processes and of all
 * NATS servers on the machine, from /proc (`serverMs`: the servers' alone). NaN where there is no
 * /proc.
 */
export async function cpuSplit<T>(
  units: number,
  servers: readonly number[],
  run: () => Promise<T>,
): Promise<{ result: T; text: string; serverMs: number; perUnit: CpuPerUnit }> {
  const read = () => ({
    client: process.cpuUsage(),
    server: servers.reduce((sum, pid) => sum + (processStat(pid)?.seconds ?? Number.NaN), 0),
    postgres: namedCpuSeconds("postgres"),
    nats: namedCpuSeconds("nats-server"),
  });
  const before = read();
  const result = await run();
  const after = read();
  const client = process.cpuUsage(before.client);
  const ms = (seconds: number) => (seconds * 1000) / units;
  const perUnit = {
    client: ms((client.user + client.system) / 1e6),
    server: ms(after.server - before.server),
    postgres: ms(after.postgres - before.postgres),
    nats: ms(after.nats - before.nats),
  };
  const text = `client ${perUnit.client.toFixed(3)} / server ${perUnit.server.toFixed(3)} / PostgreSQL ${perUnit.postgres.toFixed(3)} / NATS ${perUnit.nats.toFixed(3)} ms`;
  return { result, text, serverMs: perUnit.server, perUnit };
}

/** Milliseconds of CPU per unit of work: the load generator's, the servers', PostgreSQL's, NATS's. */
export interface CpuPerUnit {
  readonly client: number;
  readonly server: number;
  readonly postgres: number;
  readonly nats: number;
}

/**
 * What a service's rate against the bare Connect call is bounded by, from the CPU split of the same
 * run: both phases keep the machine's CPUs busy, so their rates stand about as the machine's CPU per
 * call does. Also the most the ratio could be if each of the call's `rpcs` (the client's, and those
 * the services make to each other) cost the servers what a bare call costs its server and client,
 * with the load generator, PostgreSQL and NATS as they were: what is left of the gap is the services'
 * own cost.
 */
export function ratioLimits(name: string, bare: CpuPerUnit, service: CpuPerUnit, rpcs: number): string {
  const machine = (cpu: CpuPerUnit) => cpu.client + cpu.server + cpu.postgres + cpu.nats;
  const bareServers = bare.server * rpcs + bare.client * (rpcs - 1);
  const asBare = bareServers + service.client + service.postgres + service.nats;
  return `${name} by the machine's CPU per call: bare ${machine(bare).toFixed(3)} ms, ${name} ${machine(service).toFixed(3)} ms, about ${(machine(bare) / machine(service)).toFixed(2)}x; with servers as cheap as bare calls, at most ${(machine(bare) / asBare).toFixed(2)}x (the ${(service.server - bareServers).toFixed(3)} ms a call the servers spend above that are their own cost)`;
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined once it has ended, or without /proc. */
export function processCpuSeconds(pid: number): number | undefined {
  return processStat(pid)?.seconds;
}

/** A process's name and CPU seconds (user + system) from /proc; undefined once it has ended, or without /proc. */
function processStat(pid: number): { name: string; seconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
    return {
      name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      seconds: (Number(fields[11]) + Number(fields[12])) / 100,
    };
  } catch {
    return undefined;
  }
}

/** Cleanups run in reverse order of registration when the benchmark ends, however it ends. */
export class Cleanups {
  readonly #steps: Array<() => Promise<unknown>> = [];
  add(step: () => Promise<unknown>): void {
    this.#steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.#steps.reverse()) await step().catch(() => {});
  }
}

/**
 * A fresh database on DATABASE_URL's server, or on an embedded PostgreSQL started for the run; it is
 * dropped by `cleanups`.
 */
export async function freshDatabase(name: string, cleanups: Cleanups): Promise<string> {
  let serverUrl = env.DATABASE_URL;
  if (!serverUrl) {
    // pg_stat_statements counts the run's statements (see databaseCounters).
    const embedded = await startTemporaryPostgres({
      port: await freePort(),
      settings: { shared_preload_libraries: "pg_stat_statements" },
    });
    cleanups.add(() => embedded.stop());
    serverUrl = embedded.socketUrl;
    log("PostgreSQL: embedded (DATABASE_URL not set)");
  }
  const database = `hexa_bench_${name}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${database}`);
  cleanups.add(async () => {
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
  });
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  const created = new pg.Client({ connectionString: url.toString() });
  await created.connect();
  await created
    .query("create extension if not exists pg_stat_statements")
    .catch(() => log("pg_stat_statements is not available on this server: statements are not counted"))
    .finally(() => created.end());
  return url.toString();
}

/** What PostgreSQL counted for one database so far. */
export interface DatabaseCounters {
  /** Transactions committed or rolled back (pg_stat_database). */
  readonly transactions: number;
  /**
   * Statements executed, BEGIN / COMMIT / ROLLBACK left out (they are the transactions), from
   * pg_stat_statements; undefined where the server does not preload it.
   */
  readonly statements: number | undefined;
  /** CPU seconds of the server processes serving the database now, by pid (from /proc). */
  readonly backendCpu: ReadonlyMap<number, number>;
  /** Those of them that are PostgreSQL's own workers (autovacuum), not sessions of a client. */
  readonly ownWorkers: ReadonlySet<number>;
}

/**
 * Reads the database's counters through `client` (connected to it). PostgreSQL publishes a
 * backend's counts up to a second late, so callers let a second pass before reading the end of a
 * phase. The reading's own statements are few and counted like any others.
 */
export async function databaseCounters(client: pg.Client): Promise<DatabaseCounters> {
  const [stats] = (
    await client.query(
      "select xact_commit + xact_rollback as transactions from pg_stat_database where datname = current_database()",
    )
  ).rows as Array<{ transactions: string }>;
  const statements = await client
    .query(
      `select coalesce(sum(calls), 0) as calls from pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database())
          and query !~* '^\\s*(begin|commit|rollback|start transaction)'`,
    )
    .then((result) => Number((result.rows[0] as { calls: string }).calls))
    .catch(() => undefined);
  const backends = (
    await client.query("select pid, backend_type from pg_stat_activity where datname = current_database()")
  ).rows as Array<{ pid: number; backend_type: string }>;
  const backendCpu = new Map<number, number>();
  const ownWorkers = new Set<number>();
  for (const { pid, backend_type } of backends) {
    const seconds = processStat(pid)?.seconds;
    if (seconds !== undefined) backendCpu.set(pid, seconds);
    if (backend_type !== "client backend") ownWorkers.add(pid);
  }
  return { transactions: Number(stats?.transactions ?? 0), statements, backendCpu, ownWorkers };
}

/** Calls so far of each statement text PostgreSQL normalised (pg_stat_statements), by query id; empty without it. */
export async function statementCalls(
  client: pg.Client,
): Promise<Map<string, { calls: number; query: string }>> {
  const rows = await client
    .query(
      `select queryid::text as id, calls::float8 as calls, query from pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database())
          and query !~* '^\\s*(begin|commit|rollback|start transaction)'`,
    )
    .then((result) => result.rows as Array<{ id: string; calls: number; query: string }>)
    .catch(() => []);
  return new Map(rows.map(({ id, calls, query }) => [id, { calls, query }]));
}

/** The `top` statements run most often between two {@link statementCalls}, per unit, one line each. */
export function topStatements(
  before: Map<string, { calls: number; query: string }>,
  after: Map<string, { calls: number; query: string }>,
  units: number,
  top = 15,
): string[] {
  return [...after]
    .map(([id, { calls, query }]) => ({ calls: calls - (before.get(id)?.calls ?? 0), query }))
    .filter(({ calls }) => calls > 0)
    .sort((a, b) => b.calls - a.calls)
    .slice(0, top)
    .map(({ calls, query }) => `${(calls / units).toFixed(2)}  ${query.replace(/\s+/g, " ").slice(0, 150)}`);
}

/** The counters' growth from `before` to `after`; backends that ended between are not counted. */
export function countersBetween(
  before: DatabaseCounters,
  after: DatabaseCounters,
): { transactions: number; statements: number | undefined; cpuSeconds: number; workersCpuSeconds: number } {
  let cpuSeconds = 0;
  let workersCpuSeconds = 0;
  for (const [pid, seconds] of after.backendCpu) {
    const spent = seconds - (before.backendCpu.get(pid) ?? 0);
    cpuSeconds += spent;
    if (after.ownWorkers.has(pid)) workersCpuSeconds += spent;
  }
  return {
    workersCpuSeconds,
    transactions: after.transactions - before.transactions,
    statements:
      after.statements === undefined || before.statements === undefined
        ? undefined
        : after.statements - before.statements,
    cpuSeconds,
  };
}

/** PostgreSQL publishes a busy session's counts up to a second after its transaction. */
export const STATS_DELAY_MS = 1_500;

/**
 * An idle session's counts, though, only up to 10 s later (PGSTAT_IDLE_INTERVAL), or when it ends:
 * counts read sooner miss them, and an idle window that follows takes them for idle work (measured
 * in the trial benchmark: about 100 commits of the PlaceOrder phase showing up 4–8 s after it, as
 * the pools closed their idle connections). Read the CPU sooner, while the sessions still exist.
 */
export const COUNTS_DELAY_MS = 11_000;

export const pause = (ms: number): Promise<void> => new Promise((resume) => setTimeout(resume, ms));

/** The database's counters and the all-in-one's CPU seconds at one moment (see {@link meter}). */
export interface Sample {
  readonly db: DatabaseCounters;
  readonly appCpu: number;
  readonly at: number;
}

/** What the database, its sessions and the all-in-one did between two samples. */
export type Work = ReturnType<typeof countersBetween> & { readonly appCpu: number; readonly seconds: number };

/**
 * Samples the run's database (through `client`, connected to it) and the CPU of the process
 * `appPid()` names (the all-in-one): `between` two samples is the work done meanwhile.
 */
export function meter(client: pg.Client, appPid: () => number) {
  return {
    sample: async (): Promise<Sample> => ({
      db: await databaseCounters(client),
      appCpu: cpuSeconds(appPid())?.app ?? Number.NaN,
      at: performance.now(),
    }),
    between: (from: Sample, to: Sample): Work => ({
      ...countersBetween(from.db, to.db),
      appCpu: to.appCpu - from.appCpu,
      seconds: (to.at - from.at) / 1000,
    }),
  };
}

/**
 * A phase's work per unit (an order, a Reserve), with what `idle` did in as long a time subtracted:
 * statements and transactions, and the CPU milliseconds of the all-in-one and of its PostgreSQL
 * sessions (from `cpu`, the same phase read sooner, when given).
 */
export function perUnit(phase: Work, idle: Work, units: number, cpu: Work = phase) {
  const per = (count: number | undefined, idleCount: number | undefined, seconds = phase.seconds) =>
    count === undefined || idleCount === undefined
      ? undefined
      : (count - (idleCount / idle.seconds) * seconds) / units;
  return {
    statements: per(phase.statements, idle.statements),
    transactions: per(phase.transactions, idle.transactions),
    appMs: (per(cpu.appCpu, idle.appCpu, cpu.seconds) ?? Number.NaN) * 1000,
    postgresMs: (per(cpu.cpuSeconds, idle.cpuSeconds, cpu.seconds) ?? Number.NaN) * 1000,
  };
}

/**
 * Waits until what a phase set off is through: until, in one second, the database runs no more
 * statements (transactions where statements are not counted) than `idle` did a second, and a few
 * more. At most `timeoutMs`; answers whether it became quiet.
 */
export async function untilQuiet(client: pg.Client, idle: Work, timeoutMs = 60_000): Promise<boolean> {
  const count = (counters: DatabaseCounters) => counters.statements ?? counters.transactions;
  const idlePerSecond = (idle.statements ?? idle.transactions) / idle.seconds;
  const deadline = performance.now() + timeoutMs;
  let last = await databaseCounters(client);
  while (performance.now() < deadline) {
    await pause(1_000);
    const now = await databaseCounters(client);
    if (count(now) - count(last) <= idlePerSecond * 1.2 + 5) return true;
    last = now;
  }
  return false;
}

/**
 * One line per target: `target <name>: <measured> (goal <op> <goal>) met`, or `not met` with how
 * far off it is. `measured` undefined prints `not measured` and why.
 */
export function target(
  name: string,
  measured: number | undefined,
  op: "<=" | ">=",
  goal: number,
  unit = "",
  why = "",
): string {
  const show = (value: number) => `${Number(value < 10 ? value.toPrecision(3) : value.toFixed(1))}${unit}`;
  if (measured === undefined || Number.isNaN(measured))
    return `target ${name}: not measured${why ? ` (${why})` : ""} (goal ${op} ${show(goal)})`;
  const met = op === "<=" ? measured <= goal : measured >= goal;
  const off = op === "<=" ? measured / goal : goal / measured;
  return `target ${name}: ${show(measured)} (goal ${op} ${show(goal)}) ${met ? "met" : `not met, ${off.toFixed(2)}x off`}`;
}

/**
 * Calls a freshly started process gets before it is measured, so that V8 has compiled its hot code.
 * Measured (2026-12-07): the bare Connect server answered 1,293 calls a second in its first 600
 * calls, 2,380/s in the next 600 and 2,900–3,020/s from then on; the order service's compiler
 * threads spent about a third as much CPU as its main thread in its first 500 calls and a seventh
 * once past 3,000. Every side of a ratio gets the same warm-up.
 */
export const WARM_UP_CALLS = 1_500;

/**
 * The bare Connect server of `./hexa benchmark connect` (bare-connect-server.ts), started for the run
 * and stopped by `cleanups`, with a call to it: what any RPC through Connect JSON reaches here.
 * Answers once the server is warm ({@link WARM_UP_CALLS} calls at `concurrency`).
 */
export async function bareConnect(
  cleanups: Cleanups,
  concurrency: number,
): Promise<{ call: () => Promise<unknown>; pid: number }> {
  const port = await freePort();
  const server = spawn(
    process.execPath,
    [fileURLToPath(new URL("bare-connect-server.ts", import.meta.url)), String(port)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  cleanups.add(async () => {
    if (server.exitCode !== null) return;
    server.kill("SIGTERM");
    await once(server, "exit");
  });
  const [started] = await Promise.race([once(server.stdout, "data"), once(server, "exit")]);
  if (!String(started).includes("listening")) throw new Error("the bare Connect server did not start");
  const orders = createClient(OrderService, jsonTransport(`http://127.0.0.1:${port}`));
  const call = () => orders.getOrder({ orderId: "any" });
  await closedLoop(WARM_UP_CALLS, concurrency, call);
  return { call, pid: server.pid ?? 0 };
}

/**
 * A fresh database (see `freshDatabase`) and the all-in-one serving it with NATS. Everything is
 * undone by `cleanups`. `env` overrides its environment (e.g. the shipped limits, for a surge).
 */
export async function allInOneWithNats(
  name: string,
  cleanups: Cleanups,
  env: Readonly<Record<string, string>> = {},
): Promise<{
  app: RunningApp;
  databaseUrl: string;
  /** Starts one service of the run on its database and streams; `env` adds to its environment. */
  startService: (service: string, env?: Readonly<Record<string, string>>) => Promise<RunningApp>;
}> {
  const databaseUrl = await freshDatabase(name, cleanups);
  log(`starting the all-in-one with NATS at ${NATS_URL}`);
  // The run's streams go with it; cleanups run in reverse, so this runs after the app has stopped.
  const namespace = `bench${Date.now().toString(36)}`;
  cleanups.add(async () => {
    const deleted = await deleteNamespaceStreams(NATS_URL, namespace);
    log(`deleted the run's ${deleted} streams from NATS`);
  });
  /** Starts one app of the run (the all-in-one, or one service alone) on its database and streams. */
  const startService = async (service: string, serviceEnv: Readonly<Record<string, string>> = {}) => {
    const app = await startApp(
      service,
      {
        PORT: String(await freePort()),
        DATABASE_URL: databaseUrl,
        NATS_URL,
        BUS_NAMESPACE: namespace,
        // The benchmarks measure; they must not be shed, nor held to one caller's rate.
        MAX_IN_FLIGHT: "100000",
        RATE_LIMIT_PER_SECOND: "1000000",
        RATE_LIMIT_BURST: "1000000",
        AUTH_DEV_KEY_DIR: devKeyDir(),
        LOG_LEVEL: "warn",
        // E.g. BENCHMARK_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/profiles" to profile the all-in-one.
        ...(process.env.BENCHMARK_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCHMARK_NODE_OPTIONS } : {}),
        ...env,
        ...serviceEnv,
      },
      60_000,
    );
    cleanups.add(() => app.stop());
    return app;
  };
  return { app: await startService("all-in-one"), databaseUrl, startService };
}

/** Runs a benchmark's main, always undoing what it set up, and sets the exit code. */
export async function runBenchmark(main: (cleanups: Cleanups) => Promise<void>): Promise<void> {
  const cleanups = new Cleanups();
  try {
    await main(cleanups);
  } catch (error) {
    console.error(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
    process.exitCode = 1;
  } finally {
    await cleanups.run();
  }
}
