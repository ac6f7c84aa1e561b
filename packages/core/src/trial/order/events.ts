import type { DomainEvent } from "../../shared/index.ts";

export type OrderPlaced = DomainEvent<
  "trial.order.v1.OrderPlaced",
  {
    orderId: string;
    customerId: string;
    planId: string;
    productId: string;
    quantity: number;
    address: string;
    placedAt: Date;
    returnDueAt: Date;
  }
>;

export const CANCELLATION_REASONS = ["CUSTOMER", "PLAN_ENDED"] as const;
export type CancellationReason = (typeof CANCELLATION_REASONS)[number];

export type OrderCancelled = DomainEvent<
  "trial.order.v1.OrderCancelled",
  {
    orderId: string;
    planId: string;
    productId: string;
    quantity: number;
    reason: CancellationReason;
    cancelledAt: Date;
  }
>;

export const RETURN_REASONS = ["CUSTOMER", "TRIAL_ENDED", "PLAN_ENDED", "CANCELLED_AFTER_DELIVERY"] as const;
export type ReturnReason = (typeof RETURN_REASONS)[number];

export type ReturnRequested = DomainEvent<
  "trial.order.v1.ReturnRequested",
  {
    orderId: string;
    productId: string;
    quantity: number;
    address: string;
    reason: ReturnReason;
    requestedAt: Date;
  }
>;

export type OrderRejected = DomainEvent<
  "trial.order.v1.OrderRejected",
  { orderId: string; productId: string; quantity: number; reason: string; rejectedAt: Date }
>;

export type OrderEvent = OrderPlaced | OrderCancelled | ReturnRequested | OrderRejected;
