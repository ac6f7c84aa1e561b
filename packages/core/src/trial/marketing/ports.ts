import type { TrialPlan } from "./trial-plan.ts";

/** Where trial plans are kept. `save` also hands the plan's recorded events to the outbox. */
export interface TrialPlans {
  get(planId: string): Promise<TrialPlan | undefined>;
  save(plan: TrialPlan): Promise<void>;
  /**
   * Ids of up to `limit` ended plans whose orders closing is PENDING and due at `now`. Each is
   * leased to the caller for `leaseMs`, so replicas retrying at once take different plans.
   */
  claimDueClosings(now: Date, limit: number, leaseMs: number): Promise<string[]>;
}
