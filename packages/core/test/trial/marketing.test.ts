import { FailedPrecondition, InvalidArgument, NotFound } from "@hexa/core/shared";
import {
  type ClosingPorts,
  closePlanOrders,
  closingRetryDelayMs,
  endTrialPlan,
  getTrialPlan,
  type MarketingPorts,
  type OrdersClosingOutcome,
  recordOrdersClosing,
  retryDueClosings,
  startTrialPlan,
  TrialPlan,
  type TrialPlans,
} from "@hexa/core/trial/marketing";
import { beforeEach, describe, expect, it } from "vitest";
import { testContext } from "../support.ts";

class PlansInMemory implements TrialPlans {
  readonly saved = new Map<string, TrialPlan>();
  readonly events: unknown[] = [];
  async get(planId: string) {
    const plan = this.saved.get(planId);
    return plan ? TrialPlan.restore(plan.state) : undefined;
  }
  async save(plan: TrialPlan) {
    this.saved.set(plan.id, TrialPlan.restore(plan.state));
    this.events.push(...plan.pullEvents());
  }
  async claimDueClosings(now: Date, limit: number) {
    return [...this.saved.values()]
      .filter((plan) => {
        const closing = plan.state.ordersClosing;
        return (
          closing?.state === "PENDING" && closing.nextAttemptAt !== undefined && closing.nextAttemptAt <= now
        );
      })
      .slice(0, limit)
      .map((plan) => plan.id);
  }
}

