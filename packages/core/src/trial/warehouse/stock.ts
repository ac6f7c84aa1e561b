import {
  AggregateRoot,
  type EventContext,
  FailedPrecondition,
  requireIntegerInRange,
} from "../../shared/index.ts";
import type { StockChanged, StockChangeReason } from "./events.ts";

/** What is stored of a product's stock. */
export interface StockCounts {
  readonly productId: string;
  /** Units in the warehouse. */
  readonly onHand: number;
  /** Units held for orders not yet delivered. */
  readonly reserved: number;
  /** When the counts last changed; absent for a product never stocked. */
  readonly updatedAt?: Date | undefined;
}

/** A product's stock as callers see it. */
export interface StockState extends StockCounts {
  /** Units a new order can take: onHand - reserved, never below 0. */
  readonly available: number;
}

/** Most units one restock adds. */
export const MAX_RESTOCK = 100_000;
/** Most units a count can reach: counts travel as 32-bit integers. */
export const MAX_UNITS = 2_147_483_647;

/**
 * The stock of one product. Its counts never go negative and it never holds more units for orders
 * than it has: 0 <= reserved <= onHand. Every change records StockChanged.
 */
export class Stock extends AggregateRoot<StockChanged> {
  #counts: StockCounts;

  private constructor(counts: StockCounts) {
    super();
    this.#counts = counts;
  }

  /** A product nothing has happened to yet: every count 0. */
  static empty(productId: string): Stock {
    return new Stock({ productId, onHand: 0, reserved: 0 });
  }

  static restore(counts: StockCounts): Stock {
    const { productId, onHand, reserved, updatedAt } = counts;
    return new Stock({ productId, onHand, reserved, updatedAt });
  }

  get id(): string {
    return this.#counts.productId;
  }

  get available(): number {
    return this.#counts.onHand - this.#counts.reserved;
  }

  get state(): StockState {
    return { ...this.#counts, available: this.available };
  }

  /** Warehouse staff add 1 to 100000 units. */
  restock(quantity: number, context: EventContext): void {
    const units = requireIntegerInRange("quantity", quantity, 1, MAX_RESTOCK);
    this.#change({ onHand: this.#counts.onHand + units }, "RESTOCKED", undefined, context);
  }

  /** Holds units for an order, out of the available ones only (rule `stock-must-be-available`). */
  reserve(orderId: string, quantity: number, context: EventContext): void {
    const units = orderUnits(quantity);
    if (units > this.available) {
      throw new FailedPrecondition(
        "stock-must-be-available",
        `${units} units of ${this.id} requested, ${this.available} available`,
      );
    }
    this.#change({ reserved: this.#counts.reserved + units }, "RESERVED", orderId, context);
  }

  /** Gives an order's held units back to the available ones. */
  release(orderId: string, quantity: number, context: EventContext): void {
    this.#change({ reserved: this.#counts.reserved - orderUnits(quantity) }, "RELEASED", orderId, context);
  }

  /** An order's held units leave the warehouse with its delivery. */
  deliver(orderId: string, quantity: number, context: EventContext): void {
    const units = orderUnits(quantity);
    this.#change(
      { onHand: this.#counts.onHand - units, reserved: this.#counts.reserved - units },
      "DELIVERED",
      orderId,
      context,
    );
  }

  /** An order's units come back with its pickup. */
  takeBack(orderId: string, quantity: number, context: EventContext): void {
    this.#change({ onHand: this.#counts.onHand + orderUnits(quantity) }, "RETURNED", orderId, context);
  }

  #change(
    counts: { onHand?: number; reserved?: number },
    reason: StockChangeReason,
    orderId: string | undefined,
    context: EventContext,
  ): void {
    const onHand = counts.onHand ?? this.#counts.onHand;
    const reserved = counts.reserved ?? this.#counts.reserved;
    if (onHand > MAX_UNITS) {
      throw new FailedPrecondition(
        "stock-within-limit",
        `${this.id} cannot hold more than ${MAX_UNITS} units`,
      );
    }
    if (reserved < 0 || reserved > onHand) {
      throw new FailedPrecondition(
        "stock-never-negative",
        `${this.id} would have ${onHand} units on hand and ${reserved} reserved`,
      );
    }
    const changedAt = context.clock.now();
    this.#counts = { productId: this.id, onHand, reserved, updatedAt: changedAt };
    this.record<StockChanged>(
      "trial.warehouse.v1.StockChanged",
      {
        productId: this.id,
        onHand,
        reserved,
        available: onHand - reserved,
        reason,
        ...(orderId === undefined ? {} : { orderId }),
        changedAt,
      },
      context,
    );
  }
}

/** An order's quantity as the events carry it: a whole number of at least 1. */
function orderUnits(quantity: number): number {
  return requireIntegerInRange("quantity", quantity, 1, MAX_UNITS);
}
