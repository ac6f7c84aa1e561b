import type { DomainEvent } from "../../shared/index.ts";

/** An order's units are held for it. Delivery starts the delivery with what the event carries. */
export type StockReserved = DomainEvent<
  "trial.warehouse.v1.StockReserved",
  {
    orderId: string;
    customerId: string;
    productId: string;
    quantity: number;
    address: string;
    reservedAt: Date;
  }
>;

/** An order asked for more units than were available; nothing is reserved and order rejects it. */
export type StockShortage = DomainEvent<
  "trial.warehouse.v1.StockShortage",
  { orderId: string; productId: string; requested: number; available: number; checkedAt: Date }
>;

/** Why a product's stock changed. */
export const STOCK_CHANGE_REASONS = ["RESTOCKED", "RESERVED", "RELEASED", "DELIVERED", "RETURNED"] as const;
export type StockChangeReason = (typeof STOCK_CHANGE_REASONS)[number];

/** A product's counts after one change. */
export type StockChanged = DomainEvent<
  "trial.warehouse.v1.StockChanged",
  {
    productId: string;
    onHand: number;
    reserved: number;
    available: number;
    reason: StockChangeReason;
    /** The order behind the change; absent for a restock. */
    orderId?: string;
    changedAt: Date;
  }
>;

/** What a reservation records: the warehouse's answer to an order. */
export type ReservationEvent = StockReserved | StockShortage;

export type WarehouseEvent = ReservationEvent | StockChanged;
