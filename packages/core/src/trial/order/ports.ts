import type { OfferedPlan } from "./offered-plan.ts";
import type { Order } from "./order.ts";

/** Where orders are kept. `save` also hands the order's recorded events to the outbox. */
export interface Orders {
  get(orderId: string): Promise<Order | undefined>;
  save(order: Order): Promise<void>;
}

/** Order's replica of the plans marketing offers. */
export interface OfferedPlans {
  get(planId: string): Promise<OfferedPlan | undefined>;
  save(plan: OfferedPlan): Promise<void>;
}
