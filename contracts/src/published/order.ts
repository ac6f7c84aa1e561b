/** Order's events as it publishes them: recorded by Order, encoded by its outbox encoder. */
import { encodeOrderEvent } from "@hexa/adapters/trial/order/events";
import {
  Order,
  type OrderCancelled,
  type OrderPlaced,
  type OrderRejected,
  type ReturnRequested,
} from "@hexa/core/trial/order";
import {
  OrderCancelledSchema,
  OrderPlacedSchema,
  OrderRejectedSchema,
  ReturnRequestedSchema,
} from "@hexa/proto/trial/order/v1/events_pb";
import type { PublishedEvents } from "../messages.ts";
import { last, world } from "./world.ts";

function placedOrder(): Order {
  const planId = world.ids.next();
  return Order.place(
    {
      orderId: world.ids.next(),
      customerId: "customer-7",
      planId,
      plan: { planId, productId: "espresso-machine", trialDays: 7, status: "ACTIVE" },
      quantity: 2,
      address: "221B Baker Street",
    },
    world,
  );
}

/** A customer's order is accepted. */
export function orderPlaced(): OrderPlaced {
  return last(placedOrder().pullEvents()) as OrderPlaced;
}

/** A customer cancels an order on its way. */
export function orderCancelled(): OrderCancelled {
  const order = placedOrder();
  order.deliveryStarted();
  order.cancel("CUSTOMER", world);
  return last(order.pullEvents()) as OrderCancelled;
}

/** A customer asks to return a delivered order. */
export function returnRequested(): ReturnRequested {
  const order = placedOrder();
  order.deliveryCompleted(world);
  order.requestReturn("CUSTOMER", world);
  return last(order.pullEvents()) as ReturnRequested;
}

/** The warehouse had no stock for an order. */
export function orderRejected(): OrderRejected {
  const order = placedOrder();
  order.reject("2 requested, 1 available", world);
  return last(order.pullEvents()) as OrderRejected;
}

export const orderEvents: PublishedEvents = {
  [OrderPlacedSchema.typeName]: () => encodeOrderEvent(orderPlaced()),
  [OrderCancelledSchema.typeName]: () => encodeOrderEvent(orderCancelled()),
  [ReturnRequestedSchema.typeName]: () => encodeOrderEvent(returnRequested()),
  [OrderRejectedSchema.typeName]: () => encodeOrderEvent(orderRejected()),
};
