import {
  RESERVATION_STATUSES,
  Reservation,
  type Reservation as ReservationAggregate,
  Stock,
  type Stock as StockAggregate,
  type StockPage,
  type StockState,
} from "@hexa/core/trial/warehouse";
import { defineEntity, p } from "@mikro-orm/core";
import { aggregateStore } from "../../kit/aggregate-store.ts";
import { type EntityManager, quotedList, type SchemaMigration } from "../../postgres/database.ts";
import { encodeWarehouseEvent } from "./events.ts";

export const StockRecord = defineEntity({
  name: "StockRecord",
  tableName: "stock",
  properties: {
    productId: p.string().primary(),
    onHand: p.integer(),
    reserved: p.integer(),
    updatedAt: p.datetime(),
  },
});

export const ReservationRecord = defineEntity({
  name: "ReservationRecord",
  tableName: "reservation",
  properties: {
    orderId: p.string().primary(),
    productId: p.string(),
    quantity: p.integer(),
    status: p.enum(RESERVATION_STATUSES),
    updatedAt: p.datetime(),
  },
});

/**
 * Warehouse stays relational: its counts need row locks and CHECK constraints, the last line of
 * defence behind the aggregate's rule that stock never goes negative.
 */
export const warehouseMigrations: SchemaMigration[] = [
  {
    name: "0001_stock_and_reservation",
    sql: [
      `create table stock (
        product_id varchar(64) collate "C" primary key,
        on_hand integer not null,
        reserved integer not null,
        updated_at timestamptz not null,
        constraint stock_on_hand_not_negative check (on_hand >= 0),
        constraint stock_reserved_not_negative check (reserved >= 0),
        constraint stock_available_not_negative check (reserved <= on_hand)
      )`,
      `create table reservation (
        order_id text primary key,
        product_id varchar(64) not null,
        quantity integer not null,
        status text not null check (status in (${quotedList(RESERVATION_STATUSES)})),
        updated_at timestamptz not null,
        constraint reservation_quantity check (quantity >= 1 or status = 'CANCELLED')
      )`,
    ],
  },
];

/**
 * Products' stock. In a unit of work, `get` locks the product's row until commit, or its key while
 * it has no row, so two first restocks of a new product serialize. It is written only when it
 * changed: every change records StockChanged.
 */
export const stockStore = aggregateStore({
  entity: StockRecord,
  key: (productId: string) => ({ productId }),
  lock: "row-or-key",
  lockNamespace: "stock",
  restore: (row) => Stock.restore(row),
  record: (stock: StockAggregate) => {
    const { productId, onHand, reserved, updatedAt } = stock.state;
    if (!updatedAt) throw new Error(`stock of ${productId} changed without a time`);
    return { productId, onHand, reserved, updatedAt };
  },
  encode: encodeWarehouseEvent,
  onlyWhenChanged: true,
});

/** Stocked products in product id order, a page at a time. */
export async function stockPage(em: EntityManager, page: StockPage): Promise<StockState[]> {
  const records = await em.find(
    StockRecord,
    page.after === undefined ? {} : { productId: { $gt: page.after } },
    { orderBy: { productId: "asc" }, limit: page.limit },
  );
  return records.map((record) => Stock.restore(record).state);
}

/**
 * Reservations, one per order. In a unit of work, `get` locks the row; of two events creating it at
 * once, the second fails on the primary key and is handled again.
 */
export const reservationStore = aggregateStore({
  entity: ReservationRecord,
  key: (orderId: string) => ({ orderId }),
  lock: "row-or-insert",
  restore: (row) => Reservation.restore(row),
  record: (reservation: ReservationAggregate) => ({ ...reservation.state }),
  encode: encodeWarehouseEvent,
});
