/**
 * The dashboard's module on a fresh database with the embedded bus, called through Connect JSON.
 * The events order and delivery publish are fed into a replica's bus as their publishers encode
 * them, so they take the real consumer path: the bus, the inbox and the policy. Several replicas
 * may share the database, each with its own bus, so a test decides which replica handles an event.
 */
import { randomUUID } from "node:crypto";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, ConnectError } from "@connectrpc/connect";
import { createInProcessBus } from "@hexa/adapters/inprocess/bus";
import type { EventEnvelope } from "@hexa/adapters/messaging/bus";
import { encodeEvent } from "@hexa/adapters/messaging/encoding";
import { openServiceDatabase, type ServiceDatabase } from "@hexa/adapters/postgres/database";
import { startServices } from "@hexa/adapters/runtime/start";
import { dashboardModule } from "@hexa/adapters/trial/dashboard/module";
import { DashboardService } from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import {
  DeliveryCancelledSchema,
  DeliveryCompletedSchema,
  DeliveryStartedSchema,
  PickupCompletedSchema,
  PickupRequestedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import {
  CancellationReason,
  OrderCancelledSchema,
  OrderPlacedSchema,
  OrderRejectedSchema,
  ReturnReason,
  ReturnRequestedSchema,
} from "@hexa/proto/trial/order/v1/events_pb";
import { connectJsonClient, createTestDatabase, query, type TestDatabase } from "@hexa/testing";
import { pino } from "pino";

const logger = pino({ level: "silent" });

export interface DashboardReplica {
  readonly url: string;
  readonly client: Client<typeof DashboardService>;
  /** Publishes into this replica's bus; resolves once its consumer has handled the event. */
  publish(event: EventEnvelope): Promise<void>;
  /** Events this replica's consumers gave up on, with their consumer. */
  deadLetters(): Promise<Array<{ consumer: string; eventId: string }>>;
  stop(): Promise<void>;
}

export interface DashboardHarness {
  readonly databaseUrl: string;
  /** Starts one more dashboard replica on the same database, with a bus of its own. */
  startReplica(): Promise<DashboardReplica>;
  /** Rows in the dashboard's tables, to show that a refused call wrote nothing. */
  rowCounts(): Promise<{ orders: number; inbox: number }>;
  /** Stops every replica, then drops the database. */
  stop(): Promise<void>;
}

export async function startDashboard(): Promise<DashboardHarness> {
  const database: TestDatabase = await createTestDatabase();
  const busStore: ServiceDatabase = await openServiceDatabase({
    url: database.url,
    schema: "hexa_bus",
    entities: [],
    migrations: [],
    logger,
  });
  const replicas: DashboardReplica[] = [];
  return {
    databaseUrl: database.url,
    async startReplica() {
      const bus = await createInProcessBus({ sql: busStore.execute, logger });
      const running = await startServices({
        modules: [dashboardModule],
        databaseUrl: database.url,
        bus,
        host: "127.0.0.1",
        port: 0,
        logger,
        // A failing event is retried once, quickly, then dead-lettered: tests stay fast.
        deliveryPolicy: { maxDeliver: 2, backoffMs: [10] },
      });
      const replica: DashboardReplica = {
        url: running.url,
        client: connectJsonClient(DashboardService, running.url),
        publish: (event) => bus.publish(event),
        deadLetters: async () =>
          (await bus.deadLetters.list()).map((letter) => ({
            consumer: letter.consumer,
            eventId: letter.event.id,
          })),
        stop: () => running.stop(1_000),
      };
      replicas.push(replica);
      return replica;
    },
    async rowCounts() {
      const [row] = await query<{ orders: number; inbox: number }>(
        database.url,
        `select (select count(*)::int from trial_dashboard.order_status) as orders,
                (select count(*)::int from trial_dashboard.inbox) as inbox`,
      );
      return row ?? { orders: -1, inbox: -1 };
    },
    async stop() {
      await Promise.all(replicas.map((replica) => replica.stop()));
      await busStore.close();
      await database.drop();
    },
  };
}

/** The caller's error from a call expected to be refused. */
export async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  const outcome = await call.then(
    () => undefined,
    (caught: unknown) => ConnectError.from(caught),
  );
  if (!outcome) throw new Error("the call was accepted");
  return outcome;
}

export const PLACED_AT = new Date("2026-05-01T08:00:00.000Z");
export const RETURN_DUE_AT = new Date("2026-05-15T08:00:00.000Z");
export const ORDER = {
  customerId: "customer-7",
  productId: "espresso-machine",
  quantity: 2,
  address: "221B Baker Street",
};

/** The time `minute` minutes after PLACED_AT. */
export function minute(n: number): Date {
  return new Date(PLACED_AT.getTime() + n * 60_000);
}

function envelope<Desc extends DescMessage>(
  schema: Desc,
  orderId: string,
  at: Date,
  init: MessageInitShape<Desc>,
): EventEnvelope {
  return encodeEvent(
    { id: randomUUID(), type: schema.typeName, aggregateId: orderId, occurredAt: at },
    schema,
    init,
  );
}

const item = { productId: ORDER.productId, quantity: ORDER.quantity };

/** The events of one order, as order and delivery publish them; each happens at its own minute. */
export function eventsOf(orderId: string, planId: string, customerId = ORDER.customerId) {
  return {
    orderPlaced: (at = PLACED_AT) =>
      envelope(OrderPlacedSchema, orderId, at, {
        orderId,
        ...ORDER,
        customerId,
        planId,
        placedAt: timestampFromDate(at),
        returnDueAt: timestampFromDate(RETURN_DUE_AT),
      }),
    orderRejected: (at = minute(1)) =>
      envelope(OrderRejectedSchema, orderId, at, {
        orderId,
        ...item,
        reason: "2 requested, 1 available",
        rejectedAt: timestampFromDate(at),
      }),
    deliveryStarted: (at = minute(2)) =>
      envelope(DeliveryStartedSchema, orderId, at, {
        orderId,
        ...item,
        customerId,
        address: ORDER.address,
        startedAt: timestampFromDate(at),
      }),
    orderCancelled: (at = minute(3)) =>
      envelope(OrderCancelledSchema, orderId, at, {
        orderId,
        planId,
        ...item,
        reason: CancellationReason.CUSTOMER,
        cancelledAt: timestampFromDate(at),
      }),
    deliveryCancelled: (at = minute(4)) =>
      envelope(DeliveryCancelledSchema, orderId, at, {
        orderId,
        ...item,
        cancelledAt: timestampFromDate(at),
      }),
    deliveryCompleted: (at = minute(5)) =>
      envelope(DeliveryCompletedSchema, orderId, at, {
        orderId,
        ...item,
        deliveredAt: timestampFromDate(at),
      }),
    returnRequested: (at = minute(6), reason = ReturnReason.CUSTOMER) =>
      envelope(ReturnRequestedSchema, orderId, at, {
        orderId,
        ...item,
        address: ORDER.address,
        reason,
        requestedAt: timestampFromDate(at),
      }),
    pickupRequested: (at = minute(7)) =>
      envelope(PickupRequestedSchema, orderId, at, {
        orderId,
        ...item,
        address: ORDER.address,
        requestedAt: timestampFromDate(at),
      }),
    pickupCompleted: (at = minute(8)) =>
      envelope(PickupCompletedSchema, orderId, at, { orderId, ...item, pickedUpAt: timestampFromDate(at) }),
  };
}
