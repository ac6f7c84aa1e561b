import { aggregateStore } from "@hexa/adapters/kit/aggregate-store";
import { enumMapping } from "@hexa/adapters/kit/enum-mapping";
import { Remembered, STALE_READ_STATE } from "@hexa/adapters/kit/remembered";
import { EntityTable, execute, RowsText } from "@hexa/adapters/kit/statements";
import { openServiceDatabase, type ServiceDatabase } from "@hexa/adapters/postgres/database";
import { platformMigrations } from "@hexa/adapters/postgres/platform-tables";
import {
  ReservationRecord,
  reservationStore,
  StockRecord,
  stockStore,
  warehouseMigrations,
} from "@hexa/adapters/trial/warehouse/store";
import { FixedClock, InvalidArgument, Unavailable, UuidV7Generator } from "@hexa/core/shared";
import { ORDER_STATUSES } from "@hexa/core/trial/order";
import { Reservation, Stock } from "@hexa/core/trial/warehouse";
import { OrderStatus, OrderStatusSchema } from "@hexa/proto/trial/order/v1/order_pb";
import { createTestDatabase, eventually, type TestDatabase } from "@hexa/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const clock = new FixedClock(new Date("2026-05-01T08:00:00.000Z"));
const context = { clock, ids: new UuidV7Generator(clock) };

let database: TestDatabase;
let db: ServiceDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  db = await openServiceDatabase({
    url: database.url,
    schema: "trial_warehouse",
    entities: [StockRecord, ReservationRecord],
    migrations: [...platformMigrations, ...warehouseMigrations],
    logger: pino({ level: "silent" }),
  });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

async function outboxOf(aggregateId: string): Promise<Array<{ event_id: string; event_type: string }>> {
  return db.execute(
    `select event_id, event_type from ${db.table("outbox")} where aggregate_id = ? order by position`,
    [aggregateId],
  );
}

describe("the unit of work", () => {
  it("writes the events of an aggregate a store saved, with nothing else called", async () => {
    const stock = Stock.empty("kit-product");
    stock.restock(5, context);
    const { events } = await db.unitOfWork((unit) => stockStore.writer(unit).save(stock));
    expect(events.map((event) => event.type)).toEqual(["trial.warehouse.v1.StockChanged"]);
    expect(await outboxOf("kit-product")).toEqual(
      events.map((event) => ({ event_id: event.id, event_type: event.type })),
    );
    expect((await stockStore.reader(db.read()).get("kit-product"))?.state.onHand).toBe(5);
  });

  it("writes neither the change nor its events when the unit fails", async () => {
    const stock = Stock.empty("kit-rolled-back");
    stock.restock(1, context);
    await expect(
      db.unitOfWork(async (unit) => {
        await stockStore.writer(unit).save(stock);
        throw new Error("after the save");
      }),
    ).rejects.toThrow("after the save");
    expect(await outboxOf("kit-rolled-back")).toEqual([]);
    expect(await stockStore.reader(db.read()).get("kit-rolled-back")).toBeUndefined();
  });
});

describe("the writes of a unit of work", () => {
  /** The command of its transaction each row was written by (`cmin`: one per statement). */
  const commands = async (table: string, column: string, ids: readonly string[]) =>
    (
      await execute<{ cmin: string }>(
        db.reader(),
        `select cmin::text from ${db.table(table)} where ${column} = any($1)`,
        [ids],
      )
    ).map((row) => Number(row.cmin));

  it("reach PostgreSQL with the outbox's insert in one statement, after the unit's reads", async () => {
    const productId = "kit-one-statement";
    const orderId = "kit-one-statement-order";
    const seeded = Stock.empty(productId);
    seeded.restock(3, context);
    await db.unitOfWork((unit) => stockStore.writer(unit).save(seeded));
    const { events } = await db.unitOfWork(async (unit) => {
      const stock = (await stockStore.writer(unit).get(productId)) ?? Stock.empty(productId);
      const order = { orderId, customerId: "c", productId, quantity: 2, address: "1 Kit Road" };
      const reservation = Reservation.place(order, stock, context);
      await reservationStore.writer(unit).save(reservation);
      // A read after a save sees it: the held write goes first.
      expect((await reservationStore.writer(unit).get(orderId))?.state.status).toBe("RESERVED");
      await stockStore.writer(unit).save(stock);
    });
    expect(events.map((event) => event.type)).toEqual([
      "trial.warehouse.v1.StockReserved",
      "trial.warehouse.v1.StockChanged",
    ]);
    const [reservationWrite] = await commands("reservation", "order_id", [orderId]);
    const [stockWrite] = await commands("stock", "product_id", [productId]);
    const outboxWrites = await commands(
      "outbox",
      "event_id",
      events.map((event) => event.id),
    );
    // The reservation went out before the read; the stock and both events together at the commit.
    expect(stockWrite).toBeGreaterThan(reservationWrite ?? Number.POSITIVE_INFINITY);
    expect(outboxWrites).toEqual([stockWrite, stockWrite]);
  });
});

