import { AggregateRoot, type EventContext, FailedPrecondition } from "../../shared/index.ts";
import type {
  DeliveryCancelled,
  DeliveryCompleted,
  DeliveryEvent,
  DeliveryStarted,
  PickupCompleted,
  PickupRequested,
} from "./events.ts";

/** A delivery's statuses, the one list of them (the table's CHECK and the wire form derive from it). */
export const DELIVERY_STATUSES = ["IN_PROGRESS", "COMPLETED", "CANCELLED"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** A pickup's statuses; NONE: no return requested. */
export const PICKUP_STATUSES = ["NONE", "REQUESTED", "COMPLETED"] as const;
export type PickupStatus = (typeof PICKUP_STATUSES)[number];

export interface ShipmentState {
  readonly orderId: string;
  /** Empty on a tombstone: an order cancelled before its stock reservation reached delivery. */
  readonly customerId: string;
  readonly productId: string;
  readonly quantity: number;
  /** Empty on a tombstone, like `customerId`. */
  readonly address: string;
  readonly deliveryStatus: DeliveryStatus;
  readonly pickupStatus: PickupStatus;
  /** When delivery first heard of the order (its stock reservation or its cancellation); work lists sort on it. */
  readonly recordedAt: Date;
  readonly deliveryStartedAt?: Date | undefined;
  readonly deliveredAt?: Date | undefined;
  readonly cancelledAt?: Date | undefined;
  readonly pickupRequestedAt?: Date | undefined;
  readonly pickedUpAt?: Date | undefined;
}

/** What a stock reservation tells delivery about the order to deliver. */
export interface ReservedOrder {
  readonly orderId: string;
  readonly customerId: string;
  readonly productId: string;
  readonly quantity: number;
  readonly address: string;
}

/** What an order's cancellation tells delivery. */
export interface CancelledOrder {
  readonly orderId: string;
  readonly productId: string;
  readonly quantity: number;
}

/**
 * An order's delivery and its pickup, keyed by the order id. Events about the order may reach it
 * in any order; the rule they keep is that a cancelled order is never delivered. A cancellation
 * seen before the delivery started leaves a CANCELLED tombstone that no later reservation starts.
 */
export class Shipment extends AggregateRoot<DeliveryEvent> {
  #state: ShipmentState;

  private constructor(state: ShipmentState) {
    super();
    this.#state = state;
  }

  /** The order's units are reserved: the delivery starts (IN_PROGRESS) and DeliveryStarted is recorded. */
  static start(order: ReservedOrder, context: EventContext): Shipment {
    const startedAt = context.clock.now();
    const shipment = new Shipment({
      orderId: order.orderId,
      customerId: order.customerId,
      productId: order.productId,
      quantity: order.quantity,
      address: order.address,
      deliveryStatus: "IN_PROGRESS",
      pickupStatus: "NONE",
      recordedAt: startedAt,
      deliveryStartedAt: startedAt,
    });
    const { orderId, customerId, productId, quantity, address } = shipment.#state;
    shipment.record<DeliveryStarted>(
      "trial.delivery.v1.DeliveryStarted",
      { orderId, customerId, productId, quantity, address, startedAt },
      context,
    );
    return shipment;
  }

  /**
   * The order was cancelled before its delivery started: a CANCELLED tombstone, and
   * DeliveryCancelled so that warehouse releases whatever it reserved for the order.
   */
  static cancelBeforeStart(order: CancelledOrder, context: EventContext): Shipment {
    const cancelledAt = context.clock.now();
    const shipment = new Shipment({
      orderId: order.orderId,
      customerId: "",
      productId: order.productId,
      quantity: order.quantity,
      address: "",
      deliveryStatus: "CANCELLED",
      pickupStatus: "NONE",
      recordedAt: cancelledAt,
      cancelledAt,
    });
    shipment.#recordCancelled(cancelledAt, context);
    return shipment;
  }

  static restore(state: ShipmentState): Shipment {
    return new Shipment(state);
  }

  get id(): string {
    return this.#state.orderId;
  }

  get state(): ShipmentState {
    return this.#state;
  }

  /**
   * A stock reservation for an order delivery already knows. A tombstone learns the customer and
   * the address but is never started; any other shipment is unchanged (the reservation was repeated).
   */
  reservationArrived(order: ReservedOrder): void {
    if (this.#state.deliveryStartedAt !== undefined) return;
    this.#state = {
      ...this.#state,
      customerId: this.#state.customerId || order.customerId,
      address: this.#state.address || order.address,
    };
  }

  /**
   * The order was cancelled: a delivery in progress is CANCELLED and DeliveryCancelled is
   * recorded. A completed delivery stays completed (the courier won the race; order turns its
   * cancellation into a return), and a cancelled one stays as it is.
   */
  cancel(context: EventContext): void {
    if (this.#state.deliveryStatus !== "IN_PROGRESS") return;
    const cancelledAt = context.clock.now();
    this.#state = { ...this.#state, deliveryStatus: "CANCELLED", cancelledAt };
    this.#recordCancelled(cancelledAt, context);
  }

  /** Rule `delivery-must-be-in-progress`: the courier completes only a delivery in progress, never a cancelled one. */
  complete(context: EventContext): void {
    const status = this.#state.deliveryStatus;
    if (status !== "IN_PROGRESS") {
      const why = status === "CANCELLED" ? "was cancelled" : "is already completed";
      throw new FailedPrecondition("delivery-must-be-in-progress", `the delivery of order ${this.id} ${why}`);
    }
    const deliveredAt = context.clock.now();
    this.#state = { ...this.#state, deliveryStatus: "COMPLETED", deliveredAt };
    const { orderId, productId, quantity } = this.#state;
    this.record<DeliveryCompleted>(
      "trial.delivery.v1.DeliveryCompleted",
      { orderId, productId, quantity, deliveredAt },
      context,
    );
  }

  /**
   * A return was requested: the pickup is REQUESTED and PickupRequested is recorded; a pickup
   * already requested or completed is unchanged. Rule `delivery-must-be-completed`: order asks for
   * a return only after it learned of the completed delivery, so anything else is a fault to surface.
   */
  requestPickup(context: EventContext): void {
    if (this.#state.deliveryStatus !== "COMPLETED") {
      throw new FailedPrecondition(
        "delivery-must-be-completed",
        `a return of order ${this.id} was requested, but its delivery is ${this.#state.deliveryStatus}`,
      );
    }
    if (this.#state.pickupStatus !== "NONE") return;
    const requestedAt = context.clock.now();
    this.#state = { ...this.#state, pickupStatus: "REQUESTED", pickupRequestedAt: requestedAt };
    const { orderId, productId, quantity, address } = this.#state;
    this.record<PickupRequested>(
      "trial.delivery.v1.PickupRequested",
      { orderId, productId, quantity, address, requestedAt },
      context,
    );
  }

  /** Rule `pickup-must-be-requested`: the courier completes only a requested pickup. */
  completePickup(context: EventContext): void {
    const status = this.#state.pickupStatus;
    if (status !== "REQUESTED") {
      const why = status === "NONE" ? "was not requested" : "is already completed";
      throw new FailedPrecondition("pickup-must-be-requested", `the pickup of order ${this.id} ${why}`);
    }
    const pickedUpAt = context.clock.now();
    this.#state = { ...this.#state, pickupStatus: "COMPLETED", pickedUpAt };
    const { orderId, productId, quantity } = this.#state;
    this.record<PickupCompleted>(
      "trial.delivery.v1.PickupCompleted",
      { orderId, productId, quantity, pickedUpAt },
      context,
    );
  }

  #recordCancelled(cancelledAt: Date, context: EventContext): void {
    const { orderId, productId, quantity } = this.#state;
    this.record<DeliveryCancelled>(
      "trial.delivery.v1.DeliveryCancelled",
      { orderId, productId, quantity, cancelledAt },
      context,
    );
  }
}