describe("TrialPlan", () => {
  let ports: MarketingPorts & { plans: PlansInMemory; clock: ReturnType<typeof testContext>["clock"] };
  beforeEach(() => {
    ports = { ...testContext(), plans: new PlansInMemory() };
  });

  it("starts ACTIVE and records PlanStarted with the plan's terms", async () => {
    const plan = await startTrialPlan(ports, {
      productId: " espresso-machine ",
      name: "Espresso week",
      trialDays: 7,
    });
    expect(plan).toEqual({
      planId: "00000000-0000-7000-8000-000000000001",
      productId: "espresso-machine",
      name: "Espresso week",
      trialDays: 7,
      status: "ACTIVE",
      startedAt: new Date("2026-03-01T09:00:00.000Z"),
    });
    expect(ports.plans.events).toEqual([
      {
        id: "00000000-0000-7000-8000-000000000002",
        type: "trial.marketing.v1.PlanStarted",
        aggregateId: plan.planId,
        occurredAt: new Date("2026-03-01T09:00:00.000Z"),
        data: {
          planId: plan.planId,
          productId: "espresso-machine",
          name: "Espresso week",
          trialDays: 7,
          startedAt: new Date("2026-03-01T09:00:00.000Z"),
        },
      },
    ]);
  });

  it.each([
    [{ productId: "", name: "n", trialDays: 7 }, "productId", "is required"],
    [{ productId: "p".repeat(65), name: "n", trialDays: 7 }, "productId", "must be at most 64 characters"],
    [{ productId: "p", name: "   ", trialDays: 7 }, "name", "is required"],
    [{ productId: "p", name: "n", trialDays: 0 }, "trialDays", "must be a whole number from 1 to 365"],
    [{ productId: "p", name: "n", trialDays: 366 }, "trialDays", "must be a whole number from 1 to 365"],
    [{ productId: "p", name: "n", trialDays: 1.5 }, "trialDays", "must be a whole number from 1 to 365"],
  ])("refuses %j naming the field %s", async (command, field, description) => {
    const error = await startTrialPlan(ports, command).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field, description });
    expect(ports.plans.saved.size).toBe(0);
  });

  it("ends an active plan and records PlanEnded at the clock's time", async () => {
    const { planId } = await startTrialPlan(ports, { productId: "p", name: "n", trialDays: 3 });
    ports.clock.advance(60_000);
    const ended = await endTrialPlan(ports, { planId });
    expect(ended.status).toBe("ENDED");
    expect(ended.endedAt).toEqual(new Date("2026-03-01T09:01:00.000Z"));
    expect(ports.plans.events.at(-1)).toMatchObject({
      type: "trial.marketing.v1.PlanEnded",
      aggregateId: planId,
      data: { planId, endedAt: new Date("2026-03-01T09:01:00.000Z") },
    });
  });

  it("refuses to end a plan twice (rule plan-must-be-active) and records nothing", async () => {
    const { planId } = await startTrialPlan(ports, { productId: "p", name: "n", trialDays: 3 });
    await endTrialPlan(ports, { planId });
    const before = ports.plans.events.length;
    const error = await endTrialPlan(ports, { planId }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FailedPrecondition);
    expect(error).toMatchObject({ rule: "plan-must-be-active" });
    expect(ports.plans.events.length).toBe(before);
  });

  it("leaves the closing of its orders PENDING when it ends, due at once", async () => {
    const { planId } = await startTrialPlan(ports, { productId: "p", name: "n", trialDays: 3 });
    const ended = await endTrialPlan(ports, { planId });
    expect(ended.ordersClosing).toEqual({
      state: "PENDING",
      attempts: 0,
      nextAttemptAt: new Date("2026-03-01T09:00:00.000Z"),
      cancelledOrders: 0,
      returnsRequested: 0,
    });
    expect(await ports.plans.claimDueClosings(ports.clock.now(), 10)).toEqual([planId]);
  });

  it("retries a failed closing after 1 s, 2 s, 4 s … at most a minute, then records order's answer once", async () => {
    const { planId } = await startTrialPlan(ports, { productId: "p", name: "n", trialDays: 3 });
    await endTrialPlan(ports, { planId });
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 8; attempt++) {
      const failed = await recordOrdersClosing(ports, {
        planId,
        outcome: { closed: false, error: "order unavailable" },
      });
      waits.push((failed.ordersClosing?.nextAttemptAt?.getTime() ?? 0) - ports.clock.now().getTime());
      expect(failed.ordersClosing).toMatchObject({
        state: "PENDING",
        attempts: attempt,
        lastError: "order unavailable",
      });
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    expect(closingRetryDelayMs(0)).toBe(1_000);

    const done = await recordOrdersClosing(ports, {
      planId,
      outcome: { closed: true, cancelledOrders: 3, returnsRequested: 1 },
    });
    expect(done.ordersClosing).toEqual({
      state: "DONE",
      attempts: 9,
      cancelledOrders: 3,
      returnsRequested: 1,
    });
    expect(await ports.plans.claimDueClosings(new Date("2030-01-01"), 10)).toEqual([]);
    const again = await recordOrdersClosing(ports, {
      planId,
      outcome: { closed: false, error: "late failure" },
    });
    expect(again.ordersClosing).toEqual(done.ordersClosing);
  });

  it("answers NotFound for an unknown plan and InvalidArgument for a malformed id", async () => {
    await expect(
      getTrialPlan(ports, { planId: "00000000-0000-7000-8000-00000000ffff" }),
    ).rejects.toBeInstanceOf(NotFound);
    await expect(endTrialPlan(ports, { planId: "nope" })).rejects.toMatchObject({ field: "planId" });
  });

  describe("closing a plan's orders through order's port", () => {
    /** Order's side answering `answers` in turn, remembering the plans asked about. */
    function closing(...answers: OrdersClosingOutcome[]): ClosingPorts & { asked: string[] } {
      const asked: string[] = [];
      return {
        asked,
        planOrders: {
          close: async (planId) => {
            asked.push(planId);
            return answers.shift() ?? { closed: false, error: "no answer left" };
          },
        },
        unitOfWork: (work) => work(ports),
      };
    }

    it("records DONE with order's counts when order closes them", async () => {
      const { planId } = await startTrialPlan(ports, { productId: "p", name: "n", trialDays: 3 });
      await endTrialPlan(ports, { planId });
      const closed = await closePlanOrders(
        closing({ closed: true, cancelledOrders: 2, returnsRequested: 1 }),
        {
          planId,
        },
      );
      expect(closed.ordersClosing).toMatchObject({ state: "DONE", cancelledOrders: 2, returnsRequested: 1 });
    });

    it("leaves a failed closing PENDING, and the retry asks order again once it is due, until DONE", async () => {
      const { planId } = await startTrialPlan(ports, { productId: "p", name: "n", trialDays: 3 });
      await endTrialPlan(ports, { planId });
      const order = closing(
        { closed: false, error: "order unavailable" },
        { closed: true, cancelledOrders: 1, returnsRequested: 0 },
      );
      expect((await closePlanOrders(order, { planId })).ordersClosing).toMatchObject({
        state: "PENDING",
        lastError: "order unavailable",
      });
      // Not due yet: nothing is retried.
      expect(await retryDueClosings(order, { limit: 10, leaseMs: 30_000 })).toBe(0);
      ports.clock.advance(1_000);
      expect(await retryDueClosings(order, { limit: 10, leaseMs: 30_000 })).toBe(1);
      expect(order.asked).toEqual([planId, planId]);
      expect((await getTrialPlan(ports, { planId })).ordersClosing).toMatchObject({
        state: "DONE",
        cancelledOrders: 1,
      });
      expect(await retryDueClosings(order, { limit: 10, leaseMs: 30_000 })).toBe(0);
    });
  });
});
