import {
  AggregateRoot,
  type EventContext,
  FailedPrecondition,
  requireIntegerInRange,
  requireText,
} from "../../shared/index.ts";
import type { MarketingEvent, PlanEnded, PlanStarted } from "./events.ts";

export type TrialPlanStatus = "ACTIVE" | "ENDED";

export interface TrialPlanState {
  readonly planId: string;
  readonly productId: string;
  readonly name: string;
  readonly trialDays: number;
  readonly status: TrialPlanStatus;
  readonly startedAt: Date;
  readonly endedAt?: Date | undefined;
}

export const MAX_TRIAL_DAYS = 365;

/** A product offered for a trial of some days, started and ended by a marketer. */
export class TrialPlan extends AggregateRoot<MarketingEvent> {
  #state: TrialPlanState;

  private constructor(state: TrialPlanState) {
    super();
    this.#state = state;
  }

  static start(
    input: { planId: string; productId: string; name: string; trialDays: number },
    context: EventContext,
  ): TrialPlan {
    const plan = new TrialPlan({
      planId: input.planId,
      productId: requireText("productId", input.productId, 64),
      name: requireText("name", input.name, 200),
      trialDays: requireIntegerInRange("trialDays", input.trialDays, 1, MAX_TRIAL_DAYS),
      status: "ACTIVE",
      startedAt: context.clock.now(),
    });
    const { planId, productId, name, trialDays, startedAt } = plan.#state;
    plan.record<PlanStarted>(
      "trial.marketing.v1.PlanStarted",
      { planId, productId, name, trialDays, startedAt },
      context,
    );
    return plan;
  }

  static restore(state: TrialPlanState): TrialPlan {
    return new TrialPlan(state);
  }

  get id(): string {
    return this.#state.planId;
  }

  get state(): TrialPlanState {
    return this.#state;
  }

  end(context: EventContext): void {
    if (this.#state.status === "ENDED") {
      throw new FailedPrecondition("plan-must-be-active", `trial plan ${this.id} has already ended`);
    }
    const endedAt = context.clock.now();
    this.#state = { ...this.#state, status: "ENDED", endedAt };
    this.record<PlanEnded>("trial.marketing.v1.PlanEnded", { planId: this.id, endedAt }, context);
  }
}
