import { DeliveryService, DeliveryStatus } from "@hexa/proto/trial/delivery/v1/delivery_pb";
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
  type RunningApp,
  startApp,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { settledOrderStatuses } from "./settled-orders.ts";

const SERVICES = ["order", "marketing", "warehouse", "delivery"] as const;
type Service = (typeof SERVICES)[number];

describeWithNats("fault isolation: ordering works while warehouse and delivery are down", () => {
  let database: TestDatabase;
  const apps = new Map<Service, RunningApp>();
  const envs = new Map<Service, Record<string, string>>();

  beforeAll(async () => {
    database = await createTestDatabase();
    const shared = { DATABASE_URL: database.url, NATS_URL: natsUrl(), BUS_NAMESPACE: uniqueNamespace() };
    for (const service of SERVICES) envs.set(service, { ...shared, PORT: String(await freePort()) });
    const orderUrl = `http://127.0.0.1:${envs.get("order")?.PORT}`;
    envs.set("marketing", { ...(envs.get("marketing") ?? {}), ORDER_URL: orderUrl });
    for (const service of SERVICES) apps.set(service, await startApp(service, envs.get(service) ?? {}));
  });

  afterAll(async () => {
    await Promise.all([...apps.values()].map((app) => app.stop()));
    await database?.drop();
  });

  const url = (service: Service) => `http://127.0.0.1:${envs.get(service)?.PORT}`;

  /** Restocks `units`, starts a plan, places `count` orders of one unit each; returns the order ids. */
  async function setUp(productId: string, units: number) {
    await connectJsonClient(WarehouseService, url("warehouse")).restock({ productId, quantity: units });
    const { plan } = await connectJsonClient(MarketingService, url("marketing")).startTrialPlan({
      productId,
      name: productId,
      trialDays: 7,
    });
    return plan?.planId ?? "";
  }

  async function placeOrders(planId: string, count: number): Promise<string[]> {
    const orders = connectJsonClient(OrderService, url("order"));
    const ids: string[] = [];
    for (let n = 0; n < count; n++) {
      const placed = await eventually(() =>
        orders.placeOrder({ customerId: `customer-${n}`, planId, quantity: 1, address: "1 Isolation Row" }),
      );
      ids.push(placed.order?.orderId ?? "");
    }
    return ids;
  }

  /** Waits until every order has left PLACED; returns the outcome in a comparable form. */
  async function settled(productId: string, orderIds: string[]) {
    const orders = connectJsonClient(OrderService, url("order"));
    const delivery = connectJsonClient(DeliveryService, url("delivery"));
    const statuses = (await settledOrderStatuses(orders, orderIds))
      .map((status) => OrderStatus[status ?? 0])
      .sort();
    const shipments = await Promise.all(
      orderIds.map((orderId) =>
        delivery.getShipment({ orderId }).then(
          ({ shipment }) => DeliveryStatus[shipment?.deliveryStatus ?? 0],
          () => "NONE",
        ),
      ),
    );
    const { stock } = await connectJsonClient(WarehouseService, url("warehouse")).getStock({ productId });
    return {
      statuses,
      shipments: shipments.sort(),
      stock: { onHand: stock?.onHand, reserved: stock?.reserved, available: stock?.available },
    };
  }

  it("accepts orders with warehouse and delivery stopped, and they catch up to the same final state", async () => {
    // Reference run: nothing stopped.
    const referencePlan = await setUp("reference-product", 3);
    const reference = await settled("reference-product", await placeOrders(referencePlan, 5));
    expect(reference.statuses).toEqual(["DELIVERING", "DELIVERING", "DELIVERING", "REJECTED", "REJECTED"]);

    // Same inputs with warehouse and delivery down while the orders come in.
    const plan = await setUp("isolated-product", 3);
    for (const service of ["warehouse", "delivery"] as const) await apps.get(service)?.stop();
    const orderIds = await placeOrders(plan, 5);
    const orders = connectJsonClient(OrderService, url("order"));
    for (const orderId of orderIds) {
      expect((await orders.getOrder({ orderId })).order?.status).toBe(OrderStatus.PLACED);
    }
    for (const service of ["warehouse", "delivery"] as const) {
      apps.set(service, await startApp(service, envs.get(service) ?? {}));
    }
    expect(await settled("isolated-product", orderIds)).toEqual(reference);
  });
});
