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

export type CancellationReason = "CUSTOMER" | "PLAN_ENDED";

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

export type ReturnReason = "CUSTOMER" | "TRIAL_ENDED" | "PLAN_ENDED" | "CANCELLED_AFTER_DELIVERY";

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
