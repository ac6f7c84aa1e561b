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

export type OrderEvent = OrderPlaced;
