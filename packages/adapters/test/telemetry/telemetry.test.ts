import { Code, ConnectError } from "@connectrpc/connect";
import { createInProcessBus } from "@hexa/adapters/inprocess/bus";
import { connectJetStreamBus } from "@hexa/adapters/jetstream/bus";
import { openServiceDatabase, type ServiceDatabase } from "@hexa/adapters/postgres/database";
import { type RunningServices, startServices } from "@hexa/adapters/runtime/start";
import { metricNames } from "@hexa/adapters/telemetry/metrics";
import { startTracing, type Tracing, traceLogFields } from "@hexa/adapters/telemetry/tracing";
import { dashboardModule } from "@hexa/adapters/trial/dashboard/module";
import { deliveryModule } from "@hexa/adapters/trial/delivery/module";
import { marketingModule } from "@hexa/adapters/trial/marketing/module";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { warehouseModule } from "@hexa/adapters/trial/warehouse/module";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import {
  connectJsonClient,
  createTestDatabase,
  describeWithNats,
  eventually,
  natsUrl,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The whole product-trial suite in one process, as the all-in-one runs it, with a tracer provider
 * exporting to memory and a logger whose lines the test reads.
 */
describe("telemetry of the product-trial suite", () => {
  const exporter = new InMemorySpanExporter();
  const logLines: Array<Record<string, unknown>> = [];
  let tracing: Tracing;
  let database: TestDatabase;
  let busStore: ServiceDatabase;
  let services: RunningServices;
  let marketing: ReturnType<typeof connectJsonClient<typeof MarketingService>>;
  let orders: ReturnType<typeof connectJsonClient<typeof OrderService>>;
  let warehouse: ReturnType<typeof connectJsonClient<typeof WarehouseService>>;

  beforeAll(async () => {
    tracing = startTracing({ serviceName: "trial", exporter });
    const logger = pino(
      { level: "info", mixin: traceLogFields },
      { write: (line: string) => logLines.push(JSON.parse(line)) },
    );
    database = await createTestDatabase();
    busStore = await openServiceDatabase({
      url: database.url,
      schema: "hexa_bus",
      entities: [],
      migrations: [],
      logger,
    });
    const bus = await createInProcessBus({ sql: busStore.execute, logger });
    services = await startServices({
      modules: [marketingModule, orderModule, warehouseModule, deliveryModule, dashboardModule],
      databaseUrl: database.url,
      bus,
      host: "127.0.0.1",
      port: 0,
      logger,
      deliveryPolicy: { maxDeliver: 1, backoffMs: [0] },
      outboxIdleMs: 20,
    });
    marketing = connectJsonClient(MarketingService, services.url);
    orders = connectJsonClient(OrderService, services.url);
    warehouse = connectJsonClient(WarehouseService, services.url);
  });

  afterAll(async () => {
    await services?.stop(1_000);
    await busStore?.close();
    await database?.drop();
    await tracing?.shutdown();
  });

  const spans = () => exporter.getFinishedSpans();
  const traceOf = (span: ReadableSpan) => span.spanContext().traceId;
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
  const serverSpan = (name: string) =>
    spans().find((span) => span.kind === SpanKind.SERVER && span.name === name);

  async function placeOrderOnNewPlan(productId: string) {
    const { plan } = await marketing.startTrialPlan({ productId, name: "Kayak week", trialDays: 7 });
    const planId = plan?.planId ?? "";
    await warehouse.restock({ productId, quantity: 5 });
    // Order learns of the plan from PlanStarted.
    const order = await eventually(async () => {
      const placed = await orders.placeOrder({ customerId: "c-1", planId, quantity: 1, address: "1 Lane" });
      return placed.order;
    });
    return { planId, orderId: order?.orderId ?? "" };
  }

  it("follows one order from the PlaceOrder call through the events it sets off", async () => {
    const { orderId } = await placeOrderOnNewPlan("kayak-trace");
    // The accepted call (attempts made before order learned of the plan were refused).
    const placed = spans().findLast(
      (span) =>
        span.kind === SpanKind.SERVER &&
        span.name === "trial.order.v1.OrderService/PlaceOrder" &&
        span.attributes["rpc.grpc.status_code"] === 0,
    );
    expect(placed).toBeDefined();
    if (!placed) return;
    expect(placed.attributes).toMatchObject({
      "rpc.system": "connect_rpc",
      "rpc.service": "trial.order.v1.OrderService",
      "rpc.method": "PlaceOrder",
      "rpc.grpc.status_code": 0,
    });
    const traceId = traceOf(placed);

    // OrderPlaced -> warehouse and dashboard; StockReserved (published by warehouse's policy) -> delivery.
    const consumers = await eventually(async () => {
      const inTrace = spans().filter((span) => span.kind === SpanKind.CONSUMER && traceOf(span) === traceId);
      const names = inTrace.map((span) => String(span.attributes["messaging.consumer.group.name"]));
      for (const service of ["warehouse-", "delivery-", "dashboard-"]) {
        if (!names.some((name) => name.startsWith(service)))
          throw new Error(`no ${service} consumer span yet`);
      }
      return inTrace;
    });

    const warehouseSpan = consumers.find(
      (span) => span.attributes["messaging.consumer.group.name"] === "warehouse-order-placed",
    );
    expect(warehouseSpan?.name).toBe("process trial.order.v1.OrderPlaced");
    expect(warehouseSpan?.attributes["hexa.aggregate_id"]).toBe(orderId);
    // Child of the RPC that committed the event.
    expect(warehouseSpan && parentOf(warehouseSpan)).toBe(placed.spanContext().spanId);
    // Delivery's span is a child of warehouse's: the event warehouse published carried its context.
    const deliverySpan = consumers.find(
      (span) => span.attributes["messaging.consumer.group.name"] === "delivery-stock-reserved",
    );
    expect(deliverySpan && parentOf(deliverySpan)).toBe(warehouseSpan?.spanContext().spanId);

    // PlaceOrder's SQL: pg CLIENT spans, children of the RPC's span; the order's insert goes out with
    // the outbox's in one statement.
    const sql = spans().filter(
      (span) => span.kind === SpanKind.CLIENT && parentOf(span) === placed.spanContext().spanId,
    );
    expect(sql.length).toBeGreaterThan(0);
    expect(new Set(sql.map((span) => span.attributes["db.system.name"]))).toEqual(new Set(["postgresql"]));
    expect(
      sql.some((span) =>
        /insert into "trial_order"\."trial_order"/i.test(String(span.attributes["db.query.text"])),
      ),
    ).toBe(true);
    // Its publish: a PRODUCER span of the relay, child of the RPC that committed the event.
    const publish = spans().find(
      (span) =>
        span.kind === SpanKind.PRODUCER &&
        span.name === "send trial.order.v1.OrderPlaced" &&
        span.attributes["hexa.aggregate_id"] === orderId,
    );
    expect(publish && traceOf(publish)).toBe(traceId);
    expect(publish && parentOf(publish)).toBe(placed.spanContext().spanId);
    expect(publish?.attributes["messaging.operation.type"]).toBe("send");
  });

  it("joins the marketing -> order call to EndTrialPlan's trace", async () => {
    const { planId } = await placeOrderOnNewPlan("kayak-end");
    exporter.reset();
    await marketing.endTrialPlan({ planId });

    const ended = serverSpan("trial.marketing.v1.MarketingService/EndTrialPlan");
    const client = await eventually(async () => {
      const found = spans().find(
        (span) =>
          span.kind === SpanKind.CLIENT && span.name === "trial.order.v1.OrderService/CancelOrdersForPlan",
      );
      if (!found) throw new Error("no client span yet");
      return found;
    });
    const server = await eventually(async () => {
      const found = serverSpan("trial.order.v1.OrderService/CancelOrdersForPlan");
      if (!found) throw new Error("no server span yet");
      return found;
    });
    expect(ended).toBeDefined();
    expect(traceOf(client)).toBe(ended && traceOf(ended));
    expect(traceOf(server)).toBe(traceOf(client));
    expect(parentOf(server)).toBe(client.spanContext().spanId);
    expect(client.attributes).toMatchObject({
      "rpc.service": "trial.order.v1.OrderService",
      "rpc.method": "CancelOrdersForPlan",
    });
  });

  it("marks a refused call on its span", async () => {
    const refused = await orders
      .placeOrder({ customerId: "c", planId: "no-such-plan", quantity: 11, address: "x" })
      .then(
        () => undefined,
        (error: unknown) => ConnectError.from(error),
      );
    expect(refused?.code).toBe(Code.InvalidArgument);
    const span = spans().findLast(
      (candidate) =>
        candidate.name === "trial.order.v1.OrderService/PlaceOrder" &&
        candidate.attributes["rpc.connect_rpc.error_code"] === "invalid_argument",
    );
    expect(span?.attributes["rpc.grpc.status_code"]).toBe(Code.InvalidArgument);
  });

  it("writes the trace and span ids into the log line of each call", async () => {
    exporter.reset();
    await warehouse.restock({ productId: "kayak-logs", quantity: 1 });
    const span = serverSpan("trial.warehouse.v1.WarehouseService/Restock");
    const line = logLines.findLast(
      (entry) => entry.msg === "rpc" && entry.procedure === "/trial.warehouse.v1.WarehouseService/Restock",
    );
    expect(span).toBeDefined();
    expect(line).toMatchObject({
      trace_id: span?.spanContext().traceId,
      span_id: span?.spanContext().spanId,
    });
    // Outside any span, no ids.
    const startLine = logLines.find((entry) => String(entry.msg).startsWith("server listening"));
    expect(startLine).toBeDefined();
    expect(startLine).not.toHaveProperty("trace_id");
  });

  it("serves Prometheus metrics on /metrics", async () => {
    await placeOrderOnNewPlan("kayak-metrics");
    await orders
      .placeOrder({ customerId: "c", planId: "p", quantity: 11, address: "x" })
      .catch(() => undefined);
    const text = await eventually(async () => {
      const response = await fetch(`${services.url}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
      const body = await response.text();
      // Every event committed so far has been published.
      expect(body).toContain(`${metricNames.outboxBacklog}{schema="trial_order"} 0`);
      return body;
    });
    const value = (series: string): number => {
      const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
      if (!line) throw new Error(`no series ${series} in:\n${text}`);
      return Number(line.slice(series.length + 1));
    };
    // The gRPC server metrics, under the names and labels stock gRPC dashboards read.
    const placeOrder =
      'grpc_service="trial.order.v1.OrderService",grpc_method="PlaceOrder",grpc_type="unary"';
    expect(value(`grpc_server_handled_total{${placeOrder},grpc_code="OK"}`)).toBeGreaterThanOrEqual(1);
    expect(
      value(`grpc_server_handled_total{${placeOrder},grpc_code="InvalidArgument"}`),
    ).toBeGreaterThanOrEqual(1);
    const handled = text
      .split("\n")
      .filter((line) => line.startsWith(`grpc_server_handled_total{${placeOrder},`))
      .reduce((sum, line) => sum + Number(line.split(" ")[1]), 0);
    expect(value(`grpc_server_started_total{${placeOrder}}`)).toBe(handled);
    expect(value(`grpc_server_handling_seconds_count{${placeOrder}}`)).toBe(handled);
    expect(value(`grpc_server_handling_seconds_bucket{le="+Inf",${placeOrder}}`)).toBe(handled);
    // No duplicate error counter beside the handled one, and the platform's old names are gone.
    expect(text).not.toMatch(/errors_total|hexa_rpc_server/);
    expect(
      value(`hexa_build_info{version="dev",service="hexa",node_version="${process.versions.node}"}`),
    ).toBe(1);
    for (const schema of [
      "trial_marketing",
      "trial_order",
      "trial_warehouse",
      "trial_delivery",
      "trial_dashboard",
    ]) {
      expect(value(`${metricNames.outboxBacklog}{schema="${schema}"}`)).toBeGreaterThanOrEqual(0);
    }
    expect(value(`${metricNames.consumerPending}{consumer="warehouse-order-placed"}`)).toBeGreaterThanOrEqual(
      0,
    );
    expect(value(`${metricNames.deadLetters}{consumer="warehouse-order-placed"}`)).toBe(0);
    // Marketing's call policy towards order: closed.
    expect(value(`${metricNames.breakerState}{policy="order"}`)).toBe(0);
    // Health checks are not counted as application calls.
    expect(text).not.toContain("grpc.health.v1");
  });
});

/** The same trace across processes' boundaries as JetStream carries it: SQL, publish, consumer. */
describeWithNats("telemetry of an order on JetStream", () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let database: TestDatabase;
  let services: RunningServices;

  beforeAll(async () => {
    tracing = startTracing({ serviceName: "trial", exporter });
    const logger = pino({ level: "silent" });
    database = await createTestDatabase();
    const bus = await connectJetStreamBus({ url: natsUrl(), namespace: uniqueNamespace(), logger });
    services = await startServices({
      modules: [marketingModule, orderModule, warehouseModule],
      databaseUrl: database.url,
      bus,
      host: "127.0.0.1",
      port: 0,
      logger,
      deliveryPolicy: { maxDeliver: 1, backoffMs: [0] },
      outboxIdleMs: 20,
    });
  });

  afterAll(async () => {
    await services?.stop(1_000);
    await database?.drop();
    await tracing?.shutdown();
  });

  it("shows PlaceOrder's SQL, its publish to JetStream and warehouse's handling in one trace", async () => {
    const marketing = connectJsonClient(MarketingService, services.url);
    const orders = connectJsonClient(OrderService, services.url);
    const warehouse = connectJsonClient(WarehouseService, services.url);
    const { plan } = await marketing.startTrialPlan({
      productId: "kayak-js",
      name: "Kayak week",
      trialDays: 7,
    });
    await warehouse.restock({ productId: "kayak-js", quantity: 5 });
    const placed = await eventually(() =>
      orders.placeOrder({ customerId: "c-js", planId: plan?.planId ?? "", quantity: 1, address: "1 Lane" }),
    );
    const orderId = placed.order?.orderId;
    const spans = () => exporter.getFinishedSpans();
    const server = spans().findLast(
      (span) =>
        span.name === "trial.order.v1.OrderService/PlaceOrder" &&
        span.attributes["rpc.grpc.status_code"] === 0,
    );
    if (!server) throw new Error("no PlaceOrder span");
    const { traceId, spanId } = server.spanContext();
    const consumer = await eventually(async () => {
      const found = spans().find(
        (span) =>
          span.kind === SpanKind.CONSUMER &&
          span.attributes["messaging.consumer.group.name"] === "warehouse-order-placed" &&
          span.attributes["hexa.aggregate_id"] === orderId,
      );
      if (!found) throw new Error("no consumer span yet");
      return found;
    });
    const publish = spans().find(
      (span) => span.kind === SpanKind.PRODUCER && span.attributes["hexa.aggregate_id"] === orderId,
    );
    expect(publish?.name).toBe("send trial.order.v1.OrderPlaced");
    expect(publish?.spanContext().traceId).toBe(traceId);
    expect(publish?.parentSpanContext?.spanId).toBe(spanId);
    expect(consumer.spanContext().traceId).toBe(traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(spanId);
    // SQL of the call and of the consumer, each under its own span.
    const sqlUnder = (parent: ReadableSpan) =>
      spans().filter(
        (span) =>
          span.attributes["db.system.name"] === "postgresql" &&
          span.parentSpanContext?.spanId === parent.spanContext().spanId,
      );
    expect(sqlUnder(server).length).toBeGreaterThan(0);
    expect(
      sqlUnder(consumer).some((span) => /trial_warehouse/.test(String(span.attributes["db.query.text"]))),
    ).toBe(true);
  });
});
