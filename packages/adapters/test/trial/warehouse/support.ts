/**
 * The warehouse module started in this process on a fresh database, with the embedded bus, as
 * the all-in-one runs it. Tests call it through Connect JSON and feed it the events other
 * contexts publish through the bus, the real consumer path (inbox, then policy).
 */
import { randomUUID } from "node:crypto";
import type { MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import {
  DeliveryCancelledSchema,
  DeliveryCompletedSchema,
  PickupCompletedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import { OrderPlacedSchema } from "@hexa/proto/trial/order/v1/events_pb";
import {
  StockChangedSchema,
  StockReservedSchema,
  StockShortageSchema,
} from "@hexa/proto/trial/warehouse/v1/events_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import {
  connectJsonClient,
  envelope,
  type OutboxEvent,
  outboxEvents,
  query,
  startModules,
} from "@hexa/testing";
import type { InProcessBus } from "../../../src/inprocess/bus.ts";
import type { EventEnvelope } from "../../../src/messaging/bus.ts";
import { warehouseModule } from "../../../src/trial/warehouse/module.ts";

export interface Warehouse {
  readonly databaseUrl: string;
  readonly bus: InProcessBus;
  readonly client: Client<typeof WarehouseService>;
  stop(): Promise<void>;
}

/**
 * Starts the module on 127.0.0.1, port 0. One delivery attempt: a handler that fails is
 * dead-lettered at once, so a test sees every failure.
 */
export async function startWarehouse(): Promise<Warehouse> {
  const { url, databaseUrl, bus, stop } = await startModules([warehouseModule]);
  return { databaseUrl, bus, client: connectJsonClient(WarehouseService, url), stop };
}

export interface Order {
  readonly orderId: string;
  readonly productId: string;
  readonly quantity: number;
}

/** A new order id for `productId`. */
export function newOrder(productId: string, quantity: number): Order {
  return { orderId: randomUUID(), productId, quantity };
}

export function orderPlaced(order: Order): EventEnvelope {
  return envelope(OrderPlacedSchema, order.orderId, {
    ...order,
    customerId: "customer-7",
    planId: randomUUID(),
    address: "221B Baker Street",
    placedAt: timestampFromDate(new Date()),
    returnDueAt: timestampFromDate(new Date(Date.now() + 7 * 86_400_000)),
  });
}

export function deliveryCancelled(order: Order): EventEnvelope {
  return envelope(DeliveryCancelledSchema, order.orderId, {
    ...order,
    cancelledAt: timestampFromDate(new Date()),
  });
}

export function deliveryCompleted(order: Order): EventEnvelope {
  return envelope(DeliveryCompletedSchema, order.orderId, {
    ...order,
    deliveredAt: timestampFromDate(new Date()),
  });
}

export function pickupCompleted(order: Order): EventEnvelope {
  return envelope(PickupCompletedSchema, order.orderId, {
    ...order,
    pickedUpAt: timestampFromDate(new Date()),
  });
}

const SCHEMAS = {
  "trial.warehouse.v1.StockChanged": StockChangedSchema,
  "trial.warehouse.v1.StockReserved": StockReservedSchema,
  "trial.warehouse.v1.StockShortage": StockShortageSchema,
} as const;

export type WarehouseMessage =
  | MessageShape<typeof StockChangedSchema>
  | MessageShape<typeof StockReservedSchema>
  | MessageShape<typeof StockShortageSchema>;

export type EmittedEvent = OutboxEvent<WarehouseMessage>;

/** Every event warehouse committed to its outbox about `productId`, in commit order, decoded. */
export function emitted(databaseUrl: string, productId: string): Promise<EmittedEvent[]> {
  return outboxEvents(databaseUrl, "trial_warehouse", SCHEMAS, "payload->>'productId' = $1", [productId]);
}

/** The reservation row of an order, as warehouse stored it. */
export async function reservationOf(
  databaseUrl: string,
  orderId: string,
): Promise<{ status: string; quantity: number } | undefined> {
  const [row] = await query<{ status: string; quantity: number }>(
    databaseUrl,
    "select status, quantity from trial_warehouse.reservation where order_id = $1",
    [orderId],
  );
  return row;
}
