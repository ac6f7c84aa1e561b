/**
 * The warehouse module started in this process on a fresh database, with the embedded bus, as
 * the all-in-one runs it. Tests call it through Connect JSON and feed it the events other
 * contexts publish through the bus, the real consumer path (inbox, then policy).
 */
import { randomUUID } from "node:crypto";
import {
  type DescMessage,
  fromJsonString,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
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
import { connectJsonClient, createTestDatabase, query, type TestDatabase } from "@hexa/testing";
import { pino } from "pino";
import { createInProcessBus, type InProcessBus } from "../../../src/inprocess/bus.ts";
import type { EventEnvelope } from "../../../src/messaging/bus.ts";
import { encodeEvent } from "../../../src/messaging/encoding.ts";
import { openServiceDatabase, type ServiceDatabase } from "../../../src/postgres/database.ts";
import { type RunningServices, startServices } from "../../../src/runtime/start.ts";
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
  const logger = pino({ level: "silent" });
  const database: TestDatabase = await createTestDatabase();
  let busStore: ServiceDatabase | undefined;
  let services: RunningServices | undefined;
  try {
    busStore = await openServiceDatabase({
      url: database.url,
      schema: "hexa_bus",
      entities: [],
      migrations: [],
      logger,
    });
    const bus = await createInProcessBus({ sql: busStore.execute, logger });
    services = await startServices({
      modules: [warehouseModule],
      databaseUrl: database.url,
      bus,
      host: "127.0.0.1",
      port: 0,
      logger,
      deliveryPolicy: { maxDeliver: 1, backoffMs: [0] },
      outboxIdleMs: 20,
    });
    const running = services;
    const store = busStore;
    return {
      databaseUrl: database.url,
      bus,
      client: connectJsonClient(WarehouseService, running.url),
      stop: async () => {
        await running.stop(1_000);
        await store.close();
        await database.drop();
      },
    };
  } catch (error) {
    await services?.stop(0);
    await busStore?.close();
    await database.drop();
    throw error;
  }
}

/** An event as its publisher's outbox relay would put it on the bus. */
export function envelope<Desc extends DescMessage>(
  schema: Desc,
  aggregateId: string,
  init: MessageInitShape<Desc>,
): EventEnvelope {
  return encodeEvent(
    { id: randomUUID(), type: schema.typeName, aggregateId, occurredAt: new Date() },
    schema,
    init,
  );
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

export interface EmittedEvent {
  readonly type: string;
  readonly aggregateId: string;
  readonly message: WarehouseMessage;
}

/** Every event warehouse committed to its outbox about `productId`, in commit order, decoded. */
export async function emitted(databaseUrl: string, productId: string): Promise<EmittedEvent[]> {
  const rows = await query<{ event_type: keyof typeof SCHEMAS; aggregate_id: string; payload: string }>(
    databaseUrl,
    `select event_type, aggregate_id, payload::text as payload from trial_warehouse.outbox
      where payload->>'productId' = $1 order by position`,
    [productId],
  );
  return rows.map((row) => ({
    type: row.event_type,
    aggregateId: row.aggregate_id,
    message: fromJsonString(SCHEMAS[row.event_type] as DescMessage, row.payload) as WarehouseMessage,
  }));
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
