import { FailedPrecondition, InvalidArgument, NotFound, Unavailable } from "@hexa/core/shared";
import {
  cancelOrder,
  cancelOrdersForPlan,
  getOrder,
  type OfferedPlan,
  type OfferedPlans,
  Order,
  type OrderEvent,
  type OrderPorts,
  type Orders,
  placeOrder,
  requestDueReturns,
  requestReturn,
  whenDeliveryCompleted,
  whenDeliveryStarted,
  whenPickupCompleted,
  whenPlanEnded,
  whenPlanStarted,
  whenStockShortage,
} from "@hexa/core/trial/order";
import { beforeEach, describe, expect, it } from "vitest";
import { refusal, testContext } from "../support.ts";

class OrdersInMemory implements Orders {
  readonly saved = new Map<string, Order>();
  readonly events: OrderEvent[] = [];
  async get(orderId: string) {
    const order = this.saved.get(orderId);
    return order ? Order.restore(order.state) : undefined;
  }
  async save(order: Order) {
    this.saved.set(order.id, Order.restore(order.state));
    this.events.push(...order.pullEvents());
  }
  async ofPlan(planId: string) {
    return [...this.saved.values()]
      .filter((o) => o.state.planId === planId)
      .map((o) => Order.restore(o.state));
  }
  async dueForReturn(now: Date, limit: number) {
    return [...this.saved.values()]
      .filter((o) => o.state.status === "DELIVERED" && o.state.returnDueAt <= now)
      .slice(0, limit)
      .map((o) => Order.restore(o.state));
  }
}

class OfferedPlansInMemory implements OfferedPlans {
  readonly saved = new Map<string, OfferedPlan>();
  async get(planId: string) {
    return this.saved.get(planId);
  }
  async save(plan: OfferedPlan) {
    this.saved.set(plan.planId, plan);
  }
}

const PLAN = "11111111-1111-7111-8111-111111111111";
const started = { planId: PLAN, productId: "espresso-machine", trialDays: 14 };
const order = { customerId: "customer-1", planId: PLAN, quantity: 2, address: "1 Main St" };
const DAY = 86_400_000;

type Ports = OrderPorts & {
  orders: OrdersInMemory;
  offeredPlans: OfferedPlansInMemory;
  clock: ReturnType<typeof testContext>["clock"];
};

function newPorts(): Ports {
  return { ...testContext(), orders: new OrdersInMemory(), offeredPlans: new OfferedPlansInMemory() };
}

async function placed(ports: Ports) {
  await whenPlanStarted(ports, started);
  return placeOrder(ports, order);
}

async function delivered(ports: Ports) {
  const { orderId } = await placed(ports);
  await whenDeliveryStarted(ports, { orderId });
  await whenDeliveryCompleted(ports, { orderId });
  return orderId;
}

function eventsOf(ports: Ports, type: OrderEvent["type"]) {
  return ports.orders.events.filter((event) => event.type === type);
}

