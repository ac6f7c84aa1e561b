import { randomUUID } from "node:crypto";
import {
  createTestDatabase,
  describeWithNats,
  eventually,
  freePort,
  natsUrl,
  query,
  type RunningApp,
  startApp,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { afterAll, beforeAll, expect, it } from "vitest";

/** How long the idle service is watched, after it has had this long to settle. */
const WATCH_MS = 5_000;
const SETTLE_MS = 3_000;

describeWithNats("an idle service", () => {
  let database: TestDatabase;
  let app: RunningApp | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await app?.stop();
    await database?.drop();
  });

  it("publishes a leftover a process that died had committed, then issues (almost) no statements", async () => {
    const env = {
      DATABASE_URL: database.url,
      NATS_URL: natsUrl(),
      BUS_NAMESPACE: uniqueNamespace(),
      PORT: String(await freePort()),
    };
    // A first process creates the schema and stops; then a row is committed and never published,
    // as when a process dies between its commit and its publish.
    await (await startApp("warehouse", env)).stop();
    const eventId = randomUUID();
    await query(
      database.url,
      `insert into trial_warehouse.outbox (event_id, event_type, aggregate_id, occurred_at, payload)
       values ($1, 'trial.warehouse.v1.StockChanged', 'leftover-product', now(), '{}')`,
      [eventId],
    );

    app = await startApp("warehouse", env);
    await eventually(async () => {
      const [row] = await query<{ published: boolean }>(
        database.url,
        "select published_at is not null as published from trial_warehouse.outbox where event_id = $1",
        [eventId],
      );
      expect(row?.published).toBe(true);
    });

    // Statements the service's sessions run, sampled live: each statement sets its session's
    // query_start, which stays visible while the session is idle afterwards, so every change seen
    // is at least one statement. The sampling sessions themselves are left out.
    const sample = async () =>
      (
        await query<{ pid: number; query_start: Date | null }>(
          database.url,
          `select pid, query_start from pg_stat_activity
            where datname = $1 and backend_type = 'client backend' and query not like '%pg_stat_activity%'`,
          [database.name],
        )
      ).flatMap((row) => (row.query_start ? [`${row.pid} ${row.query_start.toISOString()}`] : []));
    await new Promise((resume) => setTimeout(resume, SETTLE_MS));
    const before = new Set(await sample());
    const seen = new Set<string>();
    const until = Date.now() + WATCH_MS;
    while (Date.now() < until) {
      for (const entry of await sample()) if (!before.has(entry)) seen.add(entry);
      await new Promise((resume) => setTimeout(resume, 20));
    }
    const statements = seen.size;
    const sessions = new Set([...before, ...seen].map((entry) => entry.split(" ")[0])).size;
    console.log(`[idle] ${statements} statements seen in ${WATCH_MS} ms over ${sessions} sessions`);
    // Backing off, the relay looks for leftovers twice in the window, one statement each.
    expect(statements).toBeLessThanOrEqual(4);
  }, 60_000);
});