describe("read and write ports", () => {
  it("are different types: a read cannot lock or save, a write port needs a unit of work", async () => {
    const reading = stockStore.reader(db.read());
    // @ts-expect-error a read port has no save
    expect(reading.save).toBeUndefined();
    // @ts-expect-error a write port (whose reads lock) is only made from a unit of work
    const writingOutsideAUnit = () => stockStore.writer(db.read());
    expect(writingOutsideAUnit).toBeTypeOf("function");
    const unlocked = aggregateStore({
      entity: StockRecord,
      key: (productId: string) => ({ productId }),
      // @ts-expect-error a store's writes always lock: there is no lock mode "none"
      lock: "none",
      restore: (row) => Stock.restore(row),
      record: (stock: Stock) => ({ ...stock.state, updatedAt: clock.now() }),
    });
    expect(unlocked).toBeDefined();
  });

  it("locks what a unit of work reads until it commits, sending the key as a parameter", async () => {
    const stock = Stock.empty("kit-locked");
    stock.restock(1, context);
    await db.unitOfWork((unit) => stockStore.writer(unit).save(stock));
    const order: string[] = [];
    let held: () => void = () => {};
    const holding = new Promise<void>((resolve) => {
      held = resolve;
    });
    const first = db.unitOfWork(async (unit) => {
      await stockStore.writer(unit).get("kit-locked");
      held();
      await new Promise((resolve) => setTimeout(resolve, 500));
      order.push("first commits");
    });
    await holding;
    const second = db.unitOfWork(async (unit) => {
      await stockStore.writer(unit).get("kit-locked");
      order.push("second reads");
    });
    // A read port does not wait for the lock.
    expect((await stockStore.reader(db.read()).get("kit-locked"))?.state.onHand).toBe(1);
    // The waiting statement was sent with its value as a parameter, not formatted into its text.
    const waiting = await eventually(async () => {
      const [row] = await db.execute<{ query: string }>(
        "select query from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      );
      if (!row) throw new Error("not waiting yet");
      return row.query;
    }, 2_000);
    expect(waiting).toMatch(/= \$1\s+for update/);
    expect(waiting).not.toContain("kit-locked");
    await Promise.all([first, second]);
    expect(order).toEqual(["first commits", "second reads"]);
  });
});

describe("a record two units of work create at once (row-or-insert)", () => {
  it("is created by one of them; the other fails on the primary key, and nothing of it is written", async () => {
    const orderId = "kit-race-order";
    let arrived = 0;
    let bothRead: () => void = () => {};
    const barrier = new Promise<void>((resolve) => {
      bothRead = resolve;
    });
    const create = (customerId: string) =>
      db.unitOfWork(async (unit) => {
        const reservations = reservationStore.writer(unit);
        const known = await reservations.get(orderId);
        arrived += 1;
        if (arrived === 2) bothRead();
        await barrier;
        const stock = Stock.empty("kit-race-product");
        stock.restock(5, context);
        const placed = { orderId, customerId, productId: "kit-race-product", quantity: 1, address: "a" };
        await reservations.save(known ?? Reservation.place(placed, stock, context));
        return customerId;
      });
    const outcomes = await Promise.allSettled([create("first"), create("second")]);
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    const [failed] = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason] : []));
    expect(failed).toMatchObject({ code: "23505" });
    expect((await outboxOf(orderId)).map((row) => row.event_type)).toEqual([
      "trial.warehouse.v1.StockReserved",
    ]);
  });
});

