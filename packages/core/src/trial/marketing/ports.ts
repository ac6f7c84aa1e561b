import type { TrialPlan } from "./trial-plan.ts";

/** Where trial plans are kept. `save` also hands the plan's recorded events to the outbox. */
export interface TrialPlans {
  get(planId: string): Promise<TrialPlan | undefined>;
  save(plan: TrialPlan): Promise<void>;
}
