/** Marketing's events as it publishes them: recorded by TrialPlan, encoded by its outbox encoder. */
import { encodeMarketingEvent } from "@hexa/adapters/trial/marketing/events";
import { type PlanEnded, type PlanStarted, TrialPlan } from "@hexa/core/trial/marketing";
import { PlanEndedSchema, PlanStartedSchema } from "@hexa/proto/trial/marketing/v1/events_pb";
import type { PublishedEvents } from "../messages.ts";
import { last, world } from "./world.ts";

export interface PlanInput {
  readonly planId?: string;
  readonly productId?: string;
  readonly trialDays?: number;
}

function startedPlan(input: PlanInput): TrialPlan {
  return TrialPlan.start(
    {
      planId: input.planId ?? world.ids.next(),
      productId: input.productId ?? "espresso-machine",
      name: "Espresso week",
      trialDays: input.trialDays ?? 7,
    },
    world,
  );
}

/** A marketer starts a plan. */
export function planStarted(input: PlanInput = {}): PlanStarted {
  return last(startedPlan(input).pullEvents()) as PlanStarted;
}

/** A marketer ends a plan. */
export function planEnded(input: PlanInput = {}): PlanEnded {
  const plan = startedPlan(input);
  plan.end(world);
  return last(plan.pullEvents()) as PlanEnded;
}

export const marketingEvents: PublishedEvents = {
  [PlanStartedSchema.typeName]: () => encodeMarketingEvent(planStarted()),
  [PlanEndedSchema.typeName]: () => encodeMarketingEvent(planEnded()),
};