describe("placing an order", () => {
  let ports: Ports;
  beforeEach(() => {
    ports = newPorts();
  });

  it("is PLACED for an active plan, due back after the plan's trial days, and records OrderPlaced", async () => {
    const state = await placed(ports);
    expect(state).toEqual({
      orderId: "00000000-0000-7000-8000-000000000001",
      ...order,
      productId: "espresso-machine",
      status: "PLACED",
      placedAt: new Date("2026-03-01T09:00:00.000Z"),
      returnDueAt: new Date("2026-03-15T09:00:00.000Z"),
    });
    expect(ports.orders.events).toEqual([
      {
        id: "00000000-0000-7000-8000-000000000002",
        type: "trial.order.v1.OrderPlaced",
        aggregateId: state.orderId,
        occurredAt: state.placedAt,
        data: {
          orderId: state.orderId,
          ...order,
          productId: "espresso-machine",
          placedAt: state.placedAt,
          returnDueAt: state.returnDueAt,
        },
      },
    ]);
    expect(await getOrder(ports, { orderId: state.orderId })).toEqual(state);
  });

  it("refuses a plan not heard of yet as retryable (plan-must-be-known) and an ended plan (plan-must-be-active), writing nothing", async () => {
    const unknown = await refusal(placeOrder(ports, order));
    expect(unknown).toBeInstanceOf(Unavailable);
    expect(unknown).toMatchObject({ retry: { rule: "plan-must-be-known", afterMs: 1_000 } });
    expect((unknown as Error).message).toContain(`order has not heard of plan ${PLAN} yet`);

    await whenPlanStarted(ports, started);
    await whenPlanEnded(ports, { planId: PLAN });
    const ended = await refusal(placeOrder(ports, order));
    expect(ended).toBeInstanceOf(FailedPrecondition);
    expect(ended).toMatchObject({ rule: "plan-must-be-active", description: `plan ${PLAN} has ended` });
    expect(ports.orders.saved.size).toBe(0);
  });

  it.each([
    [{ ...order, customerId: "" }, "customerId"],
    [{ ...order, planId: "" }, "planId"],
    [{ ...order, planId: "not-a-uuid" }, "planId"],
    [{ ...order, quantity: 0 }, "quantity"],
    [{ ...order, quantity: 11 }, "quantity"],
    [{ ...order, address: " " }, "address"],
    [{ ...order, address: "a".repeat(501) }, "address"],
  ])("refuses %j naming the field %s", async (command, field) => {
    await whenPlanStarted(ports, started);
    const error = await refusal(placeOrder(ports, command));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field });
    expect(ports.orders.saved.size).toBe(0);
  });

  it("answers NotFound for an unknown order", async () => {
    await expect(getOrder(ports, { orderId: PLAN })).rejects.toBeInstanceOf(NotFound);
  });
});

