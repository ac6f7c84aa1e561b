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
// 5. The order service alone: the all-in-one stopped, the order service started by itself on the
//    same database and streams (the events it publishes wait in JetStream), PlaceOrder closed-loop.
// 6. Idle: what the all-in-one and its PostgreSQL sessions spend with nothing to do.
//
// The statements and transactions per order are PostgreSQL's own counts for the run's database
// during phase 3 (pg_stat_statements, pg_stat_database), with the idle background subtracted; the
// CPU per order is the all-in-one's and its database sessions' own (/proc). Ratios compare with a
// bare Connect server (bare-connect-server.ts) measured in the same run. The run ends with one
// `target …: … met|not met` line per target.
//
// It starts the all-in-one itself, with NATS (NATS_URL, default nats://127.0.0.1:4222) and a fresh
// database on DATABASE_URL's server (default: an embedded PostgreSQL it starts). Bounded: a fixed
// number of requests, all to 127.0.0.1.
//
//   ./hexa benchmark trial [--orders 3000] [--concurrency 16] [--rate 200] [--seconds 10] [--idle 15]
import { createClient } from "@connectrpc/connect";
import { ChannelListener } from "@hexa/adapters/postgres/notifications";
import { ORDER_CHANGES_CHANNEL } from "@hexa/adapters/trial/dashboard/changes";
import { DASHBOARD_SCHEMA } from "@hexa/adapters/trial/dashboard/store";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import pg from "pg";
import { pino } from "pino";
import {
  allInOneWithNats,
  bareConnect,
  COUNTS_DELAY_MS,
  ceiling,
  closedLoop,
  cpuSplit,
  insertBaseline,
  log,
  meter,
  ms,
  pause,
  perUnit,
  ratioLimits,
  runBenchmark,
  statementCalls,
  summary,
  target,
  topStatements,
  WARM_UP_CALLS,
} from "./benchmarking.ts";
import { commandLine, wholeNumber } from "./cli.ts";
import { jsonTransport } from "./clients.ts";
import { callingAs } from "./dev-tokens.ts";

const usage = `usage: ./hexa benchmark trial [--orders 3000] [--concurrency 16] [--rate 200] [--seconds 10] [--idle 15]

Product-trial throughput, latency, propagation, statements and CPU per order, each against a
baseline of the same run, ending with one line per target. Starts its own all-in-one on a free port
with NATS_URL (default nats://127.0.0.1:4222) and a fresh database on DATABASE_URL's server (default:
an embedded PostgreSQL of its own).`;

const { values: flags } = commandLine(usage, {
  orders: { type: "string", default: "3000" },
  concurrency: { type: "string", default: "16" },
  rate: { type: "string", default: "200" },
  seconds: { type: "string", default: "10" },
  // 15 s: /proc counts CPU in ticks of 10 ms, so 1% of a core over 5 s would be 5 ticks.
  idle: { type: "string", default: "15" },
});
const ORDERS = wholeNumber("--orders", flags.orders, usage);
const CONCURRENCY = wholeNumber("--concurrency", flags.concurrency, usage);
const RATE = wholeNumber("--rate", flags.rate, usage);
const SECONDS = wholeNumber("--seconds", flags.seconds, usage);
const IDLE_SECONDS = wholeNumber("--idle", flags.idle, usage);