describe("the locks of records changed under another record's lock, and of records never changed", () => {
  /** Stocks configured as bookings are (key-not-row) and as hospitals are (immutable). */
  const table = {
    entity: StockRecord,
    key: (productId: string) => ({ productId }),
    lockNamespace: "kit-key",
    restore: (row: { productId: string; onHand: number; reserved: number; updatedAt: Date }) =>
      Stock.restore(row),
    record: (stock: Stock) => {
      const { productId, onHand, reserved, updatedAt } = stock.state;
      return { productId, onHand, reserved, updatedAt: updatedAt ?? clock.now() };
    },
  };
  const byKeyOnly = aggregateStore({ ...table, lock: "key-not-row" });
  const once = aggregateStore({ ...table, lock: "immutable" });
  const keyIsFree = async (key: string) => {
    const [row] = await db.execute<{ free: boolean }>(
      "select pg_try_advisory_xact_lock(hashtextextended(?, 0)) as free",
      [key],
    );
    return row?.free;
  };

  it("key-not-row holds the key until commit, asked twice or not, and leaves the row unlocked", async () => {
    const stock = Stock.empty("kit-key-only");
    stock.restock(2, context);
    await db.unitOfWork((unit) => byKeyOnly.writer(unit).save(stock));
    let checked: () => void = () => {};
    const checking = new Promise<void>((resolve) => {
      checked = resolve;
    });
    let read: () => void = () => {};
    const reading = new Promise<void>((resolve) => {
      read = resolve;
    });
    const unit = db.unitOfWork(async (work) => {
      const port = byKeyOnly.writer(work);
      expect((await port.get("kit-key-only"))?.state.onHand).toBe(2);
      await port.get("kit-key-only");
      read();
      await checking;
    });
    await reading;
    expect(await keyIsFree("kit-key:kit-key-only")).toBe(false);
    // The row is not locked: a discard writing it under another lock does not wait for this unit.
    await db.execute(`select product_id from ${db.table("stock")} where product_id = ? for update nowait`, [
      "kit-key-only",
    ]);
    checked();
    await unit;
    expect(await keyIsFree("kit-key:kit-key-only")).toBe(true);
  });

  it("immutable reads without any lock and inserts: writing one twice fails on the primary key", async () => {
    const stock = Stock.empty("kit-once");
    stock.restock(1, context);
    await db.unitOfWork((unit) => once.writer(unit).save(stock));
    stock.restock(1, context);
    await expect(db.unitOfWork((unit) => once.writer(unit).save(stock))).rejects.toMatchObject({
      code: "23505",
    });
    expect((await once.reader(db.read()).get("kit-once"))?.state.onHand).toBe(1);
  });
});

describe("a table's statements", () => {
  it("reads the rows matching any of its properties, in the order asked, as the entity types them", async () => {
    const rows = new EntityTable(ReservationRecord);
    const updatedAt = new Date("2026-05-01T08:00:00.000Z");
    await db.unitOfWork(async (unit) => {
      for (const orderId of ["kit-rows-2", "kit-rows-1", "kit-rows-3"]) {
        const row = { orderId, productId: "kit-rows", quantity: 1, status: "RESERVED" as const, updatedAt };
        await rows.upsert(unit.em, [row], true);
      }
    });
    const found = await rows.findAll(db.read().em, { productId: "kit-rows" }, { orderBy: ["orderId"] });
    expect(found.map((row) => row.orderId)).toEqual(["kit-rows-1", "kit-rows-2", "kit-rows-3"]);
    expect(found[0]?.updatedAt).toEqual(updatedAt);
    expect(await rows.findAll(db.read().em, { productId: "kit-rows-none" })).toEqual([]);
  });

  it("numbers the placeholders of a many-row insert on from row to row, the same for a count built before", () => {
    const claim = new RowsText("insert into inbox (consumer, event_id)", 2, "on conflict do nothing");
    expect(claim.of(1)).toBe("insert into inbox (consumer, event_id) values ($1, $2) on conflict do nothing");
    expect(claim.of(3)).toBe(
      "insert into inbox (consumer, event_id) values ($1, $2), ($3, $4), ($5, $6) on conflict do nothing",
    );
    expect(claim.of(1)).toBe("insert into inbox (consumer, event_id) values ($1, $2) on conflict do nothing");
    expect(new RowsText("insert into t (a)", 1).of(2)).toBe("insert into t (a) values ($1), ($2)");
  });
});

