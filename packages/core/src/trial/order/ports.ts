import type { OfferedPlan } from "./offered-plan.ts";
import type { Order } from "./order.ts";

/** Where orders are kept. `save` also hands the order's recorded events to the outbox. */
export interface Orders extends OrderReads {
  save(order: Order): Promise<void>;
  /** Every order of a plan. */
  ofPlan(planId: string): Promise<Order[]>;
  /**
   * Up to `limit` DELIVERED orders whose return is due at `now`, skipping those another replica
   * is handling right now.
   */
  dueForReturn(now: Date, limit: number): Promise<Order[]>;
}

/** Order's replica of the plans marketing offers. */
export interface OfferedPlans {
  get(planId: string): Promise<OfferedPlan | undefined>;
  save(plan: OfferedPlan): Promise<void>;
}

/** Orders as queries read them: outside a unit of work, nothing locked. */
export interface OrderReads {
  get(orderId: string): Promise<Order | undefined>;
}
