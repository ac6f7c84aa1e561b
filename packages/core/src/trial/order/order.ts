import {
  AggregateRoot,
  type EventContext,
  FailedPrecondition,
  RETRY_UNTIL_HEARD_MS,
  requireIntegerInRange,
  requireText,
  Unavailable,
} from "../../shared/index.ts";
import type {
  CancellationReason,
  OrderCancelled,
  OrderEvent,
  OrderPlaced,
  OrderRejected,
  ReturnReason,
  ReturnRequested,
} from "./events.ts";
import type { OfferedPlan } from "./offered-plan.ts";

/** An order's statuses, the one list of them (the table's CHECK and the wire form derive from it). */
export const ORDER_STATUSES = [
  "PLACED",
  "DELIVERING",
  "DELIVERED",
  "RETURN_REQUESTED",
  "RETURNED",
  "CANCELLED",
  "REJECTED",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

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
  /** Why it was cancelled, once CANCELLED. */
  readonly cancellationReason?: CancellationReason | undefined;
  /** Why its return was requested, once RETURN_REQUESTED or RETURNED. */
  readonly returnReason?: ReturnReason | undefined;
}

export const MAX_QUANTITY = 10;
const DAY_MS = 86_400_000;

/**
 * A customer's trial order of an offered plan's product.
 *
 * PLACED -> DELIVERING -> DELIVERED -> RETURN_REQUESTED -> RETURNED, CANCELLED from PLACED or
 * DELIVERING, REJECTED from PLACED when the warehouse had no stock. Delivery decides whether the
 * product left: when its completion beats a cancellation to delivery, the cancelled order's product
 * comes back as a return (RETURN_REQUESTED, reason CANCELLED_AFTER_DELIVERY), so an order that ends
 * CANCELLED was never delivered.
 */
export class Order extends AggregateRoot<OrderEvent> {
  #state: OrderState;

  private constructor(state: OrderState) {
    super();
    this.#state = state;
  }

  /**
   * Rule `plan-must-be-active`: only a plan that marketing has started and not ended takes orders.
   * Rule `plan-must-be-known`: order learns of plans from PlanStarted, so a plan it has not heard of
   * may have just started; that refusal is Unavailable, to retry after RETRY_UNTIL_HEARD_MS.
   */
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
    if (!plan) {
      throw new Unavailable(
        `order has not heard of plan ${input.planId} yet; a plan just started reaches it within moments, so retry (a plan never started stays unknown)`,
        { rule: "plan-must-be-known", afterMs: RETRY_UNTIL_HEARD_MS },
      );
    }
    if (plan.status !== "ACTIVE") {
      throw new FailedPrecondition("plan-must-be-active", `plan ${input.planId} has ended`);
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
    const { orderId, productId, returnDueAt } = order.#state;
    order.record<OrderPlaced>(
      "trial.order.v1.OrderPlaced",
      { orderId, customerId, planId: plan.planId, productId, quantity, address, placedAt, returnDueAt },
      context,
    );
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

  /** Rule `order-must-be-placed-or-delivering`: a delivered order is returned, not cancelled. */
  cancel(reason: CancellationReason, context: EventContext): void {
    const { status } = this.#state;
    if (status !== "PLACED" && status !== "DELIVERING") {
      const hint = status === "DELIVERED" ? "; request its return instead" : "";
      throw new FailedPrecondition(
        "order-must-be-placed-or-delivering",
        `order ${this.id} is ${status}${hint}`,
      );
    }
    const cancelledAt = context.clock.now();
    this.#state = { ...this.#state, status: "CANCELLED", cancellationReason: reason };
    const { orderId, planId, productId, quantity } = this.#state;
    this.record<OrderCancelled>(
      "trial.order.v1.OrderCancelled",
      { orderId, planId, productId, quantity, reason, cancelledAt },
      context,
    );
  }

  /** Rule `order-must-be-delivered`: only a product the customer has can be returned. */
  requestReturn(reason: ReturnReason, context: EventContext): void {
    if (this.#state.status !== "DELIVERED") {
      throw new FailedPrecondition("order-must-be-delivered", `order ${this.id} is ${this.#state.status}`);
    }
    this.#returnRequested(reason, context);
  }

  /** The trial is over: a delivered order's return is requested. Returns whether it was. */
  returnIfTrialEnded(context: EventContext): boolean {
    if (this.#state.status !== "DELIVERED" || context.clock.now() < this.#state.returnDueAt) return false;
    this.#returnRequested("TRIAL_ENDED", context);
    return true;
  }

  /** Delivery started it (an order already cancelled or rejected stays so). */
  deliveryStarted(): void {
    if (this.#state.status === "PLACED") this.#state = { ...this.#state, status: "DELIVERING" };
  }

  /**
   * The courier delivered it. A cancelled order whose cancellation lost the race to the courier
   * is turned into a return.
   */
  deliveryCompleted(context: EventContext): void {
    const { status } = this.#state;
    if (status === "PLACED" || status === "DELIVERING") {
      this.#state = { ...this.#state, status: "DELIVERED" };
    } else if (status === "CANCELLED") {
      this.#state = { ...this.#state, status: "DELIVERED" };
      this.#returnRequested("CANCELLED_AFTER_DELIVERY", context);
    }
  }

  /** The courier picked the product up. */
  pickupCompleted(): void {
    if (this.#state.status === "RETURN_REQUESTED") this.#state = { ...this.#state, status: "RETURNED" };
  }

  /** The warehouse had no stock: the saga's compensation. Only a PLACED order is rejected. */
  reject(reason: string, context: EventContext): void {
    if (this.#state.status !== "PLACED") return;
    const rejectedAt = context.clock.now();
    this.#state = { ...this.#state, status: "REJECTED" };
    const { orderId, productId, quantity } = this.#state;
    this.record<OrderRejected>(
      "trial.order.v1.OrderRejected",
      { orderId, productId, quantity, reason, rejectedAt },
      context,
    );
  }

  /** Its plan ended: an open order is cancelled, a delivered one is asked back. Others are left as they are. */
  closeForEndedPlan(context: EventContext): "CANCELLED" | "RETURN_REQUESTED" | undefined {
    const { status } = this.#state;
    if (status === "PLACED" || status === "DELIVERING") {
      this.cancel("PLAN_ENDED", context);
      return "CANCELLED";
    }
    if (status === "DELIVERED") {
      this.#returnRequested("PLAN_ENDED", context);
      return "RETURN_REQUESTED";
    }
    return undefined;
  }

  #returnRequested(reason: ReturnReason, context: EventContext): void {
    const requestedAt = context.clock.now();
    this.#state = { ...this.#state, status: "RETURN_REQUESTED", returnReason: reason };
    const { orderId, productId, quantity, address } = this.#state;
    this.record<ReturnRequested>(
      "trial.order.v1.ReturnRequested",
      { orderId, productId, quantity, address, reason, requestedAt },
      context,
    );
  }
}
