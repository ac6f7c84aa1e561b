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
// Then the overbooking check: per hospital, REGISTERED reservations <= doses, and per date <= capacity.
//
// It starts the all-in-one itself, with NATS (NATS_URL) and a fresh database on DATABASE_URL's
// server (default: an embedded PostgreSQL it starts). Bounded: a fixed number of calls to 127.0.0.1.
//
//   ./hexa benchmark vaccination [--calls 1000] [--concurrency 16] [--doses 500] [--hospitals 20]
import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  ReservationService,
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import pg from "pg";
import { allInOneWithNats, ceiling, closedLoop, log, ms, runBenchmark, summary } from "./benchmarking.ts";
import { commandLine, wholeNumber } from "./cli.ts";
import { jsonTransport } from "./clients.ts";
import { callingAs } from "./dev-tokens.ts";

const usage = `usage: ./hexa benchmark vaccination [--calls 1000] [--concurrency 16] [--doses 500] [--hospitals 20]

Reserve throughput and latency against a raw UPDATE baseline, then an overbooking check. Starts its
own all-in-one on a free port with NATS_URL (default nats://127.0.0.1:4222) and a fresh database on
DATABASE_URL's server (default: an embedded PostgreSQL of its own).`;

const { values: flags } = commandLine(usage, {
  calls: { type: "string", default: "1000" },
  concurrency: { type: "string", default: "16" },
  doses: { type: "string", default: "500" },
  hospitals: { type: "string", default: "20" },
});
const CALLS = wholeNumber("--calls", flags.calls, usage);
const CONCURRENCY = wholeNumber("--concurrency", flags.concurrency, usage);
const DOSES = wholeNumber("--doses", flags.doses, usage);
const HOSPITALS = wholeNumber("--hospitals", flags.hospitals, usage);

await runBenchmark(async (cleanups) => {
  const { app, databaseUrl } = await allInOneWithNats("vaccination", cleanups);
  // One admin token for every call: a service verifies it once and remembers it until it expires.
  const transport = jsonTransport(app.url, [callingAs("admin", "benchmark")]);
  const inventory = createClient(InventoryService, transport);
  const reservations = createClient(ReservationService, transport);
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

  /** CALLS Reserve calls; hospital `hospitalOf(i)`; outcomes counted. */
  async function reserving(hospitalOf: (i: number) => string) {
    const outcomes = new Map<string, number>();
    const count = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    const run = await closedLoop(CALLS, CONCURRENCY, async (i) => {
      const reply = await reservations.reserve({
        personId: `person-${i}`,
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

  log("warm-up");
  const warm = await hospitalWith(100);
  await closedLoop(100, CONCURRENCY, (i) =>
    reservations.reserve({ personId: `warm-${i}`, hospitalId: warm, vaccineId, date }),
  );

  log(`ceiling: ${CALLS} GetReservation calls that fail validation (no database, no bus)`);
  const refusals = await ceiling(CALLS, CONCURRENCY, () =>
    reservations.getReservation({ reservationId: "not-a-reservation-id" }),
  );

  log(
    `contended: ${CALLS} calls at one hospital and date holding ${DOSES} doses, concurrency ${CONCURRENCY}`,
  );
  const contendedBase = await baseline(1, DOSES);
  const contendedHospital = await hospitalWith(DOSES);
  const contended = await reserving(() => contendedHospital);

  log(`spread: ${CALLS} calls over ${HOSPITALS} hospitals, concurrency ${CONCURRENCY}`);
  const perHospital = Math.ceil(DOSES / HOSPITALS);
  const spreadBase = await baseline(HOSPITALS, perHospital);
  const spreadHospitals: string[] = [];
  for (let h = 0; h < HOSPITALS; h++) spreadHospitals.push(await hospitalWith(perHospital));
  const spread = await reserving((i) => spreadHospitals[i % HOSPITALS] ?? "");

  // Zero overbooking: reservation's REGISTERED reservations per hospital never exceed its doses,
  // and inventory's booked counts and date slots agree.
  const over = await pool.query<{ hospital_id: string; registered: number; doses: number }>(
    `select r.hospital_id, count(*)::int as registered, s.available as doses
       from vaccination_reservation.reservation r
       join vaccination_inventory.stock s on s.hospital_id = r.hospital_id and s.vaccine_id = r.vaccine_id
      where r.status = 'REGISTERED' and r.hospital_id = any($1)
      group by r.hospital_id, s.available
     having count(*) > s.available`,
    [[contendedHospital, ...spreadHospitals]],
  );
  const row = (label: string, run: { rate: number; latencies: number[] }) => {
    const s = summary(run.latencies);
    return `| ${label} | ${run.rate.toFixed(0)}/s | ${ms(s.p50)} | ${ms(s.p99)} |`;
  };
  const outcomes = (map: Map<string, number>) => [...map].map(([name, n]) => `${name} ${n}`).join(", ");
  console.log(
    [
      `vaccination benchmark (${new Date().toISOString()}, node ${process.version}, concurrency ${CONCURRENCY}, ${CALLS} calls each)`,
      "",
      "| measure | throughput | p50 | p99 |",
      "|---|---|---|---|",
      row("ceiling: GetReservation failing validation (Connect JSON, no database)", refusals),
      row(`baseline, one row: UPDATE … WHERE remaining > 0 (${contendedBase.taken} taken)`, contendedBase),
      row(`Reserve, one hospital and date (${DOSES} doses)`, contended),
      row(`baseline, ${HOSPITALS} rows (${spreadBase.taken} taken)`, spreadBase),
      row(`Reserve, ${HOSPITALS} hospitals (${perHospital} doses each)`, spread),
      "",
      `contended outcomes: ${outcomes(contended.outcomes)}`,
      `spread outcomes: ${outcomes(spread.outcomes)}`,
      `Reserve / baseline: contended ${(contended.rate / contendedBase.rate).toFixed(2)}x, spread ${(spread.rate / spreadBase.rate).toFixed(2)}x (target >= 0.4x)`,
      `ceiling / baseline: contended ${(refusals.rate / contendedBase.rate).toFixed(2)}x, spread ${(refusals.rate / spreadBase.rate).toFixed(2)}x`,
      `overbooked hospitals: ${over.rowCount} (must be 0)`,
    ].join("\n"),
  );
});
