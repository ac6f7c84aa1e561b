import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { marketingModule } from "@hexa/adapters/trial/marketing/module";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { FixedClock } from "@hexa/core/shared";
import { FieldViolationSchema, PreconditionFailureSchema } from "@hexa/proto/hexa/common/v1/errors_pb";
import { DeliveryCompletedSchema, DeliveryStartedSchema } from "@hexa/proto/trial/delivery/v1/events_pb";
import { PlanStartedSchema } from "@hexa/proto/trial/marketing/v1/events_pb";
import { MarketingService, TrialPlanStatus } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
import {
  connectJsonClient,
  envelope,
  eventually,
  type ModulesInProcess,
  query,
  refusal,
  startModules,
} from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DAY = 86_400_000;

function planStarted(planId: string, trialDays = 7) {
  return envelope(PlanStartedSchema, planId, {
    planId,
    productId: "kayak",
    name: "Kayak",
    trialDays,
    startedAt: timestampFromDate(new Date()),
  });
}

describe("order module", () => {
  const clock = new FixedClock(new Date("2026-06-01T10:00:00.000Z"));
  let first: ModulesInProcess;
  let replica: ModulesInProcess;
  let orders: ReturnType<typeof connectJsonClient<typeof OrderService>>;
  const planId = randomUUID();

  beforeAll(async () => {
    first = await startModules([orderModule], { clock });
    replica = await startModules([orderModule], { clock, databaseUrl: first.databaseUrl });
    orders = connectJsonClient(OrderService, first.url);
    await first.publish(planStarted(planId));
  });
  afterAll(async () => {
    await replica?.stop();
    await first?.stop();
  });

  async function counts(): Promise<{ orders: number; events: number }> {
    const [row] = await query<{ orders: number; events: number }>(
      first.databaseUrl,
      `select (select count(*)::int from trial_order.trial_order) as orders,
              (select count(*)::int from trial_order.outbox) as events`,
    );
    return row ?? { orders: -1, events: -1 };
  }

  async function place(customerId: string): Promise<string> {
    const { order } = await orders.placeOrder({ customerId, planId, quantity: 1, address: "1 Test Lane" });
    return order?.orderId ?? "";
  }

  async function deliver(orderId: string): Promise<void> {
    const at = timestampFromDate(clock.now());
    const parts = { orderId, productId: "kayak", quantity: 1 };
    await first.publish(
      envelope(DeliveryStartedSchema, orderId, { ...parts, customerId: "c", address: "a", startedAt: at }),
    );
    await first.publish(envelope(DeliveryCompletedSchema, orderId, { ...parts, deliveredAt: at }));
  }

  it("names the field of every bad argument, answers unknown ids with not_found, and writes nothing", async () => {
    const before = await counts();
    const unknown = randomUUID();
    const invalid: Array<[() => Promise<unknown>, string]> = [
      [() => orders.cancelOrder({ orderId: "x" }), "orderId"],
      [() => orders.requestReturn({ orderId: "" }), "orderId"],
      [() => orders.cancelOrdersForPlan({ planId: "nope" }), "planId"],
      [() => orders.listOrders({ pageSize: 101 }), "pageSize"],
      [() => orders.listOrders({ pageToken: "not-a-token" }), "pageToken"],
      [() => orders.listOrders({ status: 99 as OrderStatus }), "status"],
      [() => orders.listOrders({ planId: "x" }), "planId"],
    ];
    for (const [call, field] of invalid) {
      const error = await refusal(call());
      expect(error.code, field).toBe(Code.InvalidArgument);
      expect(error.findDetails(FieldViolationSchema), field).toEqual([expect.objectContaining({ field })]);
    }
    for (const call of [
      () => orders.cancelOrder({ orderId: unknown }),
      () => orders.requestReturn({ orderId: unknown }),
    ]) {
      expect((await refusal(call())).code).toBe(Code.NotFound);
    }
    expect(await counts()).toEqual(before);
  });

  it("names the rule when an order is in the wrong state, and writes nothing", async () => {
    const orderId = await eventually(() => place("rules"));
    const before = await counts();
    const early = await refusal(orders.requestReturn({ orderId }));
    expect(early.code).toBe(Code.FailedPrecondition);
    expect(early.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "order-must-be-delivered" }),
    ]);
    expect(await counts()).toEqual(before);

    await orders.cancelOrder({ orderId });
    const twice = await refusal(orders.cancelOrder({ orderId }));
    expect(twice.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "order-must-be-placed-or-delivering" }),
    ]);
  });

  it("refuses orders on a plan that ended after a replica remembered it active, and writes none", async () => {
    const endingPlan = randomUUID();
    await first.publish(planStarted(endingPlan));
    const onReplica = connectJsonClient(OrderService, replica.url);
    const order = { customerId: "late", planId: endingPlan, quantity: 1, address: "1 Test Lane" };
    await eventually(() => onReplica.placeOrder(order)); // the replica now remembers the plan active
    await orders.cancelOrdersForPlan({ planId: endingPlan });
    const before = await counts();
    const refused = await refusal(onReplica.placeOrder(order));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "plan-must-be-active" }),
    ]);
    expect(await counts()).toEqual(before);
  });

  it("lists orders newest first by customer and status, page by page", async () => {
    const placed: string[] = [];
    for (let n = 0; n < 5; n++) {
      placed.push(await eventually(() => place("lister")));
      clock.advance(1_000);
    }
    await orders.cancelOrder({ orderId: placed[1] ?? "" });
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await orders.listOrders({ customerId: "lister", pageSize: 2, pageToken });
      expect(page.orders.length).toBeLessThanOrEqual(2);
      seen.push(...page.orders.map((order) => order.orderId));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual([...placed].reverse());
    const cancelled = await orders.listOrders({ customerId: "lister", status: OrderStatus.CANCELLED });
    expect(cancelled.orders.map((order) => order.orderId)).toEqual([placed[1]]);
  });

  it("requests each due return once, with two replicas running the scheduler", async () => {
    const due = [await eventually(() => place("due")), await place("due"), await place("due")];
    for (const orderId of due) await deliver(orderId);
    await eventually(async () => {
      const statuses = await Promise.all(
        due.map(async (orderId) => (await orders.getOrder({ orderId })).order?.status),
      );
      expect(statuses).toEqual(due.map(() => OrderStatus.DELIVERED));
    });
    clock.advance(7 * DAY);
    await eventually(
      async () => {
        const rows = await query<{ aggregate_id: string; n: number }>(
          first.databaseUrl,
          `select aggregate_id, count(*)::int as n from trial_order.outbox
            where event_type = 'trial.order.v1.ReturnRequested' and aggregate_id = any($1) group by aggregate_id`,
          [due],
        );
        expect(rows.map((row) => row.n)).toEqual([1, 1, 1]);
      },
      10_000,
      200,
    );
    // Further rounds of both schedulers request nothing more.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const [again] = await query<{ n: number }>(
      first.databaseUrl,
      "select count(*)::int as n from trial_order.outbox where event_type = 'trial.order.v1.ReturnRequested' and aggregate_id = any($1)",
      [due],
    );
    expect(again?.n).toBe(3);
  });
});

