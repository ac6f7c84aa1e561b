import {
  Reservation,
  type Reservation as ReservationAggregate,
  type Reservations,
  Stock,
  type Stock as StockAggregate,
  type StockPage,
  type StockState,
  type Stocks,
} from "@hexa/core/trial/warehouse";
import { defineEntity, LockMode, p } from "@mikro-orm/core";
import type { EntityManager, SchemaMigration, ServiceDatabase } from "../../postgres/database.ts";
import { lockedRow, lockKey } from "../../postgres/locks.ts";
import { appendToOutbox } from "../../postgres/outbox.ts";
import { encodeWarehouseEvent } from "./events.ts";

const RESERVATION_STATUSES = ["RESERVED", "SHORT", "RELEASED", "SHIPPED", "RETURNED", "CANCELLED"] as const;

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
        status text not null check (status in (${RESERVATION_STATUSES.map((s) => `'${s}'`).join(", ")})),
        updated_at timestamptz not null,
        constraint reservation_quantity check (quantity >= 1 or status = 'CANCELLED')
      )`,
    ],
  },
];

/**
 * Products' stock in warehouse's schema. In a unit of work, `get` locks the product's row until
 * commit, or its key while it has no row, so two first restocks of a new product serialize.
 */
export class StockStore implements Stocks {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: { lock: boolean }) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(productId: string): Promise<StockAggregate | undefined> {
    const record = await lockedRow(
      this.#em,
      this.#lock ? { namespace: "stock", key: productId } : undefined,
      () =>
        this.#em.findOne(
          StockRecord,
          { productId },
          this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
        ),
    );
    return record ? Stock.restore(record) : undefined;
  }

  /** Writes the stock only when it changed: every change records StockChanged. */
  async save(stock: StockAggregate): Promise<void> {
    const events = stock.pullEvents();
    if (events.length === 0) return;
    const { productId, onHand, reserved, updatedAt } = stock.state;
    if (!updatedAt) throw new Error(`stock of ${productId} changed without a time`);
    await this.#em.upsert(StockRecord, { productId, onHand, reserved, updatedAt });
    appendToOutbox(this.#em, this.#db, events.map(encodeWarehouseEvent));
  }

  async list(page: StockPage): Promise<StockState[]> {
    const records = await this.#em.find(
      StockRecord,
      page.after === undefined ? {} : { productId: { $gt: page.after } },
      { orderBy: { productId: "asc" }, limit: page.limit },
    );
    return records.map((record) => Stock.restore(record).state);
  }
}

/** Reservations in warehouse's schema, one per order. In a unit of work, `get` locks the order id, even before a row exists. */
export class ReservationStore implements Reservations {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: { lock: boolean }) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(orderId: string): Promise<ReservationAggregate | undefined> {
    if (this.#lock) await lockKey(this.#em, "reservation", orderId);
    const record = await this.#em.findOne(ReservationRecord, { orderId });
    return record ? Reservation.restore(record) : undefined;
  }

  async save(reservation: ReservationAggregate): Promise<void> {
    await this.#em.upsert(ReservationRecord, { ...reservation.state });
    appendToOutbox(this.#em, this.#db, reservation.pullEvents().map(encodeWarehouseEvent));
  }
}
