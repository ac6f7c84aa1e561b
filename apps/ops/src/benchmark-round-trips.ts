// `./hexa benchmark round-trips`: what one unit of work costs the client and PostgreSQL, by how its
// statements reach the server. The data path's three choices, each against the one before it:
//
// - the transport: TCP on 127.0.0.1, or the server's Unix socket;
// - statements with parameters sent unnamed (parsed and planned at every call) or prepared once
//   per connection (bound to the kept plan afterwards);
// - a unit's two writes sent one by one, or held and sent as one statement (`with w1 as (…) …`);
// - BEGIN and COMMIT in round trips of their own, or sent with the first and the last statement
//   (the services' pg client, packages/adapters/src/postgres/client.ts);
// - and last, the same unit as the services run it: through the kit's unit of work, in MikroORM's
//   transaction on its pool, the two writes held and sent with the COMMIT (over the socket only).
//
// A unit is BEGIN, two single-row upserts into two tables, COMMIT: the shape of a save and its outbox
// insert. Each form runs UNITS units at CONCURRENCY connections, ROUNDS times interleaved, on an
// embedded PostgreSQL of its own (the socket needs the server on this machine). The CPU figures are
// the client's own (process.cpuUsage) and the connections' server processes' (/proc).
//
//   ./hexa benchmark round-trips [--units 4000] [--concurrency 8] [--rounds 3]
import { holdWrite } from "@hexa/adapters/kit/statements";
import { serviceClient, thenCommit } from "@hexa/adapters/postgres/client";
import { openServiceDatabase } from "@hexa/adapters/postgres/database";
import { startTemporaryPostgres } from "@hexa/adapters/postgres/embedded";
import { freePort } from "@hexa/testing/global-setup";
import pg from "pg";
import { pino } from "pino";
import { log, processCpuSeconds, runBenchmark } from "./benchmarking.ts";
import { commandLine, wholeNumber } from "./cli.ts";

const usage = `usage: ./hexa benchmark round-trips [--units 4000] [--concurrency 8] [--rounds 3]

The CPU one unit of work (BEGIN, two upserts, COMMIT) costs the client and PostgreSQL over TCP and
over the Unix socket, with its statements unnamed, prepared, its two writes in one statement, and its
BEGIN and COMMIT sent with that statement, on an embedded PostgreSQL of its own.`;

const { values: flags } = commandLine(usage, {
  units: { type: "string", default: "4000" },
  concurrency: { type: "string", default: "8" },
  rounds: { type: "string", default: "3" },
});
const UNITS = wholeNumber("--units", flags.units, usage);
const CONCURRENCY = wholeNumber("--concurrency", flags.concurrency, usage);
const ROUNDS = wholeNumber("--rounds", flags.rounds, usage);

const ORDER =
  "insert into unit_order (id, status, at) values ($1, $2, $3) on conflict (id) do update set status = excluded.status, at = excluded.at";
const OUTBOX =
  "insert into unit_outbox (id, payload) values ($1, $2) on conflict (id) do update set payload = excluded.payload";
const TABLES = [
  "create table unit_order (id int primary key, status text, at timestamptz)",
  "create table unit_outbox (id int primary key, payload text)",
];
const KIT_FORM = "the kit's unit of work (MikroORM's transaction), as the services run it";
const BOTH = `with w1 as (${ORDER}) ${OUTBOX.replaceAll("$1", "$4").replaceAll("$2", "$5")}`;

type Unit = (client: pg.Client, i: number) => Promise<void>;
interface Form {
  /** The services' client (prepares by itself, sends BEGIN with the first statement), or pg's own. */
  readonly service: boolean;
  readonly unit: Unit;
}
const values = (i: number) => [i % 1_000, i % 2 ? "PLACED" : "DELIVERING", new Date()];
const inTransaction = async (client: pg.Client, work: () => Promise<unknown>) => {
  await client.query("begin");
  await work();
  await client.query("commit");
};
const forms: Record<string, Form> = {
  "two writes, unnamed": {
    service: false,
    unit: (client, i) =>
      inTransaction(client, async () => {
        await client.query(ORDER, values(i));
        await client.query(OUTBOX, [i % 1_000, "{}"]);
      }),
  },
  "two writes, prepared": {
    service: false,
    unit: (client, i) =>
      inTransaction(client, async () => {
        await client.query({ name: "order", text: ORDER, values: values(i) });
        await client.query({ name: "outbox", text: OUTBOX, values: [i % 1_000, "{}"] });
      }),
  },
  "one statement, prepared": {
    service: false,
    unit: (client, i) =>
      inTransaction(client, () =>
        client.query({ name: "both", text: BOTH, values: [...values(i), i % 1_000, "{}"] }),
      ),
  },
  "one statement, prepared, BEGIN with it": {
    service: true,
    unit: (client, i) => inTransaction(client, () => client.query(BOTH, [...values(i), i % 1_000, "{}"])),
  },
  "one statement, prepared, BEGIN and COMMIT with it": {
    service: true,
    unit: (client, i) =>
      inTransaction(client, () => client.query(thenCommit(BOTH), [...values(i), i % 1_000, "{}"])),
  },
};

