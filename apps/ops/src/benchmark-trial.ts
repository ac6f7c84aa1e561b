// `./hexa benchmark trial`: product-trial figures on this machine, each against a baseline measured
// in the same run on the same PostgreSQL.
//
// 1. Baseline: raw single-row INSERT + COMMIT at CONCURRENCY connections.
// 2. The ceiling: GetOrder calls turned away at validation, before any database or bus. No RPC through
//    this client and server can go faster on this machine.
// 3. PlaceOrder through Connect JSON at the same concurrency: throughput, p50 and p99 latency, and
//    the ratio to the baseline (target >= 0.5). Then the rate at which those orders went all the
//    way through (warehouse, delivery, the dashboard showing the delivery), and the CPU the
//    all-in-one and PostgreSQL spent per order meanwhile (from /proc, on Linux).
// 4. Propagation: orders placed at RATE per second; the time from PlaceOrder's answer (the order and
//    its OrderPlaced are committed) to the dashboard committing its view, observed through the
//    dashboard's notification channel: p50 and p99 (target p99 <= 50 ms at 200 orders/s).
//
// It starts the all-in-one itself, with NATS (NATS_URL, default nats://127.0.0.1:4222) and a fresh
// database on DATABASE_URL's server (default: an embedded PostgreSQL it starts). Bounded: a fixed
// number of requests, all to 127.0.0.1.
//
//   ./hexa benchmark trial [--orders 3000] [--concurrency 16] [--rate 200] [--seconds 10]
import { createClient } from "@connectrpc/connect";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import pg from "pg";
import {
  allInOneWithNats,
  ceiling,
  closedLoop,
  cpuSeconds,
  insertBaseline,
  log,
  ms,
  runBenchmark,
  summary,
} from "./benchmarking.ts";
import { commandLine, wholeNumber } from "./cli.ts";
import { jsonTransport } from "./clients.ts";
import { callingAs } from "./dev-tokens.ts";

const usage = `usage: ./hexa benchmark trial [--orders 3000] [--concurrency 16] [--rate 200] [--seconds 10]

Product-trial throughput, latency and propagation against a raw INSERT baseline. Starts its own
all-in-one on a free port with NATS_URL (default nats://127.0.0.1:4222) and a fresh database on
DATABASE_URL's server (default: an embedded PostgreSQL of its own).`;

const { values: flags } = commandLine(usage, {
  orders: { type: "string", default: "3000" },
  concurrency: { type: "string", default: "16" },
  rate: { type: "string", default: "200" },
  seconds: { type: "string", default: "10" },
});
const ORDERS = wholeNumber("--orders", flags.orders, usage);
const CONCURRENCY = wholeNumber("--concurrency", flags.concurrency, usage);
const RATE = wholeNumber("--rate", flags.rate, usage);
const SECONDS = wholeNumber("--seconds", flags.seconds, usage);

