import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import type { DescFile } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { declaredConsumers } from "@hexa/adapters/apidocs/documents";
import { services } from "@hexa/adapters/services";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import {
  adminToken,
  connectJsonClient,
  freePort,
  GrpcJsClient,
  type RunningApp,
  startApp,
} from "@hexa/testing";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// biome-ignore lint/suspicious/noExplicitAny: the documents are read as plain JSON
type Json = Record<string, any>;

const modules = [...services.values()];
const genDir = join(import.meta.dirname, "../../../packages/proto/src/gen");

/** Every events.proto of the contract, from the generated descriptors. */
async function eventFiles(): Promise<DescFile[]> {
  const files: DescFile[] = [];
  for (const path of readdirSync(genDir, { recursive: true, encoding: "utf8" })) {
    if (!path.endsWith("/events_pb.js")) continue;
    const exports: Record<string, unknown> = await import(`@hexa/proto/${path.replace(/\.js$/, "")}`);
    for (const value of Object.values(exports)) {
      if ((value as { kind?: string }).kind === "file") files.push(value as DescFile);
    }
  }
  return files;
}

describe("the API's description, served by the all-in-one", () => {
  let app: RunningApp;
  let dataDir: string;
  let openapi: Json;
  let asyncapi: Json;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "hexa-api-docs-"));
    chmodSync(dataDir, 0o755);
    app = await startApp("all-in-one", {
      PORT: String(await freePort()),
      DATA_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(await freePort()),
    });
    const read = async (path: string) => {
      const response = await fetch(`${app.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json");
      return (await response.json()) as Json;
    };
    openapi = await read("/openapi.json");
    asyncapi = await read("/asyncapi.json");
  });

  afterAll(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves a valid OpenAPI 3.1 document with every RPC as its Connect POST, and GET for read RPCs", async () => {
    const validation = await new Validator().validate(structuredClone(openapi));
    expect(validation.errors ?? []).toEqual([]);
    expect(validation.valid).toBe(true);
    expect(openapi.openapi).toBe("3.1.0");
    let rpcs = 0;
    for (const module of modules) {
      for (const { service } of module.access ?? []) {
        for (const method of service.methods) {
          rpcs++;
          const item = openapi.paths[`/${service.typeName}/${method.name}`];
          expect(item?.post, `${service.typeName}/${method.name}`).toBeDefined();
          expect(item.post["x-hexa-service"]).toBe(module.name);
          const readOnly = method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
          // The reads, and only they, are marked (buf breaking does not guard the mark; see buf.yaml).
          expect(readOnly, `NO_SIDE_EFFECTS of ${method.name}`).toBe(
            method.methodKind === "unary" && /^(Get|List)[A-Z]/.test(method.name),
          );
          expect(item.get !== undefined, `GET of ${method.name}`).toBe(readOnly);
        }
      }
    }
    expect(rpcs).toBe(Object.keys(openapi.paths).length);
    // The platform's own protocols are not part of it.
    expect(Object.keys(openapi.paths).some((path) => path.startsWith("/grpc."))).toBe(false);
  });

  it("describes requests, answers and errors in the protobuf JSON mapping, with each RPC's roles", () => {
    const schemas = openapi.components.schemas;
    const placeOrder = openapi.paths["/trial.order.v1.OrderService/PlaceOrder"].post;
    expect(placeOrder.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/trial.order.v1.PlaceOrderRequest",
    });
    expect(placeOrder.responses.default).toEqual({ $ref: "#/components/responses/ConnectError" });
    // Roles from order's access declarations: customers on their own customerId; admin always.
    expect(placeOrder.security).toEqual([{ bearer: ["admin", "customer"] }]);
    expect(placeOrder["x-hexa-access"]).toEqual({
      roles: [],
      own: { role: "customer", field: "customerId" },
    });
    expect(openapi.paths["/trial.order.v1.OrderService/CancelOrdersForPlan"].post.security).toEqual([
      { bearer: ["admin", "service"] },
    ]);
    expect(openapi.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    // Field names in lowerCamelCase, enums by name, timestamps as RFC 3339 strings.
    const order = schemas["trial.order.v1.Order"];
    expect(order.properties.placedAt).toMatchObject({ type: "string", format: "date-time" });
    expect(order.properties.status).toEqual({ $ref: "#/components/schemas/trial.order.v1.OrderStatus" });
    expect(schemas["trial.order.v1.OrderStatus"].enum).toContain("ORDER_STATUS_PLACED");
    // 64-bit integers are strings in protobuf JSON.
    expect(
      schemas["vaccination.dashboard.v1.GetVaccinationCountResponse"].properties.vaccinations,
    ).toMatchObject({
      type: "string",
      format: "int64",
    });
    // The Connect error and our details.
    expect(schemas["connect.error"].properties.code.enum).toContain("failed_precondition");
    expect(schemas["connect.error.detail"].properties.type.enum).toEqual([
      "hexa.common.v1.FieldViolation",
      "hexa.common.v1.PreconditionFailure",
      "hexa.common.v1.ResourceInfo",
      "hexa.common.v1.RetryInfo",
    ]);
    expect(schemas["hexa.common.v1.FieldViolation"].properties).toHaveProperty("field");
    // Every reference resolves.
    const refs = JSON.stringify(openapi).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
    for (const ref of new Set(refs)) expect(schemas).toHaveProperty([ref.slice(22, -1)]);
  });

  it("serves a valid AsyncAPI 3.0 document with every event, its headers, publisher and consumers", async () => {
    const { diagnostics } = await new Parser().parse(JSON.stringify(asyncapi));
    expect(diagnostics.filter((diagnostic) => diagnostic.severity === 0)).toEqual([]);
    expect(asyncapi.asyncapi).toBe("3.0.0");
    const files = await eventFiles();
    expect(files.length).toBeGreaterThanOrEqual(7);
    const embedded = new Set(
      files.flatMap((file) => file.messages.flatMap((m) => m.fields.map((f) => f.message?.typeName))),
    );
    const events = files.flatMap((file) => file.messages).filter((m) => !embedded.has(m.typeName));
    for (const event of events) {
      const id = event.typeName.replaceAll(".", "_");
      expect(asyncapi.channels[id]?.address, event.typeName).toBe(event.typeName);
      expect(asyncapi.components.messages[id].payload).toEqual({ $ref: `#/components/schemas/${id}` });
      const publish = asyncapi.operations[`${id}_publish`];
      expect(publish.action).toBe("send");
      expect(publish["x-hexa-service"], `publisher of ${event.typeName}`).toBeDefined();
    }
    expect(Object.keys(asyncapi.channels)).toHaveLength(events.length);
    const headers = asyncapi.components.schemas.hexa_event_headers.properties;
    for (const name of [
      "Hexa-Event-Id",
      "Hexa-Event-Type",
      "Hexa-Aggregate-Id",
      "Hexa-Occurred-At",
      "traceparent",
    ]) {
      expect(headers).toHaveProperty([name]);
    }
    expect(asyncapi.operations.trial_order_v1_OrderPlaced_publish["x-hexa-service"]).toBe("order");
    // Each consumer the modules declare is a receive operation on its event's channel.
    const consumers = modules.flatMap(declaredConsumers);
    expect(consumers.map((c) => c.name)).toContain("warehouse-order-placed");
    for (const consumer of consumers) {
      const operation = asyncapi.operations[consumer.name];
      expect(operation?.action, consumer.name).toBe("receive");
      expect(operation.channel).toEqual({ $ref: `#/channels/${consumer.eventType.replaceAll(".", "_")}` });
    }
    const receives = Object.values(asyncapi.operations).filter(
      (operation) => (operation as Json).action === "receive",
    );
    expect(receives).toHaveLength(consumers.length);
  });

  it("answers a read RPC by Connect GET, and refuses GET of a command", async () => {
    const marketing = connectJsonClient(MarketingService, app.url);
    const { plan } = await marketing.startTrialPlan({
      productId: "kayak-get",
      name: "Kayak week",
      trialDays: 7,
    });
    const token = await adminToken();
    const message = encodeURIComponent(JSON.stringify({ planId: plan?.planId }));
    const response = await fetch(
      `${app.url}/trial.marketing.v1.MarketingService/GetTrialPlan?encoding=json&message=${message}`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ plan: { planId: plan?.planId, name: "Kayak week" } });
    const command = await fetch(
      `${app.url}/trial.order.v1.OrderService/PlaceOrder?encoding=json&message=${encodeURIComponent("{}")}`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(command.status).toBe(405);
  });

  it("answers an unknown RPC with a Connect error, not a bare 404", async () => {
    for (const path of ["/trial.order.v1.OrderService/ShipToMoon", "/trial.nothing.v1.NoService/Get"]) {
      const response = await fetch(`${app.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(response.status).toBe(501);
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(await response.json()).toEqual({ code: "unimplemented", message: `no procedure ${path} here` });
    }
    // A gRPC caller gets the status in its own protocol.
    const grpc = new GrpcJsClient(app.url);
    const unknown = { ...OrderService.method.getOrder, name: "NoSuchMethod" };
    const result = await grpc.call(unknown, { orderId: "x" });
    expect(result).toMatchObject({ ok: false, code: Code.Unimplemented });
  });

  it("serves the API reference page with its script from this server only", async () => {
    const page = await fetch(`${app.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('src="/docs/scalar.js"');
    expect(html).toContain('"url":"/openapi.json"');
    expect(html).toContain('"url":"/asyncapi.json"');
    expect(html).not.toMatch(/https?:\/\//);
    const script = await fetch(`${app.url}/docs/scalar.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await script.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
  });
});
