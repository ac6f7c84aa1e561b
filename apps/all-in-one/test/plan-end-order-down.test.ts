import { Code, ConnectError } from "@connectrpc/connect";
import { MarketingService, OrdersClosing_State } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
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

describeWithNats("ending a plan while the order service is down", () => {
  let database: TestDatabase;
  let marketing: RunningApp;
  let order: RunningApp;
  let orderEnv: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    const shared = { DATABASE_URL: database.url, NATS_URL: natsUrl(), BUS_NAMESPACE: uniqueNamespace() };
    orderEnv = { ...shared, PORT: String(await freePort()) };
    order = await startApp("order", orderEnv);
    marketing = await startApp("marketing", {
      ...shared,
      PORT: String(await freePort()),
      ORDER_URL: order.url,
    });
  });

  afterAll(async () => {
    await Promise.all([marketing?.stop(), order?.stop()]);
    await database?.drop();
  });

  it("ends the plan at once, opens the breaker, and cancels every order of the plan once order is back", async () => {
    const plans = connectJsonClient(MarketingService, marketing.url);
    const orders = connectJsonClient(OrderService, order.url);
    const { plan } = await plans.startTrialPlan({ productId: "tent", name: "Tent weekend", trialDays: 3 });
    const planId = plan?.planId ?? "";
    const placed = [];
    for (let n = 0; n < 3; n++) {
      placed.push(
        await eventually(() =>
          orders.placeOrder({ customerId: `c-${n}`, planId, quantity: 1, address: "a" }),
        ),
      );
    }

    await order.kill();
    const started = Date.now();
    const ended = await plans.endTrialPlan({ planId });
    expect(Date.now() - started).toBeLessThan(7_000);
    expect(ended.plan?.ordersClosing).toMatchObject({ state: OrdersClosing_State.PENDING, attempts: 1 });
    expect(ended.plan?.ordersClosing?.lastError).not.toBe("");

    // The retry job keeps failing until the breaker opens; marketing logs the state change.
    await eventually(async () => expect(marketing.output()).toContain('"to":"open"'), 20_000, 200);
    const whileDown = await plans.getTrialPlan({ planId });
    expect(whileDown.plan?.ordersClosing?.state).toBe(OrdersClosing_State.PENDING);

    order = await startApp("order", orderEnv);
    const closed = await eventually(
      async () => {
        const { plan: now } = await plans.getTrialPlan({ planId });
        expect(now?.ordersClosing?.state).toBe(OrdersClosing_State.DONE);
        return now;
      },
      30_000,
      250,
    );
    expect(closed?.ordersClosing?.cancelledOrders).toBe(3);
    for (const { order: each } of placed) {
      const { order: now } = await orders.getOrder({ orderId: each?.orderId ?? "" });
      expect(now?.status).toBe(OrderStatus.CANCELLED);
    }
    const refused = await orders
      .placeOrder({ customerId: "late", planId, quantity: 1, address: "a" })
      .catch((error: unknown) => ConnectError.from(error));
    expect(refused).toMatchObject({ code: Code.FailedPrecondition });
  });
});
