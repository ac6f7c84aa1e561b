import { FailedPrecondition, InvalidArgument, NotFound } from "@hexa/core/shared";
import {
  getOrder,
  type OfferedPlan,
  type OfferedPlans,
  Order,
  type OrderPorts,
  type Orders,
  placeOrder,
  whenPlanEnded,
  whenPlanStarted,
} from "@hexa/core/trial/order";
import { beforeEach, describe, expect, it } from "vitest";
import { testContext } from "../support.ts";

class OrdersInMemory implements Orders {
  readonly saved = new Map<string, Order>();
  readonly events: unknown[] = [];
  async get(orderId: string) {
    const order = this.saved.get(orderId);
    return order ? Order.restore(order.state) : undefined;
  }
  async save(order: Order) {
    this.saved.set(order.id, order);
    this.events.push(...order.pullEvents());
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

describe("Order", () => {
  let ports: OrderPorts & { orders: OrdersInMemory; offeredPlans: OfferedPlansInMemory };
  beforeEach(() => {
    ports = { ...testContext(), orders: new OrdersInMemory(), offeredPlans: new OfferedPlansInMemory() };
  });

  it("is PLACED for an active plan, due back after the plan's trial days, and records OrderPlaced", async () => {
    await whenPlanStarted(ports, started);
    const placed = await placeOrder(ports, order);
    expect(placed).toEqual({
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
        aggregateId: placed.orderId,
        occurredAt: placed.placedAt,
        data: placed,
      },
    ]);
    expect(await getOrder(ports, { orderId: placed.orderId })).toEqual(placed);
  });

  it("refuses an unknown plan and an ended plan with rule plan-must-be-active, writing nothing", async () => {
    const unknown = await placeOrder(ports, order).catch((caught: unknown) => caught);
    expect(unknown).toBeInstanceOf(FailedPrecondition);
    expect(unknown).toMatchObject({ rule: "plan-must-be-active" });

    await whenPlanStarted(ports, started);
    await whenPlanEnded(ports, { planId: PLAN });
    const ended = await placeOrder(ports, order).catch((caught: unknown) => caught);
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
    const error = await placeOrder(ports, command).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field });
    expect(ports.orders.saved.size).toBe(0);
  });

  it("answers NotFound for an unknown order", async () => {
    await expect(getOrder(ports, { orderId: PLAN })).rejects.toBeInstanceOf(NotFound);
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
