import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  getStock,
  listStock,
  restock,
  type StockState,
  type WarehousePorts,
  whenDeliveryCancelled,
  whenDeliveryCompleted,
  whenOrderPlaced,
  whenPickupCompleted,
} from "@hexa/core/trial/warehouse";
import {
  DeliveryCancelledSchema,
  DeliveryCompletedSchema,
  PickupCompletedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import { OrderPlacedSchema } from "@hexa/proto/trial/order/v1/events_pb";
import { type StockSchema, WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import { accessOf } from "../../connect/auth.ts";
import { decodeEvent } from "../../messaging/encoding.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import type { EntityManager } from "../../postgres/database.ts";
import type { ServiceModule, ServiceRuntime } from "../../runtime/service-module.ts";
import {
  ReservationRecord,
  ReservationStore,
  StockRecord,
  StockStore,
  warehouseMigrations,
} from "./store.ts";

/**
 * Warehouse: stock per product, restocked by warehouse staff; orders reserve it, deliveries take
 * it out, pickups bring it back.
 */
export const warehouseModule: ServiceModule = {
  name: "warehouse",
  schema: "trial_warehouse",
  entities: [StockRecord, ReservationRecord],
  migrations: warehouseMigrations,
  access: [
    accessOf(WarehouseService, {
      restock: { roles: ["warehouse"] },
      getStock: { roles: ["warehouse", "marketer"] },
      listStock: { roles: ["warehouse", "marketer"] },
    }),
  ],
  routes(router, runtime) {
    router.service(WarehouseService, {
      restock: async (request) => ({
        stock: toProto(await runtime.unitOfWork((em) => restock(ports(runtime, em, true), request))),
      }),
      getStock: async (request) => ({
        stock: toProto(await getStock(ports(runtime, runtime.db.reader(), false), request)),
      }),
      listStock: async (request) => {
        const page = readPage(request, isProductIdCursor);
        const stocks = await listStock(ports(runtime, runtime.db.reader(), false), page);
        return {
          stocks: stocks.map(toProto),
          nextPageToken: nextPageToken(stocks, page.limit, (stock) => stock.productId),
        };
      },
    });
  },
  policies: (runtime) => [
    runtime.policy("order-placed", OrderPlacedSchema.typeName, async (em, event) => {
      await whenOrderPlaced(ports(runtime, em, true), decodeEvent(OrderPlacedSchema, event));
    }),
    runtime.policy("delivery-cancelled", DeliveryCancelledSchema.typeName, async (em, event) => {
      await whenDeliveryCancelled(ports(runtime, em, true), decodeEvent(DeliveryCancelledSchema, event));
    }),
    runtime.policy("delivery-completed", DeliveryCompletedSchema.typeName, async (em, event) => {
      await whenDeliveryCompleted(ports(runtime, em, true), decodeEvent(DeliveryCompletedSchema, event));
    }),
    runtime.policy("pickup-completed", PickupCompletedSchema.typeName, async (em, event) => {
      await whenPickupCompleted(ports(runtime, em, true), decodeEvent(PickupCompletedSchema, event));
    }),
  ],
};

function ports(runtime: ServiceRuntime, em: EntityManager, lock: boolean): WarehousePorts {
  return {
    stocks: new StockStore(em, runtime.db, { lock }),
    reservations: new ReservationStore(em, runtime.db, { lock }),
    clock: runtime.clock,
    ids: runtime.ids,
  };
}

/** A page token of ListStock holds the last product id of the previous page. */
function isProductIdCursor(value: unknown): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= 64;
}

function toProto(stock: StockState): MessageInitShape<typeof StockSchema> {
  return {
    productId: stock.productId,
    onHand: stock.onHand,
    reserved: stock.reserved,
    available: stock.available,
    ...(stock.updatedAt ? { updatedAt: timestampFromDate(stock.updatedAt) } : {}),
  };
}
