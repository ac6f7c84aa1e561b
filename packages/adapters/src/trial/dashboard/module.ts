import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { isUuid, requireOwnership } from "@hexa/core/shared";
import {
  type DashboardPorts,
  type DashboardReads,
  getOrderStatus,
  listOrderStatuses,
  ORDER_STATES,
  type OrderStatus,
  watchOrderStatus,
  watchOrderStatuses,
  whenOrderEventSeen,
} from "@hexa/core/trial/dashboard";
import {
  DashboardService,
  type ListOrderStatusesRequest,
  OrderStateSchema,
  type OrderStatusViewSchema,
} from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import { accessOf, actorOf } from "../../connect/auth.ts";
import { bindContext, type ContextPorts } from "../../kit/context.ts";
import { enumMapping } from "../../kit/enum-mapping.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import type { ServiceModule } from "../../runtime/service-module.ts";
import { OrderChangeFeed } from "./changes.ts";
import { CONSUMED_EVENTS, readOrderEvent } from "./events.ts";
import {
  addOrderFact,
  DASHBOARD_SCHEMA,
  dashboardMigrations,
  OrderStatusRecord,
  orderStatusPage,
  orderStatusStore,
} from "./store.ts";

/**
 * Dashboard: every order's status, a read model built only from the events order and delivery
 * publish (CQRS); it never reads another service's data. Each order is one JSON document (see
 * store.ts). WatchOrder streams an order's view after every change made by any replica, and
 * WatchOrderStatuses the changes of the orders a filter selects, through Postgres LISTEN/NOTIFY
 * on one listening connection per process (see changes.ts).
 */
export const dashboardModule: ServiceModule = {
  name: "dashboard",
  schema: DASHBOARD_SCHEMA,
  entities: [OrderStatusRecord],
  migrations: dashboardMigrations,
  // Customers follow their own orders; marketers see every order.
  access: [
    accessOf(DashboardService, {
      getOrderStatus: { roles: ["marketer"], own: { role: "customer" } },
      listOrderStatuses: { roles: ["marketer"], own: { role: "customer", field: "customerId" } },
      watchOrder: { roles: ["marketer"], own: { role: "customer" } },
      watchOrderStatuses: { roles: ["marketer"], own: { role: "customer", field: "customerId" } },
    }),
  ],
  routes(router, runtime) {
    // One listening connection per process, opened while anyone watches.
    const changes = new OrderChangeFeed({
      connectionString: runtime.db.url,
      schema: runtime.db.schema,
      logger: runtime.logger,
    });
    const { query, reading } = bindContext(runtime, ports);
    router.service(DashboardService, {
      getOrderStatus: query(
        async (read, request: { orderId: string }, call) => owned(await getOrderStatus(read, request), call),
        (status) => ({ order: toProto(status) }),
      ),
      listOrderStatuses: query(
        async (read, request: ListOrderStatusesRequest) => {
          const page = readPage(request, isCursor);
          const statuses = await listOrderStatuses(read, {
            customerId: request.customerId,
            planId: request.planId,
            state: STATE.filter("state", request.state),
            limit: page.limit,
            after: page.after && { updatedAt: new Date(page.after.updatedAt), orderId: page.after.orderId },
          });
          return { statuses, limit: page.limit };
        },
        ({ statuses, limit }) => ({
          orders: statuses.map(toProto),
          nextPageToken: nextPageToken(statuses, limit, cursorOf),
        }),
      ),
      // An order the dashboard has not heard of yet is waited for, not refused: a caller may
      // watch an order it was just told about before the first event reaches the dashboard.
      async *watchOrder(request, context) {
        for await (const status of watchOrderStatus({ ...reading(), changes }, request, context.signal)) {
          yield { order: toProto(owned(status, context)) };
        }
      },
      async *watchOrderStatuses(request, context) {
        const filter = {
          customerId: request.customerId,
          planId: request.planId,
          state: STATE.filter("state", request.state),
        };
        for await (const news of watchOrderStatuses(
          { ...reading(), feed: changes },
          filter,
          context.signal,
        )) {
          yield "status" in news ? { order: toProto(news.status) } : {};
        }
      },
    });
  },
  // Each envelope is read once, into the fact the view keeps (events.ts).
  policies: (runtime) =>
    CONSUMED_EVENTS.map(({ policy, schema }) =>
      runtime.onEvent(policy, schema.typeName, async (unit, envelope) => {
        await whenOrderEventSeen(ports.write(unit), readOrderEvent(envelope));
      }),
    ),
};

const ports: ContextPorts<DashboardPorts, DashboardReads> = {
  write: (unit) => ({
    statuses: {
      get: orderStatusStore.writer(unit).get,
      list: (filter, page) => orderStatusPage(unit.em, filter, page),
      add: (orderId, fact) => addOrderFact(unit.em, orderId, fact),
    },
  }),
  read: (session) => ({
    statuses: {
      ...orderStatusStore.reader(session),
      list: (filter, page) => orderStatusPage(session.em, filter, page),
    },
  }),
};

/** The view, once the caller is known to be allowed to see it (a customer: only their own order). */
function owned(status: OrderStatus, context: HandlerContext): OrderStatus {
  requireOwnership(actorOf(context), status.customerId, `order ${status.orderId}`);
  return status;
}

/** A page token: the sort key of the last view of the page. */
interface Cursor {
  readonly updatedAt: string;
  readonly orderId: string;
}

function isCursor(value: unknown): value is Cursor {
  if (typeof value !== "object" || value === null) return false;
  const { updatedAt, orderId } = value as Record<string, unknown>;
  if (typeof updatedAt !== "string" || typeof orderId !== "string" || !isUuid(orderId)) return false;
  const time = new Date(updatedAt);
  return !Number.isNaN(time.getTime()) && time.toISOString() === updatedAt;
}

function cursorOf(status: OrderStatus): Cursor {
  return { updatedAt: status.updatedAt.toISOString(), orderId: status.orderId };
}

const STATE = enumMapping(ORDER_STATES, OrderStateSchema);

function toProto(status: OrderStatus): MessageInitShape<typeof OrderStatusViewSchema> {
  return {
    orderId: status.orderId,
    customerId: status.customerId ?? "",
    planId: status.planId ?? "",
    productId: status.productId ?? "",
    quantity: status.quantity ?? 0,
    address: status.address ?? "",
    state: STATE.toProto(status.state),
    delivery: status.delivery,
    pickup: status.pickup,
    ...(status.placedAt ? { placedAt: timestampFromDate(status.placedAt) } : {}),
    ...(status.returnDueAt ? { returnDueAt: timestampFromDate(status.returnDueAt) } : {}),
    updatedAt: timestampFromDate(status.updatedAt),
    history: status.history.map((fact) => ({
      eventType: fact.eventType,
      occurredAt: timestampFromDate(fact.occurredAt),
    })),
  };
}
