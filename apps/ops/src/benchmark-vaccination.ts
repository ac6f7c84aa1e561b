// `./hexa benchmark vaccination`: Reserve figures on this machine, each against a baseline measured
// in the same run on the same PostgreSQL, and a check that nothing was overbooked.
//
// 1. Contended: every call books at ONE hospital, vaccine and date, holding DOSES doses.
// 2. Spread: calls spread over HOSPITALS hospitals, each with its own dates.
// For each: the baseline is a raw single-row `UPDATE … SET remaining = remaining - 1 WHERE … AND
// remaining > 0` (one row, or one row per hospital) at the same concurrency; Reserve goes through
// Connect JSON, reservation's synchronous booking call to inventory (behind its breaker), and both
// services' transactions. Printed: throughput, p50 and p99, outcomes, and the ratio (target >= 0.4x).
// The ceiling: GetReservation calls turned away at validation, before any database or bus, show
// what any RPC through this client and server can reach on this machine.
// Over both phases, until the events' consumers (vaccination's replica, notification, the
// dashboard, inventory's confirmation of the hold) are through: the statements and transactions per
// Reserve (pg_stat_statements, pg_stat_database) and the CPU per Reserve of the all-in-one and its
// database sessions (/proc), the idle background subtracted.
// Then the overbooking check: per hospital, REGISTERED reservations <= doses, and per date <= capacity.
// Then reservation with inventory alone: the all-in-one stopped, the reservation and inventory
// services started by themselves (Reserve needs inventory's answer; the events' other consumers do
// not run, their events wait in JetStream), both phases again, against a bare Connect server
// (bare-connect-server.ts) measured in the same run. The main part ends with one
// `target …: … met|not met` line per target.
//
// 3. Surge (launch day): a second all-in-one with the shipped limits (MAX_IN_FLIGHT, the per-caller
// rate limit, the queue), SURGE_PEOPLE people with tokens of their own pressing Reserve at once for
// SURGE_DOSES doses at one hospital. Printed: the outcomes, p50/p99/max answer time, the breaker's
// state changes, a booking at another hospital right after, and each target as met or not met.
// It starts the all-in-one itself, with NATS (NATS_URL) and a fresh database on DATABASE_URL's
// server (default: an embedded PostgreSQL it starts). Bounded: a fixed number of calls to 127.0.0.1.
//
//   ./hexa benchmark vaccination [--calls 600] [--concurrency 16] [--doses 300] [--hospitals 20]
//                                [--surge-people 1000] [--surge-doses 100] [--idle 3]
import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { readEnvironment } from "@hexa/adapters/runtime/config";
import { INVENTORY_CALL } from "@hexa/adapters/vaccination/reservation/module";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  ReservationService,
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { freePort } from "@hexa/testing/global-setup";
import pg from "pg";
import {
  allInOneWithNats,
  bareConnect,
  type Cleanups,
  ceiling,
  closedLoop,
  cpuSplit,
  log,
  meter,
  ms,
  pause,
  perUnit,
  ratioLimits,
  runBenchmark,
  STATS_DELAY_MS,
  statementCalls,
  summary,
  target,
  topStatements,
  untilQuiet,
  WARM_UP_CALLS,
} from "./benchmarking.ts";
import { commandLine, wholeNumber } from "./cli.ts";
import { jsonTransport } from "./clients.ts";
import { callingAs, devToken } from "./dev-tokens.ts";

const usage = `usage: ./hexa benchmark vaccination [--calls 600] [--concurrency 16] [--doses 300] [--hospitals 20]
                                    [--surge-people 1000] [--surge-doses 100] [--idle 3]

Reserve throughput and latency against a raw UPDATE baseline, statements and CPU per Reserve, an
overbooking check, Reserve with reservation and inventory alone against a bare Connect call, then a
launch-day surge with the shipped limits. Starts its own all-in-ones on free ports with NATS_URL
(default nats://127.0.0.1:4222) and fresh databases on DATABASE_URL's server (default: an embedded
PostgreSQL of its own).`;

const { values: flags } = commandLine(usage, {
  calls: { type: "string", default: "600" },
  concurrency: { type: "string", default: "16" },
  doses: { type: "string", default: "300" },
  hospitals: { type: "string", default: "20" },
  "surge-people": { type: "string", default: "1000" },
  "surge-doses": { type: "string", default: "100" },
  idle: { type: "string", default: "3" },
});
const CALLS = wholeNumber("--calls", flags.calls, usage);
const CONCURRENCY = wholeNumber("--concurrency", flags.concurrency, usage);
const DOSES = wholeNumber("--doses", flags.doses, usage);
const HOSPITALS = wholeNumber("--hospitals", flags.hospitals, usage);
const SURGE_PEOPLE = wholeNumber("--surge-people", flags["surge-people"], usage);
const SURGE_DOSES = wholeNumber("--surge-doses", flags["surge-doses"], usage);
const IDLE_SECONDS = wholeNumber("--idle", flags.idle, usage);
const NO_STATEMENTS = "pg_stat_statements is not preloaded on this PostgreSQL";