interface Connections {
  readonly clients: pg.Client[];
  readonly pids: number[];
}

async function connect(url: string, Client: typeof pg.Client = pg.Client): Promise<Connections> {
  const clients: pg.Client[] = [];
  const pids: number[] = [];
  for (let i = 0; i < CONCURRENCY; i++) {
    const client = new Client({ connectionString: url });
    await client.connect();
    pids.push((await client.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid ?? 0);
    clients.push(client);
  }
  return { clients, pids };
}

/**
 * UNITS units, CONCURRENCY at a time (`unit(lane, i)`), served by the server processes `pids`; the
 * rate and the CPU per unit of each side.
 */
async function measure(pids: readonly number[], unit: (lane: number, i: number) => Promise<unknown>) {
  const serverSeconds = () => pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0);
  const server = serverSeconds();
  const client = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, lane) => {
      while (next < UNITS) await unit(lane, next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(client);
  return {
    rate: UNITS / seconds,
    clientUs: (used.user + used.system) / UNITS,
    serverUs: ((serverSeconds() - server) * 1e6) / UNITS,
  };
}

await runBenchmark(async (cleanups) => {
  const embedded = await startTemporaryPostgres({ port: await freePort() });
  cleanups.add(() => embedded.stop());
  log("PostgreSQL: embedded, reached over TCP and over its Unix socket");
  const ServiceClient = serviceClient(5_000);
  const transports: Record<string, { plain: Connections; service: Connections }> = {};
  for (const [transport, url] of [
    ["TCP", embedded.url],
    ["Unix socket", embedded.socketUrl],
  ] as const) {
    transports[transport] = { plain: await connect(url), service: await connect(url, ServiceClient) };
  }
  for (const { plain, service } of Object.values(transports))
    cleanups.add(() => Promise.all([...plain.clients, ...service.clients].map((client) => client.end())));
  const [setup] = transports.TCP?.plain.clients ?? [];
  for (const table of TABLES) await setup?.query(table);

  // The kit's unit of work on a service database of its own schema, its pool as large as the lanes.
  const kit = await openServiceDatabase({
    url: embedded.socketUrl,
    schema: "unit_kit",
    entities: [],
    migrations: [{ name: "0001_unit_tables", sql: TABLES }],
    logger: pino({ level: "warn" }),
    poolSize: CONCURRENCY,
  });
  cleanups.add(() => kit.close());
  const inKit = (sql: string) => sql.replace(/into (unit_\w+)/, `into ${kit.schema}.$1`);
  const kitUnit = (i: number) =>
    kit.unitOfWork(async ({ em }) => {
      await holdWrite(em, { table: "unit_order", sql: inKit(ORDER), params: values(i) });
      await holdWrite(em, { table: "unit_outbox", sql: inKit(OUTBOX), params: [i % 1_000, "{}"] });
    });
  /** The server processes of the kit's pool: the database's sessions that are none of the others'. */
  const kitPids = async () => {
    const others = Object.values(transports).flatMap(({ plain, service }) => [
      ...plain.pids,
      ...service.pids,
    ]);
    const sessions = await setup?.query<{ pid: number }>(
      "select pid from pg_stat_activity where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()",
    );
    return (sessions?.rows ?? []).map(({ pid }) => pid).filter((pid) => !others.includes(pid));
  };

  const rows: string[] = [];
  const row = (
    round: number,
    transport: string,
    form: string,
    measured: Awaited<ReturnType<typeof measure>>,
  ) =>
    rows.push(
      `| ${round} | ${transport} | ${form} | ${measured.rate.toFixed(0)}/s | ${measured.clientUs.toFixed(0)} µs | ${measured.serverUs.toFixed(0)} µs | ${(measured.clientUs + measured.serverUs).toFixed(0)} µs |`,
    );
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [transport, { plain, service }] of Object.entries(transports)) {
      for (const [form, { service: onService, unit }] of Object.entries(forms)) {
        log(`round ${round}: ${transport}, ${form}`);
        const { clients, pids } = onService ? service : plain;
        const onLane = (lane: number, i: number) => unit(clients[lane] as pg.Client, i);
        if (round === 1) await measure(pids, onLane); // warm-up: plans, JIT, connections
        row(round, transport, form, await measure(pids, onLane));
      }
    }
    log(`round ${round}: Unix socket, ${KIT_FORM}`);
    // Every round: the pool closes connections idle meanwhile, and the ones measured must be open.
    await measure([], kitUnit);
    row(round, "Unix socket", KIT_FORM, await measure(await kitPids(), kitUnit));
  }
  console.log(
    [
      `round-trips benchmark (${new Date().toISOString()}, node ${process.version}, ${UNITS} units a form, concurrency ${CONCURRENCY})`,
      "",
      "| round | transport | a unit's statements | units | client CPU per unit | PostgreSQL CPU per unit | both |",
      "|---|---|---|---|---|---|---|",
      ...rows,
    ].join("\n"),
  );
});
