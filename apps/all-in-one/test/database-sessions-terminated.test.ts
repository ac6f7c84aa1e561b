import { Code, ConnectError } from "@connectrpc/connect";
import { DashboardService, OrderState } from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import {
  connectJsonClient,
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
import { settledOrderStatuses } from "./settled-orders.ts";

const SERVICES = ["order", "marketing", "warehouse", "delivery", "dashboard"] as const;
type Service = (typeof SERVICES)[number];
const OUTBOXES = ["trial_order", "trial_marketing", "trial_warehouse", "trial_delivery"];

describeWithNats("the database drops every session during a load, twice", () => {
  let database: TestDatabase;
  const apps = new Map<Service, RunningApp>();
  const ports = new Map<Service, number>();

  beforeAll(async () => {
    database = await createTestDatabase();
    const shared = { DATABASE_URL: database.url, NATS_URL: natsUrl(), BUS_NAMESPACE: uniqueNamespace() };
    for (const service of SERVICES) ports.set(service, await freePort());
    await Promise.all(
      SERVICES.map(async (service) =>
        apps.set(
          service,
          await startApp(service, {
            ...shared,
            PORT: String(ports.get(service)),
            ...(service === "marketing" ? { ORDER_URL: url("order") } : {}),
          }),
        ),
      ),
    );
  });

  afterAll(async () => {
    await Promise.all([...apps.values()].map((app) => app.stop()));
    await database?.drop();
  });

  function url(service: Service): string {
    return `http://127.0.0.1:${ports.get(service)}`;
  }

  /** Every session of the test's database but the one asking, as a restart or failover ends them. */
  async function terminateSessions(): Promise<number> {
    const rows = await query<{ terminated: boolean }>(
      database.url,
      "select pg_terminate_backend(pid) as terminated from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
      [database.name],
    );
    return rows.filter((row) => row.terminated).length;
  }

  async function allReady(): Promise<void> {
    for (const service of SERVICES) {
      const response = await fetch(`${url(service)}/readyz`);
      expect(`${service} ${response.status}`).toBe(`${service} 200`);
    }
  }

  it("recovers within 10 s each time; accepted orders settle, outboxes drain, no unit stays reserved", async () => {
    const productId = "terminated-sessions-product";
    const units = 40;
    await connectJsonClient(WarehouseService, url("warehouse")).restock({ productId, quantity: units });
    const { plan } = await connectJsonClient(MarketingService, url("marketing")).startTrialPlan({
      productId,
      name: productId,
      trialDays: 7,
    });
    const planId = plan?.planId ?? "";
    const orders = connectJsonClient(OrderService, url("order"));
    const first = await eventually(() =>
      orders.placeOrder({ customerId: "customer-first", planId, quantity: 1, address: "1 Failover Lane" }),
    );
    const accepted = [first.order?.orderId ?? ""];
    const refusals = new Map<string, number>();

    let loading = true;
    let sequence = 0;
    const placer = async () => {
      while (loading) {
        const customerId = `customer-${sequence++}`;
        try {
          const placed = await orders.placeOrder({
            customerId,
            planId,
            quantity: 1,
            address: "1 Failover Lane",
          });
          accepted.push(placed.order?.orderId ?? "");
        } catch (error) {
          const code = Code[ConnectError.from(error).code];
          refusals.set(code, (refusals.get(code) ?? 0) + 1);
          await new Promise((resume) => setTimeout(resume, 50));
        }
      }
    };
    const load = Promise.all([placer(), placer(), placer()]);

    const recoveries: number[] = [];
    for (const _ of [1, 2]) {
      await new Promise((resume) => setTimeout(resume, 1_500));
      expect(await terminateSessions()).toBeGreaterThan(0);
      const terminatedAt = Date.now();
      await eventually(allReady, 10_000, 100);
      // Recovered: the database answers each service again, the order service takes orders.
      await eventually(
        () => orders.placeOrder({ customerId: `probe-${sequence++}`, planId, quantity: 1, address: "x" }),
        10_000 - (Date.now() - terminatedAt),
        100,
      ).then((placed) => accepted.push(placed.order?.orderId ?? ""));
      recoveries.push(Date.now() - terminatedAt);
    }
    loading = false;
    await load;
    console.log(
      `[sessions terminated] recovered in ${recoveries.join(" and ")} ms; ${accepted.length} orders accepted, refused: ${JSON.stringify(Object.fromEntries(refusals))}`,
    );
    // A call the database could not serve was refused as retryable, never as an internal failure.
    expect([...refusals.keys()].filter((code) => code !== "Unavailable")).toEqual([]);

    const statuses = await settledOrderStatuses(orders, accepted);
    const delivering = statuses.filter((status) => status === OrderStatus.DELIVERING).length;
    expect(delivering).toBe(Math.min(units, accepted.length));

    const dashboard = connectJsonClient(DashboardService, url("dashboard"));
    await eventually(
      async () => {
        const states = await Promise.all(
          accepted.map(async (orderId) => (await dashboard.getOrderStatus({ orderId })).order?.state),
        );
        expect(states.filter((state) => state === OrderState.DELIVERING).length).toBe(delivering);
        expect(states.filter((state) => state === OrderState.REJECTED).length).toBe(
          accepted.length - delivering,
        );
      },
      30_000,
      250,
    );

    const { stock } = await connectJsonClient(WarehouseService, url("warehouse")).getStock({ productId });
    expect({ onHand: stock?.onHand, reserved: stock?.reserved }).toEqual({
      onHand: units,
      reserved: delivering,
    });
    await eventually(async () => {
      for (const schema of OUTBOXES) {
        const [row] = await query<{ unpublished: string }>(
          database.url,
          `select count(*) as unpublished from ${schema}.outbox where published_at is null`,
        );
        expect(`${schema} ${row?.unpublished}`).toBe(`${schema} 0`);
      }
    }, 15_000);
    for (const service of SERVICES) expect(await apps.get(service)?.stop()).toBe(0);
    apps.clear();
  }, 120_000);

  it("a service whose database is gone reports not alive after DATABASE_LIVENESS_MS, and SIGTERM still ends it", async () => {
    const own = await createTestDatabase();
    const app = await startApp("order", {
      DATABASE_URL: own.url,
      NATS_URL: natsUrl(),
      BUS_NAMESPACE: uniqueNamespace(),
      PORT: String(await freePort()),
      DATABASE_LIVENESS_MS: "1000",
      SHUTDOWN_GRACE_MS: "1000",
    });
    try {
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
      await own.drop(); // ends its sessions; no new one can open
      const notReady = await eventually(async () => {
        const response = await fetch(`${app.url}/readyz`);
        expect(response.status).toBe(503);
        return response.json();
      });
      expect(notReady).toMatchObject({ failing: ["postgres:trial_order"] });
      // Still alive: the outage may be brief, and a restart would not help.
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
      const dead = await eventually(async () => {
        const response = await fetch(`${app.url}/healthz`);
        expect(response.status).toBe(503);
        return response.json();
      }, 5_000);
      expect(dead).toEqual({ status: "not_alive", failing: ["postgres:trial_order"] });
      const stopping = Date.now();
      expect(await app.stop()).not.toBeNull();
      console.log(`[database gone] SIGTERM ended the process in ${Date.now() - stopping} ms`);
    } finally {
      await app.kill();
    }
  }, 60_000);
});