describe("marketing module", () => {
  let services: ModulesInProcess;
  let plans: ReturnType<typeof connectJsonClient<typeof MarketingService>>;
  beforeAll(async () => {
    services = await startModules([marketingModule, orderModule]);
    plans = connectJsonClient(MarketingService, services.url);
  });
  afterAll(async () => {
    await services?.stop();
  });

  it("lists plans newest first, page by page, by status", async () => {
    const started: string[] = [];
    for (let n = 0; n < 3; n++) {
      const { plan } = await plans.startTrialPlan({ productId: `p-${n}`, name: `Plan ${n}`, trialDays: 3 });
      started.push(plan?.planId ?? "");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await plans.endTrialPlan({ planId: started[0] ?? "" });
    const first = await plans.listTrialPlans({ pageSize: 2 });
    const second = await plans.listTrialPlans({ pageSize: 2, pageToken: first.nextPageToken });
    expect([...first.plans, ...second.plans].map((plan) => plan.planId)).toEqual([...started].reverse());
    expect(second.nextPageToken).toBe("");
    const ended = await plans.listTrialPlans({ status: TrialPlanStatus.ENDED });
    expect(ended.plans.map((plan) => plan.planId)).toEqual([started[0]]);
    expect(ended.plans[0]?.ordersClosing).toMatchObject({ cancelledOrders: 0 });
  });

  it("names pageSize, pageToken and status when they are bad", async () => {
    for (const [call, field] of [
      [() => plans.listTrialPlans({ pageSize: -1 }), "pageSize"],
      [() => plans.listTrialPlans({ pageToken: "###" }), "pageToken"],
      [() => plans.listTrialPlans({ status: 7 as TrialPlanStatus }), "status"],
    ] as const) {
      const error = await refusal(call());
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.findDetails(FieldViolationSchema)).toEqual([expect.objectContaining({ field })]);
    }
  });
});