describe("an order's life", () => {
  let ports: Ports;
  beforeEach(() => {
    ports = newPorts();
  });

  it("goes PLACED -> DELIVERING -> DELIVERED -> RETURN_REQUESTED -> RETURNED", async () => {
    const { orderId } = await placed(ports);
    expect((await whenDeliveryStarted(ports, { orderId })).status).toBe("DELIVERING");
    expect((await whenDeliveryCompleted(ports, { orderId })).status).toBe("DELIVERED");
    ports.clock.advance(60_000);
    const returning = await requestReturn(ports, { orderId });
    expect(returning).toMatchObject({ status: "RETURN_REQUESTED", returnReason: "CUSTOMER" });
    expect(eventsOf(ports, "trial.order.v1.ReturnRequested")).toEqual([
      expect.objectContaining({
        aggregateId: orderId,
        data: {
          orderId,
          productId: "espresso-machine",
          quantity: 2,
          address: "1 Main St",
          reason: "CUSTOMER",
          requestedAt: new Date("2026-03-01T09:01:00.000Z"),
        },
      }),
    ]);
    expect((await whenPickupCompleted(ports, { orderId })).status).toBe("RETURNED");
  });

  it.each(["PLACED", "DELIVERING"] as const)("is cancelled by its customer while %s", async (status) => {
    const { orderId } = await placed(ports);
    if (status === "DELIVERING") await whenDeliveryStarted(ports, { orderId });
    const cancelled = await cancelOrder(ports, { orderId });
    expect(cancelled).toMatchObject({ status: "CANCELLED", cancellationReason: "CUSTOMER" });
    expect(eventsOf(ports, "trial.order.v1.OrderCancelled")).toEqual([
      expect.objectContaining({
        data: {
          orderId,
          planId: PLAN,
          productId: "espresso-machine",
          quantity: 2,
          reason: "CUSTOMER",
          cancelledAt: new Date("2026-03-01T09:00:00.000Z"),
        },
      }),
    ]);
  });

  it("refuses to cancel a delivered, cancelled or returned order (rule order-must-be-placed-or-delivering)", async () => {
    const orderId = await delivered(ports);
    expect(await refusal(cancelOrder(ports, { orderId }))).toMatchObject({
      rule: "order-must-be-placed-or-delivering",
      description: expect.stringContaining("request its return instead"),
    });
    const other = (await placeOrder(ports, order)).orderId;
    await cancelOrder(ports, { orderId: other });
    expect(await refusal(cancelOrder(ports, { orderId: other }))).toMatchObject({
      rule: "order-must-be-placed-or-delivering",
    });
    expect(eventsOf(ports, "trial.order.v1.OrderCancelled")).toHaveLength(1);
  });

  it("refuses a return before delivery and a second return (rule order-must-be-delivered)", async () => {
    const { orderId } = await placed(ports);
    expect(await refusal(requestReturn(ports, { orderId }))).toMatchObject({
      rule: "order-must-be-delivered",
    });
    await whenDeliveryStarted(ports, { orderId });
    await whenDeliveryCompleted(ports, { orderId });
    await requestReturn(ports, { orderId });
    expect(await refusal(requestReturn(ports, { orderId }))).toMatchObject({
      rule: "order-must-be-delivered",
    });
    expect(eventsOf(ports, "trial.order.v1.ReturnRequested")).toHaveLength(1);
  });

  it("is REJECTED with OrderRejected when the warehouse has no stock (the saga's compensation)", async () => {
    const { orderId } = await placed(ports);
    const rejected = await whenStockShortage(ports, { orderId, requested: 2, available: 1 });
    expect(rejected.status).toBe("REJECTED");
    expect(eventsOf(ports, "trial.order.v1.OrderRejected")).toEqual([
      expect.objectContaining({
        data: {
          orderId,
          productId: "espresso-machine",
          quantity: 2,
          reason: "2 requested, 1 available",
          rejectedAt: new Date("2026-03-01T09:00:00.000Z"),
        },
      }),
    ]);
    // A later delivery event cannot resurrect it, and a redelivered shortage records nothing more.
    expect((await whenDeliveryStarted(ports, { orderId })).status).toBe("REJECTED");
    await whenStockShortage(ports, { orderId, requested: 2, available: 1 });
    expect(eventsOf(ports, "trial.order.v1.OrderRejected")).toHaveLength(1);
  });

  it("stays CANCELLED when a shortage or a delivery start arrives after the cancellation", async () => {
    const { orderId } = await placed(ports);
    await cancelOrder(ports, { orderId });
    expect((await whenStockShortage(ports, { orderId, requested: 2, available: 0 })).status).toBe(
      "CANCELLED",
    );
    expect((await whenDeliveryStarted(ports, { orderId })).status).toBe("CANCELLED");
    expect(eventsOf(ports, "trial.order.v1.OrderRejected")).toHaveLength(0);
  });

  it("turns a cancellation that lost the race to the courier into a return", async () => {
    const { orderId } = await placed(ports);
    await whenDeliveryStarted(ports, { orderId });
    await cancelOrder(ports, { orderId });
    const after = await whenDeliveryCompleted(ports, { orderId });
    expect(after).toMatchObject({ status: "RETURN_REQUESTED", returnReason: "CANCELLED_AFTER_DELIVERY" });
    expect(eventsOf(ports, "trial.order.v1.ReturnRequested")).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ reason: "CANCELLED_AFTER_DELIVERY" }) }),
    ]);
    expect((await whenPickupCompleted(ports, { orderId })).status).toBe("RETURNED");
  });

  it("ignores redelivered delivery events", async () => {
    const orderId = await delivered(ports);
    await whenDeliveryStarted(ports, { orderId });
    await whenDeliveryCompleted(ports, { orderId });
    expect((await getOrder(ports, { orderId })).status).toBe("DELIVERED");
    expect(ports.orders.events.map((event) => event.type)).toEqual(["trial.order.v1.OrderPlaced"]);
  });

  it("fails a policy for an unknown order, so the event is retried rather than lost", async () => {
    await expect(whenDeliveryStarted(ports, { orderId: PLAN })).rejects.toBeInstanceOf(NotFound);
  });
});