await runBenchmark(async (cleanups) => {
  const { app, databaseUrl, startService } = await allInOneWithNats("vaccination", cleanups);
  const counting = new pg.Client({ connectionString: databaseUrl });
  await counting.connect();
  cleanups.add(() => counting.end());
  const { sample, between } = meter(counting, () => app.process.pid ?? 0);
  // One admin token for every call: a service verifies it once and remembers it until it expires.
  const admin = (url: string) => jsonTransport(url, [callingAs("admin", "benchmark")]);
  let inventory = createClient(InventoryService, admin(app.url));
  let reservations = createClient(ReservationService, admin(app.url));
  const { vaccine } = await inventory.registerVaccine({ name: "bench", vials: 1_000_000, dosesRequired: 2 });
  const vaccineId = vaccine?.vaccineId ?? "";

  /** A hospital holding `doses` bookable doses, with room for every call on any date. */
  async function hospitalWith(doses: number): Promise<string> {
    const { hospital } = await inventory.registerHospital({
      name: `bench ${randomUUID()}`,
      dailyCapacity: 100_000,
    });
    const hospitalId = hospital?.hospitalId ?? "";
    const { supply } = await inventory.supplyVaccine({ hospitalId, vaccineId, vials: doses });
    await inventory.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses });
    return hospitalId;
  }
  /** One hospital holding DOSES doses, and HOSPITALS sharing them. */
  async function hospitals() {
    const contended = await hospitalWith(DOSES);
    const spread: string[] = [];
    for (let h = 0; h < HOSPITALS; h++) spread.push(await hospitalWith(perHospital));
    return { contended, spread };
  }
  const perHospital = Math.ceil(DOSES / HOSPITALS);
  const date = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);

  const pool = new pg.Pool({ connectionString: databaseUrl, max: CONCURRENCY });
  cleanups.add(() => pool.end());
  await pool.query("create table bench_stock (id int primary key, remaining int not null)");

  /** The raw baseline over `rows` rows, each starting at `remaining`. */
  async function baseline(rows: number, remaining: number) {
    await pool.query("truncate bench_stock");
    await pool.query("insert into bench_stock select g, $1 from generate_series(1, $2) g", [remaining, rows]);
    let taken = 0;
    const run = await closedLoop(CALLS, CONCURRENCY, async (i) => {
      const result = await pool.query(
        "update bench_stock set remaining = remaining - 1 where id = $1 and remaining > 0",
        [(i % rows) + 1],
      );
      taken += result.rowCount ?? 0;
    });
    return { ...run, taken };
  }

  /** CALLS Reserve calls by people `<phase>-<i>` (one reservation of a vaccine each); outcomes counted. */
  async function reserving(phase: string, hospitalOf: (i: number) => string) {
    const outcomes = new Map<string, number>();
    const count = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    const run = await closedLoop(CALLS, CONCURRENCY, async (i) => {
      const reply = await reservations.reserve({
        personId: `${phase}-${i}`,
        hospitalId: hospitalOf(i),
        vaccineId,
        date,
      });
      count(
        reply.outcome.case === "reservation"
          ? "booked"
          : `waitlist ${WaitlistOffer_Reason[reply.outcome.value?.reason ?? 0]}`,
      );
    });
    return { ...run, outcomes };
  }
  const warmUp = async (phase: string, calls = WARM_UP_CALLS) => {
    const warm = await hospitalWith(calls);
    await closedLoop(calls, CONCURRENCY, (i) =>
      reservations.reserve({ personId: `${phase}-${i}`, hospitalId: warm, vaccineId, date }),
    );
  };

  log("warm-up");
  await warmUp("warm");

  log(`idle: ${IDLE_SECONDS} s with nothing to do`);
  await pause(STATS_DELAY_MS);
  const idleStart = await sample();
  await pause(IDLE_SECONDS * 1000);
  const idle = between(idleStart, await sample());

  log(`bare Connect: ${CALLS} calls to a Connect server that answers at once`);
  const bare = await bareConnect(cleanups, CONCURRENCY);
  const {
    result: bareRun,
    text: bareCpu,
    serverMs: bareServerMs,
    perUnit: bareSplit,
  } = await cpuSplit(CALLS, [bare.pid], () => closedLoop(CALLS, CONCURRENCY, bare.call));

  log(`ceiling: ${CALLS} GetReservation calls that fail validation (no database, no bus)`);
  const refusals = await ceiling(CALLS, CONCURRENCY, () =>
    reservations.getReservation({ reservationId: "not-a-reservation-id" }),
  );

  log(`baselines: ${CALLS} UPDATEs of one row, then of ${HOSPITALS} rows, concurrency ${CONCURRENCY}`);
  const contendedBase = await baseline(1, DOSES);
  const spreadBase = await baseline(HOSPITALS, perHospital);
  const booked = await hospitals();

  log(
    `contended: ${CALLS} calls at one hospital and date holding ${DOSES} doses, concurrency ${CONCURRENCY}`,
  );
  const phaseBefore = await sample();
  const callsBefore = await statementCalls(counting);
  const contended = await reserving("contended", () => booked.contended);
  log(`spread: ${CALLS} calls over ${HOSPITALS} hospitals, concurrency ${CONCURRENCY}`);
  const spread = await reserving("spread", (i) => booked.spread[i % HOSPITALS] ?? "");
  log("waiting until the events' consumers are through");
  const through = await untilQuiet(counting, idle);
  await pause(STATS_DELAY_MS);
  const perReserve = perUnit(between(phaseBefore, await sample()), idle, 2 * CALLS);
  const topPerReserve = topStatements(callsBefore, await statementCalls(counting), 2 * CALLS);

  // Zero overbooking: reservation's REGISTERED reservations per hospital never exceed its doses,
  // and inventory's booked counts and date slots agree.
  const over = await pool.query<{ hospital_id: string; registered: number; doses: number }>(
    `select r.hospital_id, count(*)::int as registered, s.available as doses
       from vaccination_reservation.reservation r
       join vaccination_inventory.stock s on s.hospital_id = r.hospital_id and s.vaccine_id = r.vaccine_id
      where r.status = 'REGISTERED' and r.hospital_id = any($1)
      group by r.hospital_id, s.available
     having count(*) > s.available`,
    [[booked.contended, ...booked.spread]],
  );

  log("reservation and inventory alone: the all-in-one stopped, the events' consumers with it");
  await app.stop();
  // Each calls the other (inventory's hold-expiry job asks reservation), so reservation's port comes first.
  const reservationPort = String(await freePort());
  const inventoryAlone = await startService("inventory", {
    RESERVATION_URL: `http://127.0.0.1:${reservationPort}`,
  });
  const reservationAlone = await startService("reservation", {
    PORT: reservationPort,
    INVENTORY_URL: inventoryAlone.url,
  });
  inventory = createClient(InventoryService, admin(inventoryAlone.url));
  reservations = createClient(ReservationService, admin(reservationAlone.url));
  // Freshly started processes: as warm as the all-in-one was.
  await warmUp("alone-warm");
  const aloneBooked = await hospitals();
  const aloneServers = [reservationAlone.process.pid ?? 0, inventoryAlone.process.pid ?? 0];
  const {
    result: contendedAlone,
    text: contendedCpu,
    perUnit: contendedSplit,
  } = await cpuSplit(CALLS, aloneServers, () => reserving("alone-contended", () => aloneBooked.contended));
  const {
    result: spreadAlone,
    text: spreadCpu,
    perUnit: spreadSplit,
  } = await cpuSplit(CALLS, aloneServers, () =>
    reserving("alone-spread", (i) => aloneBooked.spread[i % HOSPITALS] ?? ""),
  );
  await reservationAlone.stop();
  await inventoryAlone.stop();

  const row = (label: string, run: { rate: number; latencies: number[] }) => {
    const s = summary(run.latencies);
    return `| ${label} | ${run.rate.toFixed(0)}/s | ${ms(s.p50)} | ${ms(s.p99)} |`;
  };
  const outcomes = (map: Map<string, number>) => [...map].map(([name, n]) => `${name} ${n}`).join(", ");
  const alone = "reservation and inventory alone (vaccination, notification, dashboard stopped)";
  const p99 = (run: { latencies: number[] }) => summary(run.latencies).p99;
  console.log(
    [
      `vaccination benchmark (${new Date().toISOString()}, node ${process.version}, concurrency ${CONCURRENCY}, ${CALLS} calls each)`,
      "",
      "| measure | throughput | p50 | p99 |",
      "|---|---|---|---|",
      row("bare Connect JSON call (no auth, no database)", bareRun),
      row("ceiling: GetReservation failing validation (Connect JSON, no database)", refusals),
      row(`baseline, one row: UPDATE … WHERE remaining > 0 (${contendedBase.taken} taken)`, contendedBase),
      row(`Reserve, one hospital and date (${DOSES} doses)`, contended),
      row(`baseline, ${HOSPITALS} rows (${spreadBase.taken} taken)`, spreadBase),
      row(`Reserve, ${HOSPITALS} hospitals (${perHospital} doses each)`, spread),
      row(`Reserve, one hospital and date, ${alone}`, contendedAlone),
      row(`Reserve, ${HOSPITALS} hospitals, ${alone}`, spreadAlone),
      "",
      `contended outcomes: ${outcomes(contended.outcomes)}`,
      `spread outcomes: ${outcomes(spread.outcomes)}`,
      `CPU per Reserve in bare calls: ${((perReserve.appMs + perReserve.postgresMs) / bareServerMs).toFixed(1)} (what the bare Connect server spends on as many calls; the machine's speed moves both alike)`,
      `CPU per call: bare Connect ${bareCpu}; Reserve alone (servers: reservation and inventory), contended ${contendedCpu}, spread ${spreadCpu}`,
      // Reserve is two RPCs: the client's to reservation, and reservation's booking call to inventory.
      ratioLimits("Reserve alone contended", bareSplit, contendedSplit, 2),
      ratioLimits("Reserve alone spread", bareSplit, spreadSplit, 2),
      `alone outcomes: contended ${outcomes(contendedAlone.outcomes)}; spread ${outcomes(spreadAlone.outcomes)}`,
      `Reserve / baseline: contended ${(contended.rate / contendedBase.rate).toFixed(2)}x, spread ${(spread.rate / spreadBase.rate).toFixed(2)}x (target >= 0.4x)`,
      `ceiling / baseline: contended ${(refusals.rate / contendedBase.rate).toFixed(2)}x, spread ${(refusals.rate / spreadBase.rate).toFixed(2)}x`,
      `per Reserve (contended and spread, whole chain, idle background subtracted): ${perReserve.statements?.toFixed(1) ?? "?"} statements, ${perReserve.transactions?.toFixed(2)} transactions; CPU all-in-one ${perReserve.appMs.toFixed(2)} ms + PostgreSQL sessions ${perReserve.postgresMs.toFixed(2)} ms${through ? "" : " (the consumers were not through within 60 s)"}`,
      "statements run most per Reserve (calls per Reserve, text as PostgreSQL normalised it):",
      ...topPerReserve.map((line) => `  ${line}`),
      `idle: ${idle.statements === undefined ? "?" : (idle.statements / idle.seconds).toFixed(1)} statements/s, ${(idle.transactions / idle.seconds).toFixed(1)} transactions/s`,
      `overbooked hospitals: ${over.rowCount} (must be 0)`,
      "",
      target("statements per Reserve", perReserve.statements, "<=", 25, "", NO_STATEMENTS),
      target("CPU per Reserve", perReserve.appMs + perReserve.postgresMs, "<=", 5, " ms"),
      target(
        "Reserve contended, reservation + inventory alone / bare Connect",
        contendedAlone.rate / bareRun.rate,
        ">=",
        0.15,
        "x",
      ),
      target(
        "Reserve spread, reservation + inventory alone / bare Connect",
        spreadAlone.rate / bareRun.rate,
        ">=",
        0.15,
        "x",
      ),
      target(
        `Reserve contended p99 at concurrency ${CONCURRENCY}, alone`,
        p99(contendedAlone),
        "<=",
        100,
        " ms",
      ),
      target(`Reserve spread p99 at concurrency ${CONCURRENCY}, alone`, p99(spreadAlone), "<=", 100, " ms"),
    ].join("\n"),
  );

  await surge(cleanups);
});

