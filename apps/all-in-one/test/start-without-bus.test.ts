import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import {
  connectJsonClient,
  createTestDatabase,
  describeWithNats,
  eventually,
  freePort,
  PrivateNats,
  query,
  type RunningApp,
  startApp,
  type TestDatabase,
} from "@hexa/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { settledOrderStatuses } from "./settled-orders.ts";

const SERVICES = ["order", "marketing", "warehouse", "delivery"] as const;
type Service = (typeof SERVICES)[number];

async function metric(url: string, name: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split("\n").filter((line) => line.startsWith(name));
}

describeWithNats("a service starts and takes orders while NATS is down", () => {
  let database: TestDatabase;
  let nats: PrivateNats;
  const apps = new Map<Service, RunningApp>();
  const envs = new Map<Service, Record<string, string>>();

  beforeAll(async () => {
    database = await createTestDatabase();
    nats = new PrivateNats(await freePort());
    await nats.start();
    for (const service of SERVICES) {
      envs.set(service, { DATABASE_URL: database.url, NATS_URL: nats.url, PORT: String(await freePort()) });
    }
    envs.set("marketing", { ...(envs.get("marketing") ?? {}), ORDER_URL: url("order") });
    for (const service of SERVICES) apps.set(service, await startApp(service, envs.get(service) ?? {}));
  });

  afterAll(async () => {
    await Promise.all([...apps.values()].map((app) => app.stop()));
    await nats?.remove();
    await database?.drop();
  });

  function url(service: Service): string {
    return `http://127.0.0.1:${envs.get(service)?.PORT}`;
  }

  it("restarted without NATS, order starts, is ready and takes orders; NATS back, each flows once", async () => {
    const productId = "no-bus-product";
    const units = 5;
    await connectJsonClient(WarehouseService, url("warehouse")).restock({ productId, quantity: units });
    const { plan } = await connectJsonClient(MarketingService, url("marketing")).startTrialPlan({
      productId,
      name: productId,
      trialDays: 7,
    });
    const planId = plan?.planId ?? "";
    const orders = connectJsonClient(OrderService, url("order"));
    const place = (n: number) =>
      orders.placeOrder({ customerId: `customer-${n}`, planId, quantity: 1, address: "1 Outage Street" });
    const accepted = [(await eventually(() => place(0))).order?.orderId ?? ""];

    await nats.kill();
    await apps.get("order")?.stop();
    // startApp waits for /readyz 200: the service starts and is ready without the bus.
    apps.set("order", await startApp("order", envs.get("order") ?? {}));
    const readyz = await fetch(`${url("order")}/readyz`);
    expect({ status: readyz.status, body: await readyz.json() }).toEqual({
      status: 200,
      body: { status: "ready", degraded: ["bus"] },
    });
    for (let n = 1; n <= 8; n++) accepted.push((await place(n)).order?.orderId ?? "");
    expect(await metric(url("order"), "hexa_bus_connected")).toEqual(["hexa_bus_connected 0"]);
    const [backlog] = await metric(url("order"), 'hexa_outbox_unpublished_events{schema="trial_order"}');
    expect(Number(backlog?.split(" ")[1])).toBeGreaterThanOrEqual(8);

    await nats.start();
    const statuses = await settledOrderStatuses(orders, accepted);
    // Nothing lost, nothing doubled: each order took at most one unit, the stock's books balance.
    const delivering = statuses.filter((status) => status === OrderStatus.DELIVERING).length;
    expect(delivering).toBe(units);
    expect(statuses.filter((status) => status === OrderStatus.REJECTED).length).toBe(accepted.length - units);
    const { stock } = await connectJsonClient(WarehouseService, url("warehouse")).getStock({ productId });
    expect({ onHand: stock?.onHand, reserved: stock?.reserved }).toEqual({ onHand: units, reserved: units });
    await eventually(async () => {
      expect(await metric(url("order"), "hexa_bus_connected")).toEqual(["hexa_bus_connected 1"]);
      const [row] = await query<{ unpublished: string }>(
        database.url,
        "select count(*) as unpublished from trial_order.outbox where published_at is null",
      );
      expect(row?.unpublished).toBe("0");
    });
    const readyAgain = await fetch(`${url("order")}/readyz`);
    expect(await readyAgain.json()).toEqual({ status: "ready" });
  }, 120_000);
});
