import type { TrialPlan } from "./trial-plan.ts";
import type { OrdersClosingOutcome } from "./use-cases.ts";

/** Where trial plans are kept. `save` also hands the plan's recorded events to the outbox. */
export interface TrialPlans extends TrialPlanReads {
  save(plan: TrialPlan): Promise<void>;
  /**
   * Ids of up to `limit` ended plans whose orders closing is PENDING and due at `now`. Each is
   * leased to the caller for `leaseMs`, so replicas retrying at once take different plans.
   */
  claimDueClosings(now: Date, limit: number, leaseMs: number): Promise<string[]>;
}

/** Trial plans as queries read them: outside a unit of work, nothing locked. */
export interface TrialPlanReads {
  get(planId: string): Promise<TrialPlan | undefined>;
}

/**
 * Order's side of a plan's end: it cancels the plan's open orders and requests the return of its
 * delivered ones. Answers with the outcome, a failure included (order down, the breaker open): it
 * does not throw.
 */
export interface PlanOrders {
  close(planId: string): Promise<OrdersClosingOutcome>;
}