describe("the end of the trial period", () => {
  it("requests the return of delivered orders once due, once, with reason TRIAL_ENDED", async () => {
    const ports = newPorts();
    const orderId = await delivered(ports);
    const notYet = (await placeOrder(ports, order)).orderId;
    ports.clock.advance(14 * DAY - 1);
    expect(await requestDueReturns(ports, { limit: 10 })).toBe(0);
    ports.clock.advance(1);
    expect(await requestDueReturns(ports, { limit: 10 })).toBe(1);
    expect(await requestDueReturns(ports, { limit: 10 })).toBe(0);
    expect(await getOrder(ports, { orderId })).toMatchObject({
      status: "RETURN_REQUESTED",
      returnReason: "TRIAL_ENDED",
    });
    expect((await getOrder(ports, { orderId: notYet })).status).toBe("PLACED");
  });
});

describe("closing the orders of an ended plan", () => {
  it("cancels open orders, asks delivered ones back, refuses new ones, and answers the same when repeated", async () => {
    const ports = newPorts();
    const placedId = (await placed(ports)).orderId;
    const delivering = (await placeOrder(ports, order)).orderId;
    await whenDeliveryStarted(ports, { orderId: delivering });
    const deliveredId = (await placeOrder(ports, order)).orderId;
    await whenDeliveryStarted(ports, { orderId: deliveredId });
    await whenDeliveryCompleted(ports, { orderId: deliveredId });
    const cancelledByCustomer = (await placeOrder(ports, order)).orderId;
    await cancelOrder(ports, { orderId: cancelledByCustomer });

    const first = await cancelOrdersForPlan(ports, { planId: PLAN });
    expect(first).toEqual({
      cancelledOrderIds: [placedId, delivering],
      returnRequestedOrderIds: [deliveredId],
    });
    expect((await getOrder(ports, { orderId: cancelledByCustomer })).cancellationReason).toBe("CUSTOMER");
    expect(await refusal(placeOrder(ports, order))).toMatchObject({ rule: "plan-must-be-active" });

    const eventsBefore = ports.orders.events.length;
    expect(await cancelOrdersForPlan(ports, { planId: PLAN })).toEqual(first);
    expect(ports.orders.events.length).toBe(eventsBefore);
    expect(
      eventsOf(ports, "trial.order.v1.OrderCancelled").map(
        (e) => e.type === "trial.order.v1.OrderCancelled" && e.data.reason,
      ),
    ).toEqual(["CUSTOMER", "PLAN_ENDED", "PLAN_ENDED"]);
  });

  it("ends the plan even when order learns of it before PlanEnded arrives", async () => {
    const ports = newPorts();
    await cancelOrdersForPlan(ports, { planId: PLAN });
    await whenPlanStarted(ports, started);
    expect(await refusal(placeOrder(ports, order))).toMatchObject({ rule: "plan-must-be-active" });
  });

  it("names planId when it is not a UUID", async () => {
    await expect(cancelOrdersForPlan(newPorts(), { planId: "x" })).rejects.toMatchObject({ field: "planId" });
  });
});

describe("offered plans (order's replica of marketing's plans)", () => {
  let ports: Pick<OrderPorts, "offeredPlans">;
  beforeEach(() => {
    ports = { offeredPlans: new OfferedPlansInMemory() };
  });

  it("becomes ACTIVE on PlanStarted and ENDED on PlanEnded", async () => {
    expect(await whenPlanStarted(ports, started)).toEqual({ ...started, status: "ACTIVE" });
    expect(await whenPlanEnded(ports, { planId: PLAN })).toEqual({ ...started, status: "ENDED" });
  });

  it("stays ENDED when PlanEnded arrives before PlanStarted", async () => {
    await whenPlanEnded(ports, { planId: PLAN });
    expect(await whenPlanStarted(ports, started)).toEqual({ ...started, status: "ENDED" });
  });

  it("is unchanged by a redelivered PlanStarted", async () => {
    const first = await whenPlanStarted(ports, started);
    expect(await whenPlanStarted(ports, started)).toEqual(first);
  });
});