await runBenchmark(async (cleanups) => {
  const { app, databaseUrl } = await allInOneWithNats("trial", cleanups);
  // One admin token for every call: a service verifies it once and remembers it until it expires.
  const transport = jsonTransport(app.url, [callingAs("admin", "benchmark")]);
  const orders = createClient(OrderService, transport);
  const product = "bench-product";
  await createClient(WarehouseService, transport).restock({ productId: product, quantity: 100_000 });
  const { plan } = await createClient(MarketingService, transport).startTrialPlan({
    productId: product,
    name: "benchmark",
    trialDays: 30,
  });
  const planId = plan?.planId ?? "";

  // Every order the dashboard has shown, from the start: the propagation phase waits for the
  // earlier phases' orders to be through, so it measures propagation, not a backlog.
  const listener = new pg.Client({ connectionString: databaseUrl });
  await listener.connect();
  cleanups.add(() => listener.end());
  const seenAt = new Map<string, number>();
  // Changes shown per order: the second is its delivery starting, after warehouse and delivery.
  const changes = new Map<string, number>();
  listener.on("notification", (message) => {
    // The dashboard announces [order id, "changed"] on its channel (packages/adapters/src/postgres/notifications.ts).
    const [orderId = ""] = JSON.parse(message.payload ?? "[]") as string[];
    if (!seenAt.has(orderId)) seenAt.set(orderId, performance.now());
    changes.set(orderId, (changes.get(orderId) ?? 0) + 1);
  });
  await listener.query("listen trial_dashboard_order");
  const placedIds: string[] = [];
  const place = async (i: number) => {
    const placed = await orders.placeOrder({
      customerId: `c-${i % 500}`,
      planId,
      quantity: 1,
      address: "1 Bench Road",
    });
    placedIds.push(placed.order?.orderId ?? "");
    return placed;
  };
  for (let tries = 0; ; tries++) {
    try {
      await place(-1);
      break;
    } catch (error) {
      if (tries > 100) throw error;
      await new Promise((resume) => setTimeout(resume, 100));
    }
  }

  log(`warm-up: ${Math.min(500, ORDERS)} orders`);
  await closedLoop(Math.min(500, ORDERS), CONCURRENCY, place);
  // Every phase starts on a quiet system: the warm-up's orders are all through first.
  const throughDelivery = (ids: readonly string[]) => ids.every((id) => (changes.get(id) ?? 0) >= 2);
  const warmedUp = performance.now() + 120_000;
  while (!throughDelivery(placedIds) && performance.now() < warmedUp) {
    await new Promise((resume) => setTimeout(resume, 50));
  }

  log(`baseline: ${ORDERS} single-row INSERT + COMMIT at concurrency ${CONCURRENCY}`);
  const baseline = await insertBaseline(databaseUrl, ORDERS, CONCURRENCY);

  log(`ceiling: ${ORDERS} GetOrder calls that fail validation (no database, no bus)`);
  const refusals = await ceiling(ORDERS, CONCURRENCY, () => orders.getOrder({ orderId: "not-an-order-id" }));

  log(`PlaceOrder: ${ORDERS} orders through Connect JSON at concurrency ${CONCURRENCY}`);
  const cpuBefore = cpuSeconds(app.process.pid ?? 0);
  const phaseStart = performance.now();
  const firstPlaced = placedIds.length;
  const placing = await closedLoop(ORDERS, CONCURRENCY, place);

  log("waiting until every order placed so far has gone through warehouse and delivery to the dashboard");
  const phaseIds = placedIds.slice(firstPlaced);
  while (!throughDelivery(phaseIds) && performance.now() - phaseStart < 300_000) {
    await new Promise((resume) => setTimeout(resume, 20));
  }
  const endToEndSeconds = (performance.now() - phaseStart) / 1000;
  const cpuAfter = cpuSeconds(app.process.pid ?? 0);
  const perOrder = (seconds: number) => `${((seconds * 1000) / ORDERS).toFixed(2)} ms`;
  const cpu =
    cpuBefore && cpuAfter
      ? `CPU per order meanwhile: all-in-one ${perOrder(cpuAfter.app - cpuBefore.app)}, PostgreSQL ${perOrder(cpuAfter.postgres - cpuBefore.postgres)}`
      : "CPU per order: not measured (no /proc)";
  log(`all through in ${endToEndSeconds.toFixed(1)} s`);

  log(`propagation: ${RATE} orders/s for ${SECONDS} s; waiting for the dashboard's notifications`);
  const committedAt = new Map<string, number>();
  const total = RATE * SECONDS;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / RATE - performance.now();
    if (wait > 0) await new Promise((resume) => setTimeout(resume, wait));
    inFlight.push(
      place(i).then(({ order }) => {
        committedAt.set(order?.orderId ?? "", performance.now());
      }),
    );
  }
  await Promise.all(inFlight);
  const offeredRate = total / ((performance.now() - start) / 1000);
  const deadline = performance.now() + 15_000;
  while ([...committedAt.keys()].some((id) => !seenAt.has(id)) && performance.now() < deadline) {
    await new Promise((resume) => setTimeout(resume, 50));
  }
  const propagation = [...committedAt].flatMap(([id, at]) => {
    const seen = seenAt.get(id);
    // A notification can beat the client's receipt of the answer; that counts as 0 ms.
    return seen === undefined ? [] : [Math.max(0, seen - at)];
  });
  const missing = committedAt.size - propagation.length;

  const base = summary(baseline.latencies);
  const refused = summary(refusals.latencies);
  const placed = summary(placing.latencies);
  const spread = summary(propagation);
  console.log(
    [
      `product-trial benchmark (${new Date().toISOString()}, node ${process.version}, concurrency ${CONCURRENCY})`,
      "",
      "| measure | throughput | p50 | p99 |",
      "|---|---|---|---|",
      `| baseline: single-row INSERT + COMMIT | ${baseline.rate.toFixed(0)}/s | ${ms(base.p50)} | ${ms(base.p99)} |`,
      `| ceiling: GetOrder failing validation (Connect JSON, no database) | ${refusals.rate.toFixed(0)}/s | ${ms(refused.p50)} | ${ms(refused.p99)} |`,
      `| PlaceOrder via Connect JSON | ${placing.rate.toFixed(0)}/s | ${ms(placed.p50)} | ${ms(placed.p99)} |`,
      `| the same orders end to end, until each showed its delivery | ${(ORDERS / endToEndSeconds).toFixed(0)}/s | | |`,
      `| propagation, order commit -> dashboard (${offeredRate.toFixed(0)} orders/s offered) | | ${ms(spread.p50)} | ${ms(spread.p99)} |`,
      "",
      `PlaceOrder / baseline throughput: ${(placing.rate / baseline.rate).toFixed(2)}x (target >= 0.5x); ceiling / baseline: ${(refusals.rate / baseline.rate).toFixed(2)}x`,
      cpu,
      `propagation p99: ${ms(spread.p99)} (target <= 50 ms at 200 orders/s); max ${ms(spread.max)}; ${missing} of ${committedAt.size} not seen within 15 s`,
    ].join("\n"),
  );
});
