import type { DomainEvent } from "../../shared/index.ts";

export type PlanStarted = DomainEvent<
  "trial.marketing.v1.PlanStarted",
  { planId: string; productId: string; name: string; trialDays: number; startedAt: Date }
>;

export type PlanEnded = DomainEvent<"trial.marketing.v1.PlanEnded", { planId: string; endedAt: Date }>;

export type MarketingEvent = PlanStarted | PlanEnded;
