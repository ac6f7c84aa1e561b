/** Delivery's events as it publishes them: recorded by Shipment, encoded by its outbox encoder. */
import { encodeDeliveryEvent } from "@hexa/adapters/trial/delivery/events";
import {
  type DeliveryCancelled,
  type DeliveryCompleted,
  type DeliveryStarted,
  type PickupCompleted,
  type PickupRequested,
  Shipment,
} from "@hexa/core/trial/delivery";
import {
  DeliveryCancelledSchema,
  DeliveryCompletedSchema,
  DeliveryStartedSchema,
  PickupCompletedSchema,
  PickupRequestedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import type { PublishedEvents } from "../messages.ts";
import { last, world } from "./world.ts";

/** The order a shipment is for. */
export interface ShippedOrder {
  readonly orderId?: string;
  readonly customerId?: string;
  readonly productId?: string;
  readonly quantity?: number;
  readonly address?: string;
}

function startedShipment(order: ShippedOrder): Shipment {
  return Shipment.start(
    {
      orderId: order.orderId ?? world.ids.next(),
      customerId: order.customerId ?? "customer-7",
      productId: order.productId ?? "espresso-machine",
      quantity: order.quantity ?? 2,
      address: order.address ?? "221B Baker Street",
    },
    world,
  );
}

function deliveredShipment(order: ShippedOrder): Shipment {
  const shipment = startedShipment(order);
  shipment.complete(world);
  return shipment;
}

/** Stock was reserved: the delivery starts. */
export function deliveryStarted(order: ShippedOrder = {}): DeliveryStarted {
  return last(startedShipment(order).pullEvents()) as DeliveryStarted;
}

/** The courier delivered. */
export function deliveryCompleted(order: ShippedOrder = {}): DeliveryCompleted {
  return last(deliveredShipment(order).pullEvents()) as DeliveryCompleted;
}

/** The order was cancelled while on its way. */
export function deliveryCancelled(order: ShippedOrder = {}): DeliveryCancelled {
  const shipment = startedShipment(order);
  shipment.cancel(world);
  return last(shipment.pullEvents()) as DeliveryCancelled;
}

/** A return was requested: a courier is sent. */
export function pickupRequested(order: ShippedOrder = {}): PickupRequested {
  const shipment = deliveredShipment(order);
  shipment.requestPickup(world);
  return last(shipment.pullEvents()) as PickupRequested;
}

/** The courier picked the product up. */
export function pickupCompleted(order: ShippedOrder = {}): PickupCompleted {
  const shipment = deliveredShipment(order);
  shipment.requestPickup(world);
  shipment.completePickup(world);
  return last(shipment.pullEvents()) as PickupCompleted;
}

export const deliveryEvents: PublishedEvents = {
  [DeliveryStartedSchema.typeName]: () => encodeDeliveryEvent(deliveryStarted()),
  [DeliveryCompletedSchema.typeName]: () => encodeDeliveryEvent(deliveryCompleted()),
  [DeliveryCancelledSchema.typeName]: () => encodeDeliveryEvent(deliveryCancelled()),
  [PickupRequestedSchema.typeName]: () => encodeDeliveryEvent(pickupRequested()),
  [PickupCompletedSchema.typeName]: () => encodeDeliveryEvent(pickupCompleted()),
};
