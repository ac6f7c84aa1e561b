import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { InvalidArgument, isUuid, requireOwnership } from "@hexa/core/shared";
import {
  type DashboardPorts,
  getOrderStatus,
  listOrderStatuses,
  type OrderStatus,
  type OrderState as ViewState,
  watchOrderStatus,
  whenOrderEventSeen,
} from "@hexa/core/trial/dashboard";
import {
  DashboardService,
  OrderState,
  type OrderStatusViewSchema,
} from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import { accessOf, actorOf } from "../../connect/auth.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import type { ServiceModule, ServiceRuntime } from "../../runtime/service-module.ts";
import { OrderChangeFeed } from "./changes.ts";
import { CONSUMED_EVENTS, readOrderEvent } from "./events.ts";
import { dashboardMigrations, OrderStatusRecord, OrderStatusStore } from "./store.ts";

/**
 * Dashboard: every order's status, a read model built only from the events order and delivery
 * publish (CQRS); it never reads another service's data. Each order is one JSON document (see
 * store.ts). WatchOrder streams an order's view after every change made by any replica, through
 * Postgres LISTEN/NOTIFY (see changes.ts).
 */
export const dashboardModule: ServiceModule = {
  name: "dashboard",
  schema: "trial_dashboard",
  entities: [OrderStatusRecord],
  migrations: dashboardMigrations,
  // Customers follow their own orders; marketers see every order.
  access: [
    accessOf(DashboardService, {
      getOrderStatus: { roles: ["marketer"], own: { role: "customer" } },
      listOrderStatuses: { roles: ["marketer"], own: { role: "customer", field: "customerId" } },
      watchOrder: { roles: ["marketer"], own: { role: "customer" } },
    }),
  ],
  routes(router, runtime) {
    // One listening connection per process, opened while anyone watches.
    const changes = new OrderChangeFeed({ connectionString: runtime.db.url, logger: runtime.logger });
    router.service(DashboardService, {
      getOrderStatus: async (request, context) => ({
        order: toProto(owned(await getOrderStatus(readPorts(runtime), request), context)),
      }),
      listOrderStatuses: async (request) => {
        const page = readPage(request, isCursor);
        const statuses = await listOrderStatuses(readPorts(runtime), {
          customerId: request.customerId,
          planId: request.planId,
          state: stateFilter(request.state),
          limit: page.limit,
          after: page.after && { updatedAt: new Date(page.after.updatedAt), orderId: page.after.orderId },
        });
        return {
          orders: statuses.map(toProto),
          nextPageToken: nextPageToken(statuses, page.limit, cursorOf),
        };
      },
      // An order the dashboard has not heard of yet is waited for, not refused: a caller may
      // watch an order it was just told about before the first event reaches the dashboard.
      async *watchOrder(request, context) {
        const ports = { ...readPorts(runtime), changes };
        for await (const status of watchOrderStatus(ports, request, context.signal)) {
          yield { order: toProto(owned(status, context)) };
        }
      },
    });
  },
  policies: (runtime) =>
    CONSUMED_EVENTS.map(({ policy, schema }) =>
      runtime.policy(policy, schema.typeName, async (em, envelope) => {
        await whenOrderEventSeen(
          { statuses: new OrderStatusStore(em, { lock: true }) },
          readOrderEvent(envelope),
        );
      }),
    ),
};

/** The view, once the caller is known to be allowed to see it (a customer: only their own order). */
function owned(status: OrderStatus, context: HandlerContext): OrderStatus {
  requireOwnership(actorOf(context), status.customerId, `order ${status.orderId}`);
  return status;
}

function readPorts(runtime: ServiceRuntime): DashboardPorts {
  return { statuses: new OrderStatusStore(runtime.db.reader(), { lock: false }) };
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

const STATE: Record<ViewState, OrderState> = {
  PLACED: OrderState.PLACED,
  DELIVERING: OrderState.DELIVERING,
  DELIVERED: OrderState.DELIVERED,
  RETURN_REQUESTED: OrderState.RETURN_REQUESTED,
  RETURNED: OrderState.RETURNED,
  CANCELLED: OrderState.CANCELLED,
  REJECTED: OrderState.REJECTED,
};

/** The state to filter by: none for UNSPECIFIED, InvalidArgument for a number no state has. */
function stateFilter(state: OrderState): ViewState | undefined {
  if (state === OrderState.UNSPECIFIED) return undefined;
  const known = (Object.keys(STATE) as ViewState[]).find((name) => STATE[name] === state);
  if (!known) throw new InvalidArgument("state", `${state} is not an order state`);
  return known;
}

function toProto(status: OrderStatus): MessageInitShape<typeof OrderStatusViewSchema> {
  return {
    orderId: status.orderId,
    customerId: status.customerId ?? "",
    planId: status.planId ?? "",
    productId: status.productId ?? "",
    quantity: status.quantity ?? 0,
    address: status.address ?? "",
    state: STATE[status.state],
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
