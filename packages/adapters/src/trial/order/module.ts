import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  getOrder,
  type OrderPorts,
  type OrderState,
  placeOrder,
  whenPlanEnded,
  whenPlanStarted,
} from "@hexa/core/trial/order";
import { PlanEndedSchema, PlanStartedSchema } from "@hexa/proto/trial/marketing/v1/events_pb";
import { type OrderSchema, OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
import { decodeEvent } from "../../messaging/encoding.ts";
import type { EntityManager } from "../../postgres/database.ts";
import type { ServiceModule, ServiceRuntime } from "../../runtime/service-module.ts";
import { OfferedPlanRecord, OfferedPlanStore, OrderRecord, OrderStore, orderMigrations } from "./store.ts";

/** Order: customers' trial orders, and order's replica of the plans marketing offers. */
export const orderModule: ServiceModule = {
  name: "order",
  schema: "trial_order",
  entities: [OrderRecord, OfferedPlanRecord],
  migrations: orderMigrations,
  routes(router, runtime) {
    router.service(OrderService, {
      placeOrder: async (request) => ({
        order: toProto(await runtime.unitOfWork((em) => placeOrder(ports(runtime, em, true), request))),
      }),
      getOrder: async (request) => ({
        order: toProto(await getOrder(ports(runtime, runtime.db.reader(), false), request)),
      }),
    });
  },
  policies: (runtime) => [
    runtime.policy("plan-started", PlanStartedSchema.typeName, async (em, event) => {
      await whenPlanStarted(ports(runtime, em, true), decodeEvent(PlanStartedSchema, event));
    }),
    runtime.policy("plan-ended", PlanEndedSchema.typeName, async (em, event) => {
      await whenPlanEnded(ports(runtime, em, true), decodeEvent(PlanEndedSchema, event));
    }),
  ],
};

function ports(runtime: ServiceRuntime, em: EntityManager, lock: boolean): OrderPorts {
  return {
    orders: new OrderStore(em, runtime.db, { lock }),
    offeredPlans: new OfferedPlanStore(em, { lock }),
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

function toProto(order: OrderState): MessageInitShape<typeof OrderSchema> {
  return {
    ...order,
    status: STATUS[order.status],
    placedAt: timestampFromDate(order.placedAt),
    returnDueAt: timestampFromDate(order.returnDueAt),
  };
}
