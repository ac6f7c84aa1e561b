import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  getStock,
  listStock,
  restock,
  type StockReads,
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
import {
  type ListStockRequest,
  type StockSchema,
  WarehouseService,
} from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import { accessOf } from "../../connect/auth.ts";
import { bindContext, type ContextPorts } from "../../kit/context.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import type { ServiceModule } from "../../runtime/service-module.ts";
import {
  ReservationRecord,
  reservationStore,
  StockRecord,
  stockPage,
  stockStore,
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
    const { command, query } = bindContext(runtime, ports);
    router.service(WarehouseService, {
      restock: command(restock, stockReply),
      getStock: query(getStock, stockReply),
      listStock: query(
        (read, request: ListStockRequest) => {
          const page = readPage(request, isProductIdCursor);
          return listStock(read, page).then((stocks) => ({ stocks, limit: page.limit }));
        },
        ({ stocks, limit }) => ({
          stocks: stocks.map(toProto),
          nextPageToken: nextPageToken(stocks, limit, (stock) => stock.productId),
        }),
      ),
    });
  },
  policies: (runtime) => {
    const { policy } = bindContext(runtime, ports);
    return [
      policy("order-placed", OrderPlacedSchema, whenOrderPlaced),
      policy("delivery-cancelled", DeliveryCancelledSchema, whenDeliveryCancelled),
      policy("delivery-completed", DeliveryCompletedSchema, whenDeliveryCompleted),
      policy("pickup-completed", PickupCompletedSchema, whenPickupCompleted),
    ];
  },
};

type ReadPorts = { readonly stocks: StockReads };

const ports: ContextPorts<WarehousePorts, ReadPorts> = {
  write: (unit) => ({
    stocks: { ...stockStore.writer(unit), list: (page) => stockPage(unit.em, page) },
    reservations: reservationStore.writer(unit),
  }),
  read: (session) => ({
    stocks: { ...stockStore.reader(session), list: (page) => stockPage(session.em, page) },
  }),
};

/** A page token of ListStock holds the last product id of the previous page. */
function isProductIdCursor(value: unknown): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= 64;
}

function stockReply(stock: StockState) {
  return { stock: toProto(stock) };
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
