import { AggregateRoot, type EventContext, requireIntegerInRange } from "../../shared/index.ts";
import type { ReservationEvent, StockReserved, StockShortage } from "./events.ts";
import { MAX_UNITS, type Stock } from "./stock.ts";

/**
 * - RESERVED: the order's units are held.
 * - SHORT: there were not enough units; nothing is held and order rejects the order.
 * - RELEASED: the delivery was cancelled; the held units are available again.
 * - SHIPPED: the units left with the delivery.
 * - RETURNED: the units came back with the pickup.
 * - CANCELLED: a tombstone. The delivery was cancelled before the order reached the warehouse,
 *   so the order, when it comes, reserves nothing.
 *
 * The one list of them: the table's CHECK derives from it.
 */
export const RESERVATION_STATUSES = [
  "RESERVED",
  "SHORT",
  "RELEASED",
  "SHIPPED",
  "RETURNED",
  "CANCELLED",
] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

export interface ReservationState {
  readonly orderId: string;
  readonly productId: string;
  readonly quantity: number;
  readonly status: ReservationStatus;
  readonly updatedAt: Date;
}

/** What the warehouse needs of a placed order (order's OrderPlaced). */
export interface PlacedOrder {
  readonly orderId: string;
  readonly customerId: string;
  readonly productId: string;
  readonly quantity: number;
  readonly address: string;
}

/** An order's units, as delivery's events name them. */
export interface OrderUnits {
  readonly orderId: string;
  readonly productId: string;
  readonly quantity: number;
}

/**
 * One order's claim on a product's stock: the warehouse's step of the order saga. Its
 * transitions move the product's stock with it, and each applies once: an event that finds the
 * reservation past the state it acts on changes nothing, so redelivered and reordered events
 * are harmless.
 */
export class Reservation extends AggregateRoot<ReservationEvent> {
  #state: ReservationState;

  private constructor(state: ReservationState) {
    super();
    this.#state = state;
  }

  /**
   * Holds the order's units when enough are available (StockReserved, for delivery); otherwise
   * holds nothing and reports the shortage (StockShortage: order rejects the order, the saga's
   * compensation).
   */
  static place(order: PlacedOrder, stock: Stock, context: EventContext): Reservation {
    const quantity = requireIntegerInRange("quantity", order.quantity, 1, MAX_UNITS);
    if (stock.id !== order.productId) {
      throw new Error(`order ${order.orderId} is for ${order.productId}, not ${stock.id}`);
    }
    const now = context.clock.now();
    const { orderId, productId } = order;
    const available = stock.available;
    if (quantity > available) {
      const short = new Reservation({ orderId, productId, quantity, status: "SHORT", updatedAt: now });
      short.record<StockShortage>(
        "trial.warehouse.v1.StockShortage",
        { orderId, productId, requested: quantity, available, checkedAt: now },
        context,
      );
      return short;
    }
    stock.reserve(orderId, quantity, context);
    const held = new Reservation({ orderId, productId, quantity, status: "RESERVED", updatedAt: now });
    held.record<StockReserved>(
      "trial.warehouse.v1.StockReserved",
      {
        orderId,
        customerId: order.customerId,
        productId,
        quantity,
        address: order.address,
        reservedAt: now,
      },
      context,
    );
    return held;
  }

  /** The CANCELLED tombstone a cancelled delivery leaves when the order has not reached the warehouse yet. */
  static tombstone(cancelled: OrderUnits, context: EventContext): Reservation {
    const { orderId, productId, quantity } = cancelled;
    return new Reservation({
      orderId,
      productId,
      quantity,
      status: "CANCELLED",
      updatedAt: context.clock.now(),
    });
  }

  static restore(state: ReservationState): Reservation {
    return new Reservation(state);
  }

  get id(): string {
    return this.#state.orderId;
  }

  get state(): ReservationState {
    return this.#state;
  }

  /** The delivery was cancelled: held units become available again. Only a RESERVED reservation has any. */
  release(stock: Stock, context: EventContext): void {
    if (this.#state.status !== "RESERVED") return;
    stock.release(this.id, this.#state.quantity, context);
    this.#moveTo("RELEASED", context);
  }

  /** The courier delivered: the held units leave the warehouse. Only a RESERVED reservation ships. */
  ship(stock: Stock, context: EventContext): void {
    if (this.#state.status !== "RESERVED") return;
    stock.deliver(this.id, this.#state.quantity, context);
    this.#moveTo("SHIPPED", context);
  }

  /**
   * The courier picked the units up: they are back on hand. A pickup can only follow a delivery,
   * so when the completed delivery has not been seen yet (RESERVED), it is applied first.
   */
  receiveReturn(stock: Stock, context: EventContext): void {
    if (this.#state.status === "RESERVED") this.ship(stock, context);
    if (this.#state.status !== "SHIPPED") return;
    stock.takeBack(this.id, this.#state.quantity, context);
    this.#moveTo("RETURNED", context);
  }

  #moveTo(status: ReservationStatus, context: EventContext): void {
    this.#state = { ...this.#state, status, updatedAt: context.clock.now() };
  }
}
