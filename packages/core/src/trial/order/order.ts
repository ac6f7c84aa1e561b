import {
  AggregateRoot,
  type EventContext,
  FailedPrecondition,
  requireIntegerInRange,
  requireText,
} from "../../shared/index.ts";
import type { OrderEvent, OrderPlaced } from "./events.ts";
import type { OfferedPlan } from "./offered-plan.ts";

export type OrderStatus =
  | "PLACED"
  | "DELIVERING"
  | "DELIVERED"
  | "RETURN_REQUESTED"
  | "RETURNED"
  | "CANCELLED"
  | "REJECTED";

export interface OrderState {
  readonly orderId: string;
  readonly customerId: string;
  readonly planId: string;
  readonly productId: string;
  readonly quantity: number;
  readonly address: string;
  readonly status: OrderStatus;
  readonly placedAt: Date;
  readonly returnDueAt: Date;
}

export const MAX_QUANTITY = 10;
const DAY_MS = 86_400_000;

/** A customer's trial order of an offered plan's product. */
export class Order extends AggregateRoot<OrderEvent> {
  #state: OrderState;

  private constructor(state: OrderState) {
    super();
    this.#state = state;
  }

  /** Rule `plan-must-be-active`: only a plan that marketing has started and not ended takes orders. */
  static place(
    input: {
      orderId: string;
      customerId: string;
      planId: string;
      plan: OfferedPlan | undefined;
      quantity: number;
      address: string;
    },
    context: EventContext,
  ): Order {
    const customerId = requireText("customerId", input.customerId, 64);
    const quantity = requireIntegerInRange("quantity", input.quantity, 1, MAX_QUANTITY);
    const address = requireText("address", input.address, 500);
    const plan = input.plan;
    if (plan?.status !== "ACTIVE") {
      const why = plan ? "has ended" : "is not an active trial plan";
      throw new FailedPrecondition("plan-must-be-active", `plan ${input.planId} ${why}`);
    }
    const placedAt = context.clock.now();
    const order = new Order({
      orderId: input.orderId,
      customerId,
      planId: plan.planId,
      productId: plan.productId,
      quantity,
      address,
      status: "PLACED",
      placedAt,
      returnDueAt: new Date(placedAt.getTime() + plan.trialDays * DAY_MS),
    });
    order.record<OrderPlaced>("trial.order.v1.OrderPlaced", { ...order.#state }, context);
    return order;
  }

  static restore(state: OrderState): Order {
    return new Order(state);
  }

  get id(): string {
    return this.#state.orderId;
  }

  get state(): OrderState {
    return this.#state;
  }
}
