/**
 * Order's own replica of the trial plans marketing offers, built from PlanStarted and PlanEnded.
 * Events may arrive in any order: a PlanEnded seen first leaves an ENDED tombstone that a late
 * PlanStarted fills in but never reopens.
 */
export const OFFERED_PLAN_STATUSES = ["ACTIVE", "ENDED"] as const;

export interface OfferedPlan {
  readonly planId: string;
  readonly productId: string;
  readonly trialDays: number;
  readonly status: (typeof OFFERED_PLAN_STATUSES)[number];
}

export function planStarted(
  known: OfferedPlan | undefined,
  started: { planId: string; productId: string; trialDays: number },
): OfferedPlan {
  return {
    planId: started.planId,
    productId: started.productId,
    trialDays: started.trialDays,
    status: known?.status ?? "ACTIVE",
  };
}

export function planEnded(known: OfferedPlan | undefined, ended: { planId: string }): OfferedPlan {
  return {
    planId: ended.planId,
    productId: known?.productId ?? "",
    trialDays: known?.trialDays ?? 0,
    status: "ENDED",
  };
}