describe("an enum mapping derived from the proto descriptor", () => {
  const status = enumMapping(ORDER_STATUSES, OrderStatusSchema);

  it("maps each core name to the proto value of that name, and back", () => {
    expect(ORDER_STATUSES.map((name) => status.fromProto(status.toProto(name)))).toEqual([...ORDER_STATUSES]);
    expect(status.toProto("RETURN_REQUESTED")).toBe(OrderStatus.RETURN_REQUESTED);
  });

  it("refuses a value it does not know, both ways", () => {
    expect(() => status.fromProto(99)).toThrow("99 is not a value of trial.order.v1.OrderStatus");
    expect(() => status.fromProto(OrderStatus.UNSPECIFIED)).toThrow();
    expect(() => status.toProto("LOST" as "PLACED")).toThrow("LOST is not a value");
  });

  it("reads a request's filter: unspecified is any, an unknown number is InvalidArgument naming the field", () => {
    expect(status.filter("status", OrderStatus.UNSPECIFIED)).toBeUndefined();
    expect(status.filter("status", OrderStatus.DELIVERED)).toBe("DELIVERED");
    const refused = (() => {
      try {
        status.filter("status", 99);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(InvalidArgument);
    expect(refused).toMatchObject({ field: "status" });
  });

  it("reads a required field: unspecified and an unknown number are InvalidArgument naming the field", () => {
    expect(status.required("order.status", OrderStatus.PLACED)).toBe("PLACED");
    for (const value of [OrderStatus.UNSPECIFIED, 99]) {
      expect(() => status.required("order.status", value)).toThrow(InvalidArgument);
      expect(() => status.required("order.status", value)).toThrow(
        expect.objectContaining({ field: "order.status" }),
      );
    }
  });

  it("stops the start when a core name has no proto value", () => {
    expect(() => enumMapping(["PLACED", "MISLAID"], OrderStatusSchema)).toThrow(
      "trial.order.v1.OrderStatus has no value for MISLAID",
    );
  });
});

describe("a remembered read", () => {
  // A price list that sales rely on, remembered, and a guard on each sale that the price it was
  // made at is still the list's: the shape of PlaceOrder and its plan.
  const prices = '"trial_warehouse"."remembered_price"';
  const sales = '"trial_warehouse"."remembered_sale"';
  let reads = 0;
  const priceList = {
    get: async (item: string) => {
      reads++;
      const [row] = await db.execute<{ cents: number }>(`select cents from ${prices} where item = ?`, [item]);
      return row?.cents;
    },
  };
  const remembered = new Remembered<string, number>((cents) => cents > 0);
  let attempts = 0;
  const sell = remembered.route(async (item: string) => {
    attempts++;
    const cents = await remembered.reads(priceList).get(item);
    await db.unitOfWork(({ em }) =>
      execute(em, `insert into ${sales} (item, cents) values ($1, $2)`, [item, cents]),
    );
    return cents;
  });
  const call = {} as Parameters<typeof sell>[1];

  beforeAll(async () => {
    await db.execute(`create table ${prices} (item text primary key, cents integer not null)`);
    await db.execute(`create table ${sales} (item text not null, cents integer not null)`);
    await db.execute(`create function trial_warehouse.sold_at_list_price() returns trigger language plpgsql as $$
      begin
        perform from ${prices} where item = new.item and cents = new.cents for share;
        if not found then raise exception 'stale price' using errcode = '${STALE_READ_STATE}'; end if;
        return null;
      end $$`);
    await db.execute(`create trigger sold_at_list_price after insert on ${sales}
      for each row execute function trial_warehouse.sold_at_list_price()`);
    await db.execute(`insert into ${prices} (item, cents) values ('kayak', 900), ('paddle', 0)`);
  });

  it("is read once while it holds, and only when `keep` accepts it", async () => {
    reads = 0;
    expect(await sell("kayak", call)).toBe(900);
    expect(await sell("kayak", call)).toBe(900);
    expect(reads).toBe(1);
    await sell("paddle", call);
    await sell("paddle", call);
    expect(reads).toBe(3);
  });

  it("runs the call once more on a fresh read when the guard finds it stale, and commits nothing stale", async () => {
    await sell("kayak", call);
    await db.execute(`update ${prices} set cents = 950 where item = 'kayak'`);
    attempts = 0;
    reads = 0;
    expect(await sell("kayak", call)).toBe(950);
    expect({ attempts, reads }).toEqual({ attempts: 2, reads: 1 });
    const sold = await db.execute<{ cents: number }>(
      `select distinct cents from ${sales} where item = 'kayak' order by cents`,
    );
    expect(sold.map((row) => row.cents)).toEqual([900, 950]);
  });

  it("refuses the call as unavailable when it is stale twice, and lets other failures through at once", async () => {
    const alwaysStale = remembered.route(async () => {
      attempts++;
      throw Object.assign(new Error("stale"), { code: STALE_READ_STATE });
    });
    attempts = 0;
    await expect(alwaysStale("kayak", call)).rejects.toThrow(Unavailable);
    expect(attempts).toBe(2);
    const failing = remembered.route(async () => {
      attempts++;
      throw new Error("disk full");
    });
    attempts = 0;
    await expect(failing("kayak", call)).rejects.toThrow("disk full");
    expect(attempts).toBe(1);
  });
});
