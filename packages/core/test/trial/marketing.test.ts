import { FailedPrecondition, InvalidArgument, NotFound } from "@hexa/core/shared";
import {
  endTrialPlan,
  getTrialPlan,
  type MarketingPorts,
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
    this.saved.set(plan.id, plan);
    this.events.push(...plan.pullEvents());
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

  it("answers NotFound for an unknown plan and InvalidArgument for a malformed id", async () => {
    await expect(
      getTrialPlan(ports, { planId: "00000000-0000-7000-8000-00000000ffff" }),
    ).rejects.toBeInstanceOf(NotFound);
    await expect(endTrialPlan(ports, { planId: "nope" })).rejects.toMatchObject({ field: "planId" });
  });
});
