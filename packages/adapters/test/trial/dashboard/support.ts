/**
 * The dashboard's module on a fresh database with the embedded bus, called through Connect JSON.
 * The events order and delivery publish are fed into a replica's bus as their publishers encode
 * them, so they take the real consumer path: the bus, the inbox and the policy. Several replicas
 * may share the database, each with its own bus, so a test decides which replica handles an event.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { EventEnvelope } from "@hexa/adapters/messaging/bus";
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
import { connectJsonClient, createTestDatabase, envelope, query, startModules } from "@hexa/testing";

export { refusal } from "@hexa/testing";

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
  const database = await createTestDatabase();
  const replicas: DashboardReplica[] = [];
  return {
    databaseUrl: database.url,
    async startReplica() {
      const { url, bus, publish, stop } = await startModules([dashboardModule], {
        databaseUrl: database.url,
        // A failing event is retried once, quickly, then dead-lettered: tests stay fast.
        deliveryPolicy: { maxDeliver: 2, backoffMs: [10] },
      });
      const replica: DashboardReplica = {
        url,
        client: connectJsonClient(DashboardService, url),
        publish,
        deadLetters: async () =>
          (await bus.deadLetters.list()).map((letter) => ({
            consumer: letter.consumer,
            eventId: letter.event.id,
          })),
        stop,
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
      await database.drop();
    },
  };
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

const item = { productId: ORDER.productId, quantity: ORDER.quantity };

/** The events of one order, as order and delivery publish them; each happens at its own minute. */
export function eventsOf(orderId: string, planId: string, customerId = ORDER.customerId) {
  return {
    orderPlaced: (at = PLACED_AT) =>
      envelope(
        OrderPlacedSchema,
        orderId,
        {
          orderId,
          ...ORDER,
          customerId,
          planId,
          placedAt: timestampFromDate(at),
          returnDueAt: timestampFromDate(RETURN_DUE_AT),
        },
        at,
      ),
    orderRejected: (at = minute(1)) =>
      envelope(
        OrderRejectedSchema,
        orderId,
        {
          orderId,
          ...item,
          reason: "2 requested, 1 available",
          rejectedAt: timestampFromDate(at),
        },
        at,
      ),
    deliveryStarted: (at = minute(2)) =>
      envelope(
        DeliveryStartedSchema,
        orderId,
        {
          orderId,
          ...item,
          customerId,
          address: ORDER.address,
          startedAt: timestampFromDate(at),
        },
        at,
      ),
    orderCancelled: (at = minute(3)) =>
      envelope(
        OrderCancelledSchema,
        orderId,
        {
          orderId,
          planId,
          ...item,
          reason: CancellationReason.CUSTOMER,
          cancelledAt: timestampFromDate(at),
        },
        at,
      ),
    deliveryCancelled: (at = minute(4)) =>
      envelope(
        DeliveryCancelledSchema,
        orderId,
        {
          orderId,
          ...item,
          cancelledAt: timestampFromDate(at),
        },
        at,
      ),
    deliveryCompleted: (at = minute(5)) =>
      envelope(
        DeliveryCompletedSchema,
        orderId,
        {
          orderId,
          ...item,
          deliveredAt: timestampFromDate(at),
        },
        at,
      ),
    returnRequested: (at = minute(6), reason = ReturnReason.CUSTOMER) =>
      envelope(
        ReturnRequestedSchema,
        orderId,
        {
          orderId,
          ...item,
          address: ORDER.address,
          reason,
          requestedAt: timestampFromDate(at),
        },
        at,
      ),
    pickupRequested: (at = minute(7)) =>
      envelope(
        PickupRequestedSchema,
        orderId,
        {
          orderId,
          ...item,
          address: ORDER.address,
          requestedAt: timestampFromDate(at),
        },
        at,
      ),
    pickupCompleted: (at = minute(8)) =>
      envelope(PickupCompletedSchema, orderId, { orderId, ...item, pickedUpAt: timestampFromDate(at) }, at),
  };
}
