import type { DomainEvent } from "../../shared/index.ts";

export type DeliveryStarted = DomainEvent<
  "trial.delivery.v1.DeliveryStarted",
  {
    orderId: string;
    customerId: string;
    productId: string;
    quantity: number;
    address: string;
    startedAt: Date;
  }
>;

export type DeliveryCompleted = DomainEvent<
  "trial.delivery.v1.DeliveryCompleted",
  { orderId: string; productId: string; quantity: number; deliveredAt: Date }
>;

export type DeliveryCancelled = DomainEvent<
  "trial.delivery.v1.DeliveryCancelled",
  { orderId: string; productId: string; quantity: number; cancelledAt: Date }
>;

export type PickupRequested = DomainEvent<
  "trial.delivery.v1.PickupRequested",
  { orderId: string; productId: string; quantity: number; address: string; requestedAt: Date }
>;

export type PickupCompleted = DomainEvent<
  "trial.delivery.v1.PickupCompleted",
  { orderId: string; productId: string; quantity: number; pickedUpAt: Date }
>;

export type DeliveryEvent =
  | DeliveryStarted
  | DeliveryCompleted
  | DeliveryCancelled
  | PickupRequested
  | PickupCompleted;
