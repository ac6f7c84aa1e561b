import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { InvalidArgument, requireOwnership, requireUuid } from "@hexa/core/shared";
import {
  cancelOrder,
  cancelOrdersForPlan,
  getOrder,
  type OrderPorts,
  type OrderState,
  type PlaceOrder,
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
import { type OrderSchema, OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
import { StockShortageSchema } from "@hexa/proto/trial/warehouse/v1/events_pb";
import { accessOf, actorOf } from "../../connect/auth.ts";
import { isNewestFirstCursor, nextPageToken, readPage } from "../../paging.ts";
import type { EntityManager } from "../../postgres/database.ts";
import { eventPolicy, type ServiceModule, type ServiceRuntime } from "../../runtime/service-module.ts";
import { OfferedPlanRecord, OfferedPlanStore, OrderRecord, OrderStore, orderMigrations } from "./store.ts";

/** How often the scheduler looks for delivered orders whose trial is over, and how many it takes a round. */
const DUE_RETURNS = { everyMs: 1_000, batch: 100 };

/** Order: customers' trial orders, and order's replica of the plans marketing offers. */
export const orderModule: ServiceModule = {
  name: "order",
  schema: "trial_order",
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
    const command = <T>(work: (ports: OrderPorts) => Promise<T>) =>
      runtime.unitOfWork((em) => work(ports(runtime, em, true)));
    const placing = (request: PlaceOrder) =>
      runtime.unitOfWork((em) => placeOrder(ports(runtime, em, true, "share"), request));
    const reply = async (state: Promise<OrderState>) => ({ order: toProto(await state) });
    /** The order, once the caller is known to be allowed to touch it. */
    const owned = async (p: OrderPorts, request: { orderId: string }, context: HandlerContext) => {
      const order = await getOrder(p, request);
      requireOwnership(actorOf(context), order.customerId, `order ${order.orderId}`);
      return order;
    };
    router.service(OrderService, {
      placeOrder: (request) => reply(placing(request)),
      cancelOrder: (request, context) =>
        reply(
          command(async (p) => {
            await owned(p, request, context);
            return cancelOrder(p, request);
          }),
        ),
      requestReturn: (request, context) =>
        reply(
          command(async (p) => {
            await owned(p, request, context);
            return requestReturn(p, request);
          }),
        ),
      cancelOrdersForPlan: (request) => command((p) => cancelOrdersForPlan(p, request)),
      getOrder: (request, context) =>
        reply(owned(ports(runtime, runtime.db.reader(), false), request, context)),
      listOrders: async (request) => {
        const page = readPage(request, isNewestFirstCursor);
        const orders = await new OrderStore(runtime.db.reader(), runtime.db, { lock: false }).list({
          customerId: request.customerId || undefined,
          planId: request.planId ? requireUuid("planId", request.planId) : undefined,
          status: statusFilter(request.status),
          limit: page.limit,
          after: page.after,
        });
        return {
          orders: orders.map(toProto),
          nextPageToken: nextPageToken(orders, page.limit, (o) => [o.placedAt.toISOString(), o.orderId]),
        };
      },
    });
  },
  policies: (runtime) => {
    const on = <Desc extends DescMessage>(
      name: string,
      schema: Desc,
      handle: (ports: OrderPorts, event: MessageShape<Desc>) => Promise<unknown>,
    ) => eventPolicy(runtime, name, schema, (em, event) => handle(ports(runtime, em, true), event));
    return [
      on("plan-started", PlanStartedSchema, whenPlanStarted),
      on("plan-ended", PlanEndedSchema, whenPlanEnded),
      on("stock-shortage", StockShortageSchema, whenStockShortage),
      on("delivery-started", DeliveryStartedSchema, whenDeliveryStarted),
      on("delivery-completed", DeliveryCompletedSchema, whenDeliveryCompleted),
      on("pickup-completed", PickupCompletedSchema, whenPickupCompleted),
    ];
  },
  jobs: (runtime) => [
    {
      name: "order-due-returns",
      everyMs: DUE_RETURNS.everyMs,
      run: async () => {
        let requested: number;
        do {
          requested = await runtime.unitOfWork((em) =>
            requestDueReturns(ports(runtime, em, true), { limit: DUE_RETURNS.batch }),
          );
        } while (requested === DUE_RETURNS.batch);
      },
    },
  ],
};

/**
 * Ports on `em`. In a unit of work rows are locked; placing an order takes its plan FOR SHARE, so
 * orders of one plan are placed in parallel, while everything that changes a plan takes it FOR UPDATE.
 */
function ports(
  runtime: ServiceRuntime,
  em: EntityManager,
  lock: boolean,
  planLock: "share" | "update" = "update",
): OrderPorts {
  return {
    orders: new OrderStore(em, runtime.db, { lock }),
    offeredPlans: new OfferedPlanStore(em, { lock: lock && planLock }),
    clock: runtime.clock,
    ids: runtime.ids,
  };
}

const STATUS: Record<OrderState["status"], OrderStatus> = {
  PLACED: OrderStatus.PLACED,
  DELIVERING: OrderStatus.DELIVERING,
  DELIVERED: OrderStatus.DELIVERED,
  RETURN_REQUESTED: OrderStatus.RETURN_REQUESTED,
  RETURNED: OrderStatus.RETURNED,
  CANCELLED: OrderStatus.CANCELLED,
  REJECTED: OrderStatus.REJECTED,
};

function statusFilter(status: OrderStatus): OrderState["status"] | undefined {
  if (status === OrderStatus.UNSPECIFIED) return undefined;
  const found = (Object.keys(STATUS) as Array<OrderState["status"]>).find((name) => STATUS[name] === status);
  if (!found) throw new InvalidArgument("status", `${status} is not an order status`);
  return found;
}

function toProto(order: OrderState): MessageInitShape<typeof OrderSchema> {
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    planId: order.planId,
    productId: order.productId,
    quantity: order.quantity,
    address: order.address,
    status: STATUS[order.status],
    placedAt: timestampFromDate(order.placedAt),
    returnDueAt: timestampFromDate(order.returnDueAt),
  };
}
