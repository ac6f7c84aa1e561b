import { type EventContext, NotFound, requireUuid } from "../../shared/index.ts";
import type { PlanOrders, TrialPlanReads, TrialPlans } from "./ports.ts";
import { TrialPlan, type TrialPlanState } from "./trial-plan.ts";

export interface MarketingPorts extends EventContext {
  readonly plans: TrialPlans;
}

export interface StartTrialPlan {
  readonly productId: string;
  readonly name: string;
  readonly trialDays: number;
}

export async function startTrialPlan(
  ports: MarketingPorts,
  command: StartTrialPlan,
): Promise<TrialPlanState> {
  const plan = TrialPlan.start({ planId: ports.ids.next(), ...command }, ports);
  await ports.plans.save(plan);
  return plan.state;
}

export async function endTrialPlan(
  ports: MarketingPorts,
  command: { planId: string },
): Promise<TrialPlanState> {
  const plan = await loadTrialPlan(ports.plans, command.planId);
  plan.end(ports);
  await ports.plans.save(plan);
  return plan.state;
}

/** The outcome of asking order to close an ended plan's orders. */
export type OrdersClosingOutcome =
  | { readonly closed: true; readonly cancelledOrders: number; readonly returnsRequested: number }
  | { readonly closed: false; readonly error: string };

/** Records what order answered (or that it could not be reached) for an ended plan's orders. */
export async function recordOrdersClosing(
  ports: MarketingPorts,
  command: { planId: string; outcome: OrdersClosingOutcome },
): Promise<TrialPlanState> {
  const plan = await loadTrialPlan(ports.plans, command.planId);
  const { outcome } = command;
  if (outcome.closed) {
    plan.ordersClosed({
      cancelledOrders: outcome.cancelledOrders,
      returnsRequested: outcome.returnsRequested,
    });
  } else plan.ordersClosingFailed(outcome.error, ports);
  await ports.plans.save(plan);
  return plan.state;
}

/** What closing a plan's orders needs: order's side, and units of work to record the outcome in. */
export interface ClosingPorts {
  readonly planOrders: PlanOrders;
  /** Runs `work` in one transaction, with ports bound to it; commits when it returns. */
  unitOfWork<T>(work: (ports: MarketingPorts) => Promise<T>): Promise<T>;
}

/**
 * Asks order to close an ended plan's orders, outside any transaction, then records the outcome on
 * the plan: DONE, or PENDING with the error, for {@link retryDueClosings}.
 */
export async function closePlanOrders(
  ports: ClosingPorts,
  command: { planId: string },
): Promise<TrialPlanState> {
  const outcome = await ports.planOrders.close(command.planId);
  return ports.unitOfWork((work) => recordOrdersClosing(work, { planId: command.planId, outcome }));
}

/**
 * The retry of pending closings: claims up to `limit` that are due (each leased to this caller for
 * `leaseMs`, so replicas take different plans) and tries each again. Returns how many it tried.
 */
export async function retryDueClosings(
  ports: ClosingPorts,
  batch: { readonly limit: number; readonly leaseMs: number },
): Promise<number> {
  const due = await ports.unitOfWork((work) =>
    work.plans.claimDueClosings(work.clock.now(), batch.limit, batch.leaseMs),
  );
  for (const planId of due) await closePlanOrders(ports, { planId });
  return due.length;
}

export async function getTrialPlan(
  ports: { readonly plans: TrialPlanReads },
  query: { planId: string },
): Promise<TrialPlanState> {
  return (await loadTrialPlan(ports.plans, query.planId)).state;
}

async function loadTrialPlan(plans: TrialPlanReads, planId: string): Promise<TrialPlan> {
  const plan = await plans.get(requireUuid("planId", planId));
  if (!plan) throw new NotFound("TrialPlan", planId);
  return plan;
}
