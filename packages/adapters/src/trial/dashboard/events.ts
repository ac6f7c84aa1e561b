import type { DescMessage } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import type { OrderDetails, OrderEventType, OrderFact } from "@hexa/core/trial/dashboard";
import {
  DeliveryCancelledSchema,
  DeliveryCompletedSchema,
  DeliveryStartedSchema,
  PickupCompletedSchema,
  PickupRequestedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import {
  OrderCancelledSchema,
  OrderPlacedSchema,
  OrderRejectedSchema,
  ReturnRequestedSchema,
} from "@hexa/proto/trial/order/v1/events_pb";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { decodeEvent } from "../../messaging/encoding.ts";

/**
 * The events the dashboard consumes, each with the name of its policy (durable consumer
 * `dashboard-<policy>`: one event type per consumer).
 */
export const CONSUMED_EVENTS: ReadonlyArray<{ readonly policy: string; readonly schema: DescMessage }> = [
  { policy: "order-placed", schema: OrderPlacedSchema },
  { policy: "order-cancelled", schema: OrderCancelledSchema },
  { policy: "return-requested", schema: ReturnRequestedSchema },
  { policy: "order-rejected", schema: OrderRejectedSchema },
  { policy: "delivery-started", schema: DeliveryStartedSchema },
  { policy: "delivery-completed", schema: DeliveryCompletedSchema },
  { policy: "delivery-cancelled", schema: DeliveryCancelledSchema },
  { policy: "pickup-requested", schema: PickupRequestedSchema },
  { policy: "pickup-completed", schema: PickupCompletedSchema },
];

/** An event about an order, as the dashboard keeps it. */
export interface SeenOrderEvent {
  readonly orderId: string;
  readonly fact: OrderFact;
}

/**
 * Reads an envelope of one of the consumed events: the order it is about (the payload's order id,
 * else the envelope's aggregate id), when it happened (the event's own time, else the envelope's)
 * and the order details it carries. Empty proto fields are details the event does not know.
 */
export function readOrderEvent(envelope: EventEnvelope): SeenOrderEvent {
  switch (envelope.type) {
    case OrderPlacedSchema.typeName: {
      const event = decodeEvent(OrderPlacedSchema, envelope);
      return seen(envelope, event.orderId, event.placedAt, {
        customerId: text(event.customerId),
        planId: text(event.planId),
        productId: text(event.productId),
        quantity: count(event.quantity),
        address: text(event.address),
        placedAt: event.placedAt && timestampDate(event.placedAt),
        returnDueAt: event.returnDueAt && timestampDate(event.returnDueAt),
      });
    }
    case OrderCancelledSchema.typeName: {
      const event = decodeEvent(OrderCancelledSchema, envelope);
      return seen(envelope, event.orderId, event.cancelledAt, {
        planId: text(event.planId),
        ...item(event),
      });
    }
    case ReturnRequestedSchema.typeName: {
      const event = decodeEvent(ReturnRequestedSchema, envelope);
      return seen(envelope, event.orderId, event.requestedAt, {
        ...item(event),
        address: text(event.address),
      });
    }
    case OrderRejectedSchema.typeName: {
      const event = decodeEvent(OrderRejectedSchema, envelope);
      return seen(envelope, event.orderId, event.rejectedAt, item(event));
    }
    case DeliveryStartedSchema.typeName: {
      const event = decodeEvent(DeliveryStartedSchema, envelope);
      return seen(envelope, event.orderId, event.startedAt, {
        customerId: text(event.customerId),
        ...item(event),
        address: text(event.address),
      });
    }
    case DeliveryCompletedSchema.typeName: {
      const event = decodeEvent(DeliveryCompletedSchema, envelope);
      return seen(envelope, event.orderId, event.deliveredAt, item(event));
    }
    case DeliveryCancelledSchema.typeName: {
      const event = decodeEvent(DeliveryCancelledSchema, envelope);
      return seen(envelope, event.orderId, event.cancelledAt, item(event));
    }
    case PickupRequestedSchema.typeName: {
      const event = decodeEvent(PickupRequestedSchema, envelope);
      return seen(envelope, event.orderId, event.requestedAt, {
        ...item(event),
        address: text(event.address),
      });
    }
    case PickupCompletedSchema.typeName: {
      const event = decodeEvent(PickupCompletedSchema, envelope);
      return seen(envelope, event.orderId, event.pickedUpAt, item(event));
    }
    default:
      throw new Error(`the dashboard does not consume ${envelope.type}`);
  }
}

function seen(
  envelope: EventEnvelope,
  orderId: string,
  happened: Timestamp | undefined,
  details: OrderDetails,
): SeenOrderEvent {
  const occurredAt = happened ? timestampDate(happened) : new Date(envelope.occurredAt);
  if (Number.isNaN(occurredAt.getTime())) throw new Error(`event ${envelope.id} has no valid time`);
  return {
    orderId: orderId || envelope.aggregateId,
    fact: { eventId: envelope.id, eventType: envelope.type as OrderEventType, occurredAt, details },
  };
}

function item(event: { productId: string; quantity: number }): OrderDetails {
  return { productId: text(event.productId), quantity: count(event.quantity) };
}

function text(value: string): string | undefined {
  return value === "" ? undefined : value;
}

function count(value: number): number | undefined {
  return value === 0 ? undefined : value;
}
