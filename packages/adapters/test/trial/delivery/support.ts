/**
 * Delivery's module on a fresh database with the embedded bus, called through Connect JSON. The
 * events other contexts publish are fed into the bus as their publishers encode them, so they go
 * through the real consumer path: the bus, the inbox and the policy.
 */
import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { InProcessBus } from "@hexa/adapters/inprocess/bus";
import type { EventEnvelope } from "@hexa/adapters/messaging/bus";
import { encodeEvent } from "@hexa/adapters/messaging/encoding";
import { deliveryModule } from "@hexa/adapters/trial/delivery/module";
import { FixedClock } from "@hexa/core/shared";
import { DeliveryService } from "@hexa/proto/trial/delivery/v1/delivery_pb";
import {
  CancellationReason,
  OrderCancelledSchema,
  ReturnReason,
  ReturnRequestedSchema,
} from "@hexa/proto/trial/order/v1/events_pb";
import { StockReservedSchema } from "@hexa/proto/trial/warehouse/v1/events_pb";
import { connectJsonClient, query, startModules } from "@hexa/testing";

export { refusal } from "@hexa/testing";

const DELIVERY_EVENTS = [
  "trial.delivery.v1.DeliveryStarted",
  "trial.delivery.v1.DeliveryCompleted",
  "trial.delivery.v1.DeliveryCancelled",
  "trial.delivery.v1.PickupRequested",
  "trial.delivery.v1.PickupCompleted",
];

export interface DeliveryHarness {
  readonly databaseUrl: string;
  readonly bus: InProcessBus;
  /** The services' clock: every time delivery records comes from it. */
  readonly clock: FixedClock;
  readonly client: Client<typeof DeliveryService>;
  /** Delivery's events as the bus carried them (through the outbox relay), in arrival order. */
  readonly published: EventEnvelope[];
  /** Publishes an event into the bus; resolves once every consumer handled it or dead-lettered it. */
  publish(event: EventEnvelope): Promise<void>;
  /** The events delivery committed to its outbox for one order, in commit order, payloads parsed. */
  outbox(orderId: string): Promise<Array<{ type: string; payload: Record<string, unknown> }>>;
  /** Rows in delivery's tables, to show that a refused call wrote nothing. */
  rowCounts(): Promise<{ shipments: number; outbox: number }>;
  stop(): Promise<void>;
}

export async function startDelivery(): Promise<DeliveryHarness> {
  const clock = new FixedClock(new Date("2026-05-01T08:00:00.000Z"));
  const { url, databaseUrl, bus, publish, stop } = await startModules([deliveryModule], {
    clock,
    deliveryPolicy: { maxDeliver: 2, backoffMs: [10] },
  });
  const published: EventEnvelope[] = [];
  try {
    for (const eventType of DELIVERY_EVENTS) {
      await bus.subscribe({
        name: `test-observer-${eventType}`,
        eventType,
        handle: async (event) => {
          published.push(event);
        },
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    databaseUrl,
    bus,
    clock,
    client: connectJsonClient(DeliveryService, url),
    published,
    publish,
    outbox: async (orderId) =>
      query<{ type: string; payload: Record<string, unknown> }>(
        databaseUrl,
        `select event_type as type, payload from trial_delivery.outbox where aggregate_id = $1 order by position`,
        [orderId],
      ),
    rowCounts: async () => {
      const [row] = await query<{ shipments: number; outbox: number }>(
        databaseUrl,
        `select (select count(*)::int from trial_delivery.shipment) as shipments,
                (select count(*)::int from trial_delivery.outbox) as outbox`,
      );
      return row ?? { shipments: -1, outbox: -1 };
    },
    stop,
  };
}

export const ORDER_DETAILS = {
  customerId: "customer-7",
  productId: "espresso-machine",
  quantity: 2,
  address: "221B Baker Street",
};

const sentAt = new Date("2026-05-01T07:00:00.000Z");

/** Warehouse's StockReserved for an order, as warehouse publishes it. */
export function stockReserved(orderId: string, eventId = randomUUID()): EventEnvelope {
  return encodeEvent(
    { id: eventId, type: StockReservedSchema.typeName, aggregateId: orderId, occurredAt: sentAt },
    StockReservedSchema,
    { orderId, ...ORDER_DETAILS, reservedAt: timestampFromDate(sentAt) },
  );
}

/** Order's OrderCancelled. */
export function orderCancelled(orderId: string, eventId = randomUUID()): EventEnvelope {
  return encodeEvent(
    { id: eventId, type: OrderCancelledSchema.typeName, aggregateId: orderId, occurredAt: sentAt },
    OrderCancelledSchema,
    {
      orderId,
      planId: "0196a000-0000-7000-8000-0000000000f1",
      productId: ORDER_DETAILS.productId,
      quantity: ORDER_DETAILS.quantity,
      reason: CancellationReason.CUSTOMER,
      cancelledAt: timestampFromDate(sentAt),
    },
  );
}

/** Order's ReturnRequested. */
export function returnRequested(orderId: string, eventId = randomUUID()): EventEnvelope {
  return encodeEvent(
    { id: eventId, type: ReturnRequestedSchema.typeName, aggregateId: orderId, occurredAt: sentAt },
    ReturnRequestedSchema,
    {
      orderId,
      productId: ORDER_DETAILS.productId,
      quantity: ORDER_DETAILS.quantity,
      address: ORDER_DETAILS.address,
      reason: ReturnReason.CUSTOMER,
      requestedAt: timestampFromDate(sentAt),
    },
  );
}
