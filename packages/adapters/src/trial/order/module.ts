import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requireOwnership, requireUuid } from "@hexa/core/shared";
import {
  cancelOrder,
  cancelOrdersForPlan,
  getOrder,
  type OfferedPlan,
  ORDER_STATUSES,
  type OrderPorts,
  type OrderReads,
  type OrderState,
  placeOrder,
  requestDueReturns,
  requestReturn,
  whenDeliveryCompleted,
  whenDeliveryStarted,
  whenPickupCompleted,
  whenPlanEnded,
  whenPlanStarted,
  whenStockShortage,
} from "@hexa/core/trial/order";
import {
  DeliveryCompletedSchema,
  DeliveryStartedSchema,
  PickupCompletedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import { PlanEndedSchema, PlanStartedSchema } from "@hexa/proto/trial/marketing/v1/events_pb";
import {
  type ListOrdersRequest,
  type OrderSchema,
  OrderService,
  OrderStatusSchema,
} from "@hexa/proto/trial/order/v1/order_pb";
import { StockShortageSchema } from "@hexa/proto/trial/warehouse/v1/events_pb";
import { accessOf, actorOf } from "../../connect/auth.ts";
import { bindContext, type ContextPorts } from "../../kit/context.ts";
import { enumMapping } from "../../kit/enum-mapping.ts";
import { Remembered } from "../../kit/remembered.ts";
import { isNewestFirstCursor, nextPageToken, readPage } from "../../paging.ts";
import type { ServiceModule } from "../../runtime/service-module.ts";
import {
  OfferedPlanRecord,
  ORDER_SCHEMA,
  type OrderListing,
  OrderRecord,
  offeredPlanStore,
  orderMigrations,
  orderPage,
  orderStore,
  orders,
} from "./store.ts";

/**
 * The scheduler of returns: how often it looks for delivered orders whose trial is over while it
 * finds some, how long it waits at most while it finds none, and how many it takes a round.
 */
const DUE_RETURNS = { everyMs: 1_000, maxIdleMs: 5_000, batch: 100 };

/** Order: customers' trial orders, and order's replica of the plans marketing offers. */
export const orderModule: ServiceModule = {
  name: "order",
  schema: ORDER_SCHEMA,
  entities: [OrderRecord, OfferedPlanRecord],
  migrations: orderMigrations,
  // Customers act on their own orders only; marketing's service closes a plan's orders.
  access: [
    accessOf(OrderService, {
      placeOrder: { roles: [], own: { role: "customer", field: "customerId" } },
      cancelOrder: { roles: [], own: { role: "customer" } },
      requestReturn: { roles: [], own: { role: "customer" } },
      cancelOrdersForPlan: { roles: ["service"] },
      getOrder: { roles: ["marketer"], own: { role: "customer" } },
      listOrders: { roles: ["marketer"], own: { role: "customer", field: "customerId" } },
    }),
  ],
  routes(router, runtime) {
    const { command, query } = bindContext(runtime, ports);
    // Placing an order reads its plan FOR SHARE, so orders of one plan are placed in parallel; a
    // plan read active is remembered, and the order's insert checks it is still active (store.ts).
    const activePlans = new Remembered<string, OfferedPlan>((plan) => plan.status === "ACTIVE");
    const placing = bindContext<Parameters<typeof placeOrder>[0], OrderQueries>(runtime, {
      read: ports.read,
      write: (unit) => ({
        orders: orders(unit),
        offeredPlans: activePlans.reads(offeredPlanStore.shared(unit)),
      }),
    });
    router.service(OrderService, {
      placeOrder: activePlans.route(placing.command(placeOrder, orderReply)),
      cancelOrder: command(async (p, request: { orderId: string }, call) => {
        await owned(p, request, call);
        return cancelOrder(p, request);
      }, orderReply),
      requestReturn: command(async (p, request: { orderId: string }, call) => {
        await owned(p, request, call);
        return requestReturn(p, request);
      }, orderReply),
      cancelOrdersForPlan: command(cancelOrdersForPlan, (closed) => closed),
      getOrder: query(owned, orderReply),
      listOrders: query(
        async (read, request: ListOrdersRequest) => {
          const page = readPage(request, isNewestFirstCursor);
          const orders = await read.orderPage({
            customerId: request.customerId || undefined,
            planId: request.planId ? requireUuid("planId", request.planId) : undefined,
            status: STATUS.filter("status", request.status),
            limit: page.limit,
            after: page.after,
          });
          return { orders, limit: page.limit };
        },
        ({ orders, limit }) => ({
          orders: orders.map(toProto),
          nextPageToken: nextPageToken(orders, limit, (o) => [o.placedAt.toISOString(), o.orderId]),
        }),
      ),
    });
  },
  policies: (runtime) => {
    const { policy } = bindContext(runtime, ports);
    return [
      policy("plan-started", PlanStartedSchema, whenPlanStarted),
      policy("plan-ended", PlanEndedSchema, whenPlanEnded),
      policy("stock-shortage", StockShortageSchema, whenStockShortage),
      policy("delivery-started", DeliveryStartedSchema, whenDeliveryStarted),
      policy("delivery-completed", DeliveryCompletedSchema, whenDeliveryCompleted),
      policy("pickup-completed", PickupCompletedSchema, whenPickupCompleted),
    ];
  },
  jobs: (runtime) => {
    const { inUnitOfWork } = bindContext(runtime, ports);
    return [
      {
        name: "order-due-returns",
        everyMs: DUE_RETURNS.everyMs,
        maxIdleMs: DUE_RETURNS.maxIdleMs,
        run: async () => {
          let requested: number;
          let total = 0;
          do {
            requested = await inUnitOfWork((p) => requestDueReturns(p, { limit: DUE_RETURNS.batch }));
            total += requested;
          } while (requested === DUE_RETURNS.batch);
          return total;
        },
      },
    ];
  },
};

interface OrderQueries {
  readonly orders: OrderReads;
  orderPage(listing: OrderListing): Promise<OrderState[]>;
}

const ports: ContextPorts<OrderPorts, OrderQueries> = {
  write: (unit) => ({
    orders: orders(unit),
    offeredPlans: offeredPlanStore.writer(unit),
  }),
  read: (session) => ({
    orders: orderStore.reader(session),
    orderPage: (listing) => orderPage(session.em, listing),
  }),
};

/** The order, once the caller is known to be allowed to touch it. */
async function owned(
  p: { readonly orders: OrderReads },
  request: { orderId: string },
  call: HandlerContext,
): Promise<OrderState> {
  const order = await getOrder(p, request);
  requireOwnership(actorOf(call), order.customerId, `order ${order.orderId}`);
  return order;
}

const STATUS = enumMapping(ORDER_STATUSES, OrderStatusSchema);

function orderReply(order: OrderState) {
  return { order: toProto(order) };
}

function toProto(order: OrderState): MessageInitShape<typeof OrderSchema> {
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    planId: order.planId,
    productId: order.productId,
    quantity: order.quantity,
    address: order.address,
    status: STATUS.toProto(order.status),
    placedAt: timestampFromDate(order.placedAt),
    returnDueAt: timestampFromDate(order.returnDueAt),
  };
}