await runBenchmark(async (cleanups) => {
  const { app, databaseUrl, startService } = await allInOneWithNats("trial", cleanups);
  const counting = new pg.Client({ connectionString: databaseUrl });
  await counting.connect();
  cleanups.add(() => counting.end());
  const { sample, between } = meter(counting, () => app.process.pid ?? 0);
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
  // earlier phases' orders to be through, so it measures propagation, not a backlog. It listens as
  // a watching process does, so the dashboard announces its changes (postgres/notifications.ts).
  const listening = new AbortController();
  cleanups.add(async () => listening.abort());
  const feed = await new ChannelListener({
    connectionString: databaseUrl,
    channel: ORDER_CHANGES_CHANNEL,
    announcingSchema: DASHBOARD_SCHEMA,
    logger: pino({ level: "warn" }),
    // A burst of announcements arrives in one read, before this loop asks again.
    maxPending: 1_000_000,
  }).listenToEveryTopic(listening.signal);
  const seenAt = new Map<string, number>();
  // Changes shown per order: the second is its delivery starting, after warehouse and delivery.
  const changes = new Map<string, number>();
  void (async () => {
    for (;;) {
      // Each change is heard as [order id, the state before it].
      const heard = await feed.next();
      const now = performance.now();
      if (!heard.complete)
        log("some of the dashboard's announcements were lost: the figures that wait for them are off");
      for (const message of heard.messages) {
        const [orderId = ""] = JSON.parse(message) as string[];
        if (!seenAt.has(orderId)) seenAt.set(orderId, now);
        changes.set(orderId, (changes.get(orderId) ?? 0) + 1);
      }
    }
  })().catch(() => undefined);
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

  log(`warm-up: ${WARM_UP_CALLS} orders`);
  await closedLoop(WARM_UP_CALLS, CONCURRENCY, place);
  // Every phase starts on a quiet system: the warm-up's orders are all through first.
  const throughDelivery = (ids: readonly string[]) => ids.every((id) => (changes.get(id) ?? 0) >= 2);
  const warmedUp = performance.now() + 120_000;
  while (!throughDelivery(placedIds) && performance.now() < warmedUp) {
    await new Promise((resume) => setTimeout(resume, 50));
  }

  log(`idle: ${IDLE_SECONDS} s with nothing to do`);
  await pause(COUNTS_DELAY_MS);
  const idleStart = await sample();
  await pause(IDLE_SECONDS * 1000);
  const idle = between(idleStart, await sample());
  const idlePerSecond = (count: number | undefined) =>
    count === undefined ? undefined : count / idle.seconds;

  log(`bare Connect: ${ORDERS} calls to a Connect server that answers at once`);
  const bare = await bareConnect(cleanups, CONCURRENCY);
  const {
    result: bareRun,
    text: bareCpu,
    serverMs: bareServerMs,
    perUnit: bareSplit,
  } = await cpuSplit(ORDERS, [bare.pid], () => closedLoop(ORDERS, CONCURRENCY, bare.call));

  log(`baseline: ${ORDERS} single-row INSERT + COMMIT at concurrency ${CONCURRENCY}`);
  const baseline = await insertBaseline(databaseUrl, ORDERS, CONCURRENCY);

  log(`ceiling: ${ORDERS} GetOrder calls that fail validation (no database, no bus)`);
  const refusals = await ceiling(ORDERS, CONCURRENCY, () => orders.getOrder({ orderId: "not-an-order-id" }));

  log(`PlaceOrder: ${ORDERS} orders through Connect JSON at concurrency ${CONCURRENCY}`);
  const phaseBefore = await sample();
  const callsBefore = await statementCalls(counting);
  const phaseStart = performance.now();
  const firstPlaced = placedIds.length;
  const placing = await closedLoop(ORDERS, CONCURRENCY, place);

  log("waiting until every order placed so far has gone through warehouse and delivery to the dashboard");
  const phaseIds = placedIds.slice(firstPlaced);
  while (!throughDelivery(phaseIds) && performance.now() - phaseStart < 300_000) {
    await new Promise((resume) => setTimeout(resume, 20));
  }
  const endToEndSeconds = (performance.now() - phaseStart) / 1000;
  log(`all through in ${endToEndSeconds.toFixed(1)} s`);
  // The order updates that follow the dashboard's last change. The CPU is read then, while the
  // sessions that did the work still exist (a pool closes idle ones, after five minutes); the counts once
  // PostgreSQL has published them all.
  await pause(1_500);
  const phaseCpu = between(phaseBefore, await sample());
  await pause(COUNTS_DELAY_MS - 1_500);
  const phase = between(phaseBefore, await sample());
  const topPerOrder = topStatements(callsBefore, await statementCalls(counting), ORDERS);
  const {
    statements: statementsPerOrder,
    transactions: transactionsPerOrder,
    appMs: appMsPerOrder,
    postgresMs: postgresMsPerOrder,
  } = perUnit(phase, idle, ORDERS, phaseCpu);

  log(`propagation: ${RATE} orders/s for ${SECONDS} s; waiting for the dashboard's notifications`);
  const committedAt = new Map<string, number>();
  const total = RATE * SECONDS;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  let lastSentAt = start;
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / RATE - performance.now();
    if (wait > 0) await new Promise((resume) => setTimeout(resume, wait));
    lastSentAt = performance.now();
    inFlight.push(
      place(i).then(({ order }) => {
        committedAt.set(order?.orderId ?? "", performance.now());
      }),
    );
  }
  // Offered: the rate the calls were sent at (the intervals between the first and the last);
  // answered: the rate PlaceOrder answered them at, which is lower when it cannot keep up.
  const offeredRate = (total - 1) / ((lastSentAt - start) / 1000);
  await Promise.all(inFlight);
  const answeredRate = total / ((performance.now() - start) / 1000);
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

  log(`the order service alone: the all-in-one stopped, ${ORDERS} PlaceOrder calls`);
  await app.stop();
  const orderAlone = await startService("order");
  const aloneOrders = createClient(
    OrderService,
    jsonTransport(orderAlone.url, [callingAs("admin", "benchmark")]),
  );
  const placeAlone = (i: number) =>
    aloneOrders.placeOrder({ customerId: `c-${i % 500}`, planId, quantity: 1, address: "1 Bench Road" });
  await closedLoop(WARM_UP_CALLS, CONCURRENCY, placeAlone);
  const {
    result: alone,
    text: aloneCpu,
    perUnit: aloneSplit,
  } = await cpuSplit(ORDERS, [orderAlone.process.pid ?? 0], () =>
    closedLoop(ORDERS, CONCURRENCY, placeAlone),
  );
  await orderAlone.stop();

  const base = summary(baseline.latencies);
  const refused = summary(refusals.latencies);
  const placed = summary(placing.latencies);
  const spread = summary(propagation);
  const bareSummary = summary(bareRun.latencies);
  const aloneSummary = summary(alone.latencies);
  const endToEndRate = ORDERS / endToEndSeconds;
  // Idle is the all-in-one and its sessions; autovacuum cleaning up after the warm-up is shown apart.
  const idleCore = ((idle.appCpu + idle.cpuSeconds - idle.workersCpuSeconds) / idle.seconds) * 100;
  const idleVacuum = (idle.workersCpuSeconds / idle.seconds) * 100;
  const noStatements = "pg_stat_statements is not preloaded on this PostgreSQL";
  console.log(
    [
      `product-trial benchmark (${new Date().toISOString()}, node ${process.version}, concurrency ${CONCURRENCY})`,
      "",
      "| measure | throughput | p50 | p99 |",
      "|---|---|---|---|",
      `| baseline: single-row INSERT + COMMIT | ${baseline.rate.toFixed(0)}/s | ${ms(base.p50)} | ${ms(base.p99)} |`,
      `| bare Connect JSON call (no auth, no database) | ${bareRun.rate.toFixed(0)}/s | ${ms(bareSummary.p50)} | ${ms(bareSummary.p99)} |`,
      `| ceiling: GetOrder failing validation (Connect JSON, no database) | ${refusals.rate.toFixed(0)}/s | ${ms(refused.p50)} | ${ms(refused.p99)} |`,
      `| PlaceOrder via Connect JSON | ${placing.rate.toFixed(0)}/s | ${ms(placed.p50)} | ${ms(placed.p99)} |`,
      `| the same orders end to end, until each showed its delivery | ${(ORDERS / endToEndSeconds).toFixed(0)}/s | | |`,
      `| propagation, order commit -> dashboard (${offeredRate.toFixed(0)} orders/s offered, ${answeredRate.toFixed(0)}/s answered) | | ${ms(spread.p50)} | ${ms(spread.p99)} |`,
      `| PlaceOrder, the order service alone | ${alone.rate.toFixed(0)}/s | ${ms(aloneSummary.p50)} | ${ms(aloneSummary.p99)} |`,
      "",
      `CPU per call: bare Connect ${bareCpu}; PlaceOrder, the order service alone ${aloneCpu}`,
      ratioLimits("PlaceOrder alone", bareSplit, aloneSplit, 1),
      `CPU per order in bare calls: ${((appMsPerOrder + postgresMsPerOrder) / bareServerMs).toFixed(1)} (what the bare Connect server spends on as many calls; the machine's speed moves both alike)`,
      `PlaceOrder / baseline throughput: ${(placing.rate / baseline.rate).toFixed(2)}x; ceiling / baseline: ${(refusals.rate / baseline.rate).toFixed(2)}x`,
      `per order, idle background subtracted: ${statementsPerOrder?.toFixed(1) ?? "?"} statements, ${transactionsPerOrder?.toFixed(2)} transactions (${(phase.transactions / ORDERS).toFixed(2)} without subtracting); CPU all-in-one ${appMsPerOrder.toFixed(2)} ms + PostgreSQL sessions ${postgresMsPerOrder.toFixed(2)} ms`,
      "statements run most per order (calls per order, text as PostgreSQL normalised it):",
      ...topPerOrder.map((line) => `  ${line}`),
      `idle: ${idlePerSecond(idle.statements)?.toFixed(1) ?? "?"} statements/s, ${idlePerSecond(idle.transactions)?.toFixed(1)} transactions/s, ${idleCore.toFixed(2)}% of a core (all-in-one ${((idle.appCpu / idle.seconds) * 100).toFixed(2)}% and its sessions; PostgreSQL's autovacuum ${idleVacuum.toFixed(2)}% besides)`,
      `propagation: max ${ms(spread.max)}; ${missing} of ${committedAt.size} not seen within 15 s`,
      "",
      target("statements per order", statementsPerOrder, "<=", 20, "", noStatements),
      target("transactions per order", transactionsPerOrder, "<=", 5),
      target("CPU per order", appMsPerOrder + postgresMsPerOrder, "<=", 4, " ms"),
      target("PlaceOrder, order service alone / bare Connect", alone.rate / bareRun.rate, ">=", 0.4, "x"),
      target(
        `PlaceOrder p99 at concurrency ${CONCURRENCY}, order service alone`,
        aloneSummary.p99,
        "<=",
        100,
        " ms",
      ),
      target("end to end / bare Connect", endToEndRate / bareRun.rate, ">=", 0.08, "x"),
      target(
        `propagation p99 at ${offeredRate.toFixed(0)} orders/s offered (${RATE} asked, ${answeredRate.toFixed(0)} answered)`,
        spread.p99,
        "<=",
        Math.round(offeredRate) <= 200 ? 50 : 100,
        " ms",
      ),
      target("idle, share of a core", idleCore, "<=", 1, "%"),
    ].join("\n"),
  );
});
