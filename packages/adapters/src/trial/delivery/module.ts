import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { isUuid } from "@hexa/core/shared";
import {
  completeDelivery,
  completePickup,
  DELIVERY_STATUSES,
  type DeliveryPorts,
  getShipment,
  listShipments,
  PICKUP_STATUSES,
  type ShipmentReads,
  type ShipmentState,
  whenOrderCancelled,
  whenReturnRequested,
  whenStockReserved,
} from "@hexa/core/trial/delivery";
import {
  DeliveryService,
  DeliveryStatusSchema,
  type ListShipmentsRequest,
  PickupStatusSchema,
  type ShipmentSchema,
} from "@hexa/proto/trial/delivery/v1/delivery_pb";
import { OrderCancelledSchema, ReturnRequestedSchema } from "@hexa/proto/trial/order/v1/events_pb";
import { StockReservedSchema } from "@hexa/proto/trial/warehouse/v1/events_pb";
import { accessOf } from "../../connect/auth.ts";
import { bindContext, type ContextPorts } from "../../kit/context.ts";
import { enumMapping } from "../../kit/enum-mapping.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import type { ServiceModule } from "../../runtime/service-module.ts";
import { deliveryMigrations, ShipmentRecord, shipmentPage, shipmentStore } from "./store.ts";

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
    const { command, query } = bindContext(runtime, ports);
    router.service(DeliveryService, {
      completeDelivery: command(completeDelivery, shipmentReply),
      completePickup: command(completePickup, shipmentReply),
      getShipment: query(getShipment, shipmentReply),
      listShipments: query(
        async (read, request: ListShipmentsRequest) => {
          const deliveryStatus = DELIVERY_STATUS.filter("deliveryStatus", request.deliveryStatus);
          const pickupStatus = PICKUP_STATUS.filter("pickupStatus", request.pickupStatus);
          const page = readPage(request, isCursor);
          const after = page.after && {
            recordedAt: new Date(page.after.recordedAt),
            orderId: page.after.orderId,
          };
          const shipments = await listShipments(read, {
            deliveryStatus,
            pickupStatus,
            limit: page.limit,
            after,
          });
          return { shipments, limit: page.limit };
        },
        ({ shipments, limit }) => ({
          shipments: shipments.map(toProto),
          nextPageToken: nextPageToken(shipments, limit, (shipment) => ({
            recordedAt: shipment.recordedAt.toISOString(),
            orderId: shipment.orderId,
          })),
        }),
      ),
    });
  },
  policies: (runtime) => {
    const { policy } = bindContext(runtime, ports);
    return [
      policy("stock-reserved", StockReservedSchema, whenStockReserved),
      policy("order-cancelled", OrderCancelledSchema, whenOrderCancelled),
      policy("return-requested", ReturnRequestedSchema, whenReturnRequested),
    ];
  },
};

const ports: ContextPorts<DeliveryPorts, { readonly shipments: ShipmentReads }> = {
  write: (unit) => ({
    shipments: { ...shipmentStore.writer(unit), list: (query) => shipmentPage(unit.em, query) },
  }),
  read: (session) => ({
    shipments: { ...shipmentStore.reader(session), list: (query) => shipmentPage(session.em, query) },
  }),
};

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

const DELIVERY_STATUS = enumMapping(DELIVERY_STATUSES, DeliveryStatusSchema);
const PICKUP_STATUS = enumMapping(PICKUP_STATUSES, PickupStatusSchema);

function shipmentReply(shipment: ShipmentState) {
  return { shipment: toProto(shipment) };
}

function toProto(shipment: ShipmentState): MessageInitShape<typeof ShipmentSchema> {
  return {
    orderId: shipment.orderId,
    customerId: shipment.customerId,
    productId: shipment.productId,
    quantity: shipment.quantity,
    address: shipment.address,
    deliveryStatus: DELIVERY_STATUS.toProto(shipment.deliveryStatus),
    pickupStatus: PICKUP_STATUS.toProto(shipment.pickupStatus),
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
