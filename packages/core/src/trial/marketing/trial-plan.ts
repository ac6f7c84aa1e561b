import {
  AggregateRoot,
  type EventContext,
  FailedPrecondition,
  requireIntegerInRange,
  requireText,
} from "../../shared/index.ts";
import type { MarketingEvent, PlanEnded, PlanStarted } from "./events.ts";

/** A plan's statuses, the one list of them (the table's CHECK and the wire form derive from it). */
export const TRIAL_PLAN_STATUSES = ["ACTIVE", "ENDED"] as const;
export type TrialPlanStatus = (typeof TRIAL_PLAN_STATUSES)[number];

/** Where closing a plan's orders stands. */
export const ORDERS_CLOSING_STATES = ["PENDING", "DONE"] as const;

export interface TrialPlanState {
  readonly planId: string;
  readonly productId: string;
  readonly name: string;
  readonly trialDays: number;
  readonly status: TrialPlanStatus;
  readonly startedAt: Date;
  readonly endedAt?: Date | undefined;
  /** Set when the plan ends: closing its orders in the order service. */
  readonly ordersClosing?: OrdersClosing | undefined;
}

/**
 * Ending a plan asks order to cancel the plan's open orders and request the return of its
 * delivered ones. Until order confirms, the closing is PENDING and is retried, with growing waits.
 */
export interface OrdersClosing {
  readonly state: (typeof ORDERS_CLOSING_STATES)[number];
  readonly attempts: number;
  readonly nextAttemptAt?: Date | undefined;
  readonly lastError?: string | undefined;
  readonly cancelledOrders: number;
  readonly returnsRequested: number;
}

/** Wait before the next attempt after `attempts` failures: 1 s, 2 s, 4 s, … at most 1 minute. */
export function closingRetryDelayMs(attempts: number): number {
  return Math.min(1_000 * 2 ** Math.max(attempts - 1, 0), 60_000);
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
    this.#state = {
      ...this.#state,
      status: "ENDED",
      endedAt,
      ordersClosing: {
        state: "PENDING",
        attempts: 0,
        nextAttemptAt: endedAt,
        cancelledOrders: 0,
        returnsRequested: 0,
      },
    };
    this.record<PlanEnded>("trial.marketing.v1.PlanEnded", { planId: this.id, endedAt }, context);
  }

  /** Order confirmed it closed the plan's orders. A late or repeated confirmation changes nothing. */
  ordersClosed(result: { cancelledOrders: number; returnsRequested: number }): void {
    const closing = this.#pendingClosing();
    if (!closing) return;
    this.#state = {
      ...this.#state,
      ordersClosing: { state: "DONE", attempts: closing.attempts + 1, ...result },
    };
  }

  /** Order could not be reached or failed: the closing stays PENDING and is tried again later. */
  ordersClosingFailed(error: string, context: EventContext): void {
    const closing = this.#pendingClosing();
    if (!closing) return;
    const attempts = closing.attempts + 1;
    this.#state = {
      ...this.#state,
      ordersClosing: {
        ...closing,
        attempts,
        lastError: error,
        nextAttemptAt: new Date(context.clock.now().getTime() + closingRetryDelayMs(attempts)),
      },
    };
  }

  #pendingClosing(): OrdersClosing | undefined {
    const closing = this.#state.ordersClosing;
    return closing?.state === "PENDING" ? closing : undefined;
  }
}