/** What a person is answered in the surge: booked, a waitlist reason, or an error code. */
type SurgeOutcome = string;

/**
 * Launch day: SURGE_PEOPLE people, each with a token of their own, press Reserve at once for
 * SURGE_DOSES doses at one hospital of an all-in-one running with the shipped limits.
 */
async function surge(cleanups: Cleanups): Promise<void> {
  const shipped = readEnvironment({});
  log(`surge: ${SURGE_PEOPLE} people at once for ${SURGE_DOSES} doses, with the shipped limits`);
  const { app } = await allInOneWithNats("vaccination_surge", cleanups, {
    MAX_IN_FLIGHT: String(shipped.MAX_IN_FLIGHT),
    RATE_LIMIT_PER_SECOND: String(shipped.RATE_LIMIT_PER_SECOND),
    RATE_LIMIT_BURST: String(shipped.RATE_LIMIT_BURST),
    // Info level: the breaker's every state change is logged.
    LOG_LEVEL: "info",
  });
  const manager = jsonTransport(app.url, [callingAs("admin", "benchmark")]);
  const inventory = createClient(InventoryService, manager);
  const { vaccine } = await inventory.registerVaccine({ name: "surge", vials: 100_000, dosesRequired: 1 });
  const vaccineId = vaccine?.vaccineId ?? "";
  const hospitalWith = async (doses: number) => {
    const { hospital } = await inventory.registerHospital({
      name: `surge ${randomUUID()}`,
      dailyCapacity: 100_000,
    });
    const hospitalId = hospital?.hospitalId ?? "";
    const { supply } = await inventory.supplyVaccine({ hospitalId, vaccineId, vials: doses });
    await inventory.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses });
    return hospitalId;
  };
  const busy = await hospitalWith(SURGE_DOSES);
  const quiet = await hospitalWith(10);
  const date = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  const person = async (personId: string) =>
    createClient(ReservationService, jsonTransport(app.url, [bearer(await devToken(["person"], personId))]));
  // Tokens are signed before the surge: the surge measures the calls only.
  const people = await Promise.all(
    Array.from({ length: SURGE_PEOPLE }, async (_, i) => ({
      personId: `surge-${i}`,
      client: await person(`surge-${i}`),
    })),
  );

  const answers = await Promise.all(
    people.map(async ({ personId, client }) => {
      const started = performance.now();
      const outcome: SurgeOutcome = await client
        .reserve({ personId, hospitalId: busy, vaccineId, date })
        .then(
          (reply) =>
            reply.outcome.case === "reservation"
              ? "booked"
              : `waitlist ${WaitlistOffer_Reason[reply.outcome.value?.reason ?? 0]}`,
          (error: unknown) => `error ${Code[ConnectError.from(error).code]}`,
        );
      return { outcome, ms: performance.now() - started };
    }),
  );
  const lateStarted = performance.now();
  const late = await (await person("surge-late")).reserve({
    personId: "surge-late",
    hospitalId: quiet,
    vaccineId,
    date,
  });
  const lateMs = performance.now() - lateStarted;

  const counts = new Map<SurgeOutcome, number>();
  for (const { outcome } of answers) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  const times = summary(answers.map(({ ms }) => ms));
  const changes = app
    .output()
    .split("\n")
    .filter((line) => line.includes('"circuit breaker state changed"'))
    .map((line) => {
      const { from, to } = JSON.parse(line) as { from: string; to: string };
      return `${from} -> ${to}`;
    });
  // The documented bound: admission queue, then a booking call's turn, then its budget.
  const bound = shipped.MAX_QUEUE_WAIT_MS + INVENTORY_CALL.concurrency.maxWaitMs + INVENTORY_CALL.budgetMs;
  const booked = counts.get("booked") ?? 0;
  const noDoses = (counts.get("waitlist NO_DOSES") ?? 0) + (counts.get("waitlist DATE_FULL") ?? 0);
  const unavailable = counts.get("waitlist INVENTORY_UNAVAILABLE") ?? 0;
  console.log(
    [
      "",
      `surge (${new Date().toISOString()}): ${SURGE_PEOPLE} people at once for ${SURGE_DOSES} doses, MAX_IN_FLIGHT ${shipped.MAX_IN_FLIGHT}, rate limit ${shipped.RATE_LIMIT_PER_SECOND}/s burst ${shipped.RATE_LIMIT_BURST} per caller`,
      `outcomes: ${[...counts].map(([name, n]) => `${name} ${n}`).join(", ")}`,
      `answer time: p50 ${ms(times.p50)}, p99 ${ms(times.p99)}, max ${ms(times.max)}`,
      `breaker state changes: ${changes.length === 0 ? "none" : changes.join(", ")}`,
      `another hospital right after: ${late.outcome.case === "reservation" ? "booked" : `waitlist ${WaitlistOffer_Reason[late.outcome.value?.reason ?? 0]}`} in ${ms(lateMs)}`,
      // No more than the doses can be booked (the overbooking checks prove it), so ">=" means "=".
      target("booked", booked, ">=", SURGE_DOSES),
      target("no doses or date full", noDoses, ">=", SURGE_PEOPLE - SURGE_DOSES),
      target("inventory unavailable", unavailable, "<=", 0),
      target("slowest answer", times.max, "<=", bound, " ms"),
      target("breaker state changes", changes.length, "<=", 0),
      target("another hospital right after, booked", late.outcome.case === "reservation" ? 1 : 0, ">=", 1),
    ].join("\n"),
  );
}

function bearer(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
