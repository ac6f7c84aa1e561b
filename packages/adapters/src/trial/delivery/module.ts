import type { DescEnum, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { InvalidArgument, isUuid } from "@hexa/core/shared";
import {
  completeDelivery,
  completePickup,
  type DeliveryPorts,
  type DeliveryStatus,
  getShipment,
  listShipments,
  type PickupStatus,
  type ShipmentState,
  whenOrderCancelled,
  whenReturnRequested,
  whenStockReserved,
} from "@hexa/core/trial/delivery";
import {
  DeliveryService,
  DeliveryStatus as DeliveryStatusProto,
  DeliveryStatusSchema,
  PickupStatus as PickupStatusProto,
  PickupStatusSchema,
  type ShipmentSchema,
} from "@hexa/proto/trial/delivery/v1/delivery_pb";
import { OrderCancelledSchema, ReturnRequestedSchema } from "@hexa/proto/trial/order/v1/events_pb";
import { StockReservedSchema } from "@hexa/proto/trial/warehouse/v1/events_pb";
import { accessOf } from "../../connect/auth.ts";
import { decodeEvent } from "../../messaging/encoding.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import type { EntityManager } from "../../postgres/database.ts";
import type { ServiceModule, ServiceRuntime } from "../../runtime/service-module.ts";
import { deliveryMigrations, ShipmentRecord, ShipmentStore } from "./store.ts";

/**
 * Delivery: couriers deliver ordered products and pick returned ones up. Deliveries start on
 * warehouse's StockReserved and stop on order's OrderCancelled; pickups follow order's ReturnRequested.
 */
export const deliveryModule: ServiceModule = {
  name: "delivery",
  schema: "trial_delivery",
  entities: [ShipmentRecord],
  migrations: deliveryMigrations,
  access: [
    accessOf(DeliveryService, {
      completeDelivery: { roles: ["courier"] },
      completePickup: { roles: ["courier"] },
      getShipment: { roles: ["courier", "warehouse"] },
      listShipments: { roles: ["courier", "warehouse"] },
    }),
  ],
  routes(router, runtime) {
    const inUnitOfWork = <T>(work: (ports: DeliveryPorts) => Promise<T>) =>
      runtime.unitOfWork((em) => work(ports(runtime, em, true)));
    const reading = () => ports(runtime, runtime.db.reader(), false);
    router.service(DeliveryService, {
      completeDelivery: async (request) => ({
        shipment: toProto(await inUnitOfWork((p) => completeDelivery(p, request))),
      }),
      completePickup: async (request) => ({
        shipment: toProto(await inUnitOfWork((p) => completePickup(p, request))),
      }),
      getShipment: async (request) => ({
        shipment: toProto(await getShipment(reading(), request)),
      }),
      listShipments: async (request) => {
        const deliveryStatus = statusFilter(
          "deliveryStatus",
          DeliveryStatusSchema,
          DELIVERY_STATUS,
          request.deliveryStatus,
        );
        const pickupStatus = statusFilter(
          "pickupStatus",
          PickupStatusSchema,
          PICKUP_STATUS,
          request.pickupStatus,
        );
        const page = readPage(request, isCursor);
        const shipments = await listShipments(reading(), {
          deliveryStatus,
          pickupStatus,
          limit: page.limit,
          after: page.after && { recordedAt: new Date(page.after.recordedAt), orderId: page.after.orderId },
        });
        return {
          shipments: shipments.map(toProto),
          nextPageToken: nextPageToken(shipments, page.limit, (shipment) => ({
            recordedAt: shipment.recordedAt.toISOString(),
            orderId: shipment.orderId,
          })),
        };
      },
    });
  },
  policies: (runtime) => [
    runtime.policy("stock-reserved", StockReservedSchema.typeName, async (em, event) => {
      await whenStockReserved(ports(runtime, em, true), decodeEvent(StockReservedSchema, event));
    }),
    runtime.policy("order-cancelled", OrderCancelledSchema.typeName, async (em, event) => {
      await whenOrderCancelled(ports(runtime, em, true), decodeEvent(OrderCancelledSchema, event));
    }),
    runtime.policy("return-requested", ReturnRequestedSchema.typeName, async (em, event) => {
      await whenReturnRequested(ports(runtime, em, true), decodeEvent(ReturnRequestedSchema, event));
    }),
  ],
};

function ports(runtime: ServiceRuntime, em: EntityManager, lock: boolean): DeliveryPorts {
  return { shipments: new ShipmentStore(em, runtime.db, { lock }), clock: runtime.clock, ids: runtime.ids };
}

/** The work list's page token: the last shipment's place in the order (recordedAt, then orderId). */
interface Cursor {
  readonly recordedAt: string;
  readonly orderId: string;
}

function isCursor(value: unknown): value is Cursor {
  if (typeof value !== "object" || value === null) return false;
  const { recordedAt, orderId } = value as Record<string, unknown>;
  return (
    typeof recordedAt === "string" &&
    !Number.isNaN(Date.parse(recordedAt)) &&
    typeof orderId === "string" &&
    isUuid(orderId)
  );
}

const DELIVERY_STATUS: Record<DeliveryStatus, DeliveryStatusProto> = {
  IN_PROGRESS: DeliveryStatusProto.IN_PROGRESS,
  COMPLETED: DeliveryStatusProto.COMPLETED,
  CANCELLED: DeliveryStatusProto.CANCELLED,
};

const PICKUP_STATUS: Record<PickupStatus, PickupStatusProto> = {
  NONE: PickupStatusProto.NONE,
  REQUESTED: PickupStatusProto.REQUESTED,
  COMPLETED: PickupStatusProto.COMPLETED,
};

/** A status filter: unspecified (0) does not filter; a number outside the enum is InvalidArgument. */
function statusFilter<Status extends string>(
  field: string,
  schema: DescEnum,
  statuses: Record<Status, number>,
  value: number,
): Status | undefined {
  if (value === 0) return undefined;
  const match = (Object.entries(statuses) as Array<[Status, number]>).find(([, number]) => number === value);
  if (!match) {
    const names = schema.values.filter((known) => known.number !== 0).map((known) => known.name);
    throw new InvalidArgument(field, `must be one of ${names.join(", ")}, or unspecified for any`);
  }
  return match[0];
}

function toProto(shipment: ShipmentState): MessageInitShape<typeof ShipmentSchema> {
  return {
    orderId: shipment.orderId,
    customerId: shipment.customerId,
    productId: shipment.productId,
    quantity: shipment.quantity,
    address: shipment.address,
    deliveryStatus: DELIVERY_STATUS[shipment.deliveryStatus],
    pickupStatus: PICKUP_STATUS[shipment.pickupStatus],
    deliveryStartedAt: at(shipment.deliveryStartedAt),
    deliveredAt: at(shipment.deliveredAt),
    cancelledAt: at(shipment.cancelledAt),
    pickupRequestedAt: at(shipment.pickupRequestedAt),
    pickedUpAt: at(shipment.pickedUpAt),
  };
}

function at(date: Date | undefined) {
  return date ? timestampFromDate(date) : undefined;
}
