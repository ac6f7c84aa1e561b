// A rolling restart on this machine, as Kubernetes performs it with the chart's settings: two
// replicas of the order service (separate processes, one database, one NATS) take a steady stream
// of calls through a client that, like a Service, sends each call to a replica whose /readyz
// answers 200. One replica gets SIGTERM mid-load, a replacement starts, then the other replica gets
// SIGTERM. Meanwhile marketing publishes PlanStarted events that order's replicas consume.
// Proven: no call fails, both stopped replicas exit cleanly, and each event has exactly one effect.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import {
  adminToken,
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

/** Concurrent callers, and the bounds that keep the test short whatever happens. */
const LOOPS = 50;
const MAX_CALLS = 20_000;
const MAX_EVENTS = 400;
/** How often the client re-reads each replica's /readyz (a kubelet probes every few seconds, endpoints follow). */
const READINESS_POLL_MS = 100;
/** The replicas keep serving this long after SIGTERM while they report not ready (the chart sets 5 s). */
const DRAIN_MS = 1_000;

describeWithNats("a rolling restart of the order service under load", () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const apps: RunningApp[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    env = {
      DATABASE_URL: database.url,
      NATS_URL: natsUrl(),
      BUS_NAMESPACE: uniqueNamespace(),
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      SHUTDOWN_GRACE_MS: "10000",
    };
    // As the chart's hook Job does before any pod starts: replicas starting together on an empty
    // database would otherwise race to create the same tables.
    await migrate(["marketing", "order"], database.url);
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await database?.drop();
  });

  async function start(app: string, extra: Record<string, string> = {}): Promise<RunningApp> {
    const running = await startApp(app, { ...env, ...extra, PORT: String(await freePort()) });
    apps.push(running);
    return running;
  }

  it("loses no call and handles each event exactly once while each replica is replaced", async () => {
    // Marketing publishes PlanStarted; it never calls order in this test (no plan ends).
    const marketing = await start("marketing", { ORDER_URL: "http://127.0.0.1:9" });
    const [first, second] = await Promise.all([start("order"), start("order")]);
    const replicas = new Replicas([first.url, second.url]);

    const startPlan = async (n: number) => {
      const { plan } = await call<{ plan: { planId: string } }>(
        marketing.url,
        "trial.marketing.v1.MarketingService/StartTrialPlan",
        { productId: `product-${n}`, name: `Plan ${n}`, trialDays: 7 },
      );
      return plan.planId;
    };
    const planIds = [await startPlan(0)];
    const planId = planIds[0] as string;
    await eventually(async () => {
      const rows = await query(database.url, "select 1 from trial_order.offered_plan where plan_id = $1", [
        planId,
      ]);
      if (rows.length !== 1) throw new Error("order does not know the plan yet");
    }, 15_000);

    // The load: each loop places an order on one replica and reads it back from whichever is next.
    const failures: string[] = [];
    let calls = 0;
    let stopLoad = false;
    const loop = async (loopId: number) => {
      for (let i = 0; !stopLoad && calls < MAX_CALLS; i++) {
        try {
          calls++;
          const placed = await call<{ order: { orderId: string } }>(
            await replicas.pick(),
            "trial.order.v1.OrderService/PlaceOrder",
            { customerId: `customer-${loopId}`, planId, quantity: 1, address: `${i} Rolling Street` },
          );
          calls++;
          const read = await call<{ order: { orderId: string } }>(
            await replicas.pick(),
            "trial.order.v1.OrderService/GetOrder",
            { orderId: placed.order.orderId },
          );
          if (read.order.orderId !== placed.order.orderId)
            failures.push(`loop ${loopId}: read another order`);
        } catch (error) {
          failures.push(`loop ${loopId}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    };
    const load = Promise.all(Array.from({ length: LOOPS }, (_, loopId) => loop(loopId)));

    // The events: published from before the first SIGTERM until after the second replica is gone.
    let publishing = true;
    const published = (async () => {
      for (let n = 1; publishing && n <= MAX_EVENTS; n++) {
        planIds.push(await startPlan(n));
        await pause(20);
      }
    })();

    await waitUntil("the load to be under way", () => calls >= 300, 15_000);
    const firstExit = first.stop(); // SIGTERM: it reports not ready, drains, then stops
    const replacement = await start("order");
    replicas.add(replacement.url);
    expect(await firstExit).toBe(0);
    replicas.remove(first.url);

    const callsBefore = calls;
    await waitUntil("the replacement to take calls", () => calls >= callsBefore + 300, 15_000);
    expect(await second.stop()).toBe(0);
    replicas.remove(second.url);

    const callsAfter = calls;
    await waitUntil("calls on the replacement alone", () => calls >= callsAfter + 300, 15_000);
    stopLoad = true;
    publishing = false;
    await Promise.all([load, published]);
    replicas.close();

    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(900);
    // Each stopped replica answered /readyz with 503 while it still listened: readiness turned first.
    expect(replicas.drainingSeen).toEqual(expect.arrayContaining([first.url, second.url]));

    // Every PlanStarted has exactly one effect: one offered plan and one inbox row each.
    const expected = [...planIds].sort();
    await eventually(async () => {
      const plans = await query<{ plan_id: string }>(
        database.url,
        "select plan_id from trial_order.offered_plan",
      );
      expect(plans.map((row) => row.plan_id).sort()).toEqual(expected);
    }, 20_000);
    const inbox = await query<{ count: string; distinct: string }>(
      database.url,
      "select count(*) as count, count(distinct event_id) as distinct from trial_order.inbox where consumer = $1",
      ["order-plan-started"],
    );
    expect(Number(inbox[0]?.count)).toBe(expected.length);
    expect(Number(inbox[0]?.distinct)).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(20);
  }, 120_000);
});

/**
 * The replicas a Service would route to: those whose /readyz answered 200 at the last poll, in
 * turn. A replica that stops reporting ready gets no new call.
 */
class Replicas {
  readonly #ready = new Map<string, boolean>();
  readonly #timer: NodeJS.Timeout;
  /** Replicas seen answering /readyz with 503 (listening, but draining or not yet ready). */
  readonly drainingSeen: string[] = [];
  #next = 0;

  constructor(urls: readonly string[]) {
    for (const url of urls) this.#ready.set(url, true);
    this.#timer = setInterval(() => void this.#poll(), READINESS_POLL_MS);
  }

  add(url: string): void {
    this.#ready.set(url, true);
  }

  remove(url: string): void {
    this.#ready.delete(url);
  }

  /** The next ready replica; waits (up to 5 s) while none is, as a caller's retry would. */
  async pick(): Promise<string> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const ready = [...this.#ready].filter(([, isReady]) => isReady).map(([url]) => url);
      if (ready.length > 0) return ready[this.#next++ % ready.length] as string;
      if (Date.now() > deadline) throw new Error("no replica ready for 5 s");
      await pause(20);
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }

  async #poll(): Promise<void> {
    await Promise.all(
      [...this.#ready.keys()].map(async (url) => {
        const status = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(500) })
          .then((response) => response.status)
          .catch(() => 0);
        if (!this.#ready.has(url)) return;
        if (status === 503 && !this.drainingSeen.includes(url)) this.drainingSeen.push(url);
        this.#ready.set(url, status === 200);
      }),
    );
  }
}

/** `migrate <services>`, the command the chart's migrations Job runs. */
function migrate(services: readonly string[], databaseUrl: string): Promise<void> {
  const script = resolve(import.meta.dirname, "../../apps/ops/src/migrate.ts");
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [script, ...services],
      {
        env: { PATH: process.env.PATH ?? "", DATABASE_URL: databaseUrl, LOG_LEVEL: "warn" },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        error ? fail(new Error(`migrate failed: ${error.message}\n${stdout}${stderr}`)) : done(),
    );
  });
}

/** One unary call in Connect's JSON mode; rejects with the status and body unless it answers 200. */
async function call<T>(baseUrl: string, procedure: string, body: unknown): Promise<T> {
  const response = await fetch(`${baseUrl}/${procedure}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${await adminToken()}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${procedure} on ${baseUrl}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(20);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
