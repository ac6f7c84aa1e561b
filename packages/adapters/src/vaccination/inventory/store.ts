import {
  BOOKING_OUTCOMES,
  BOOKING_STATUSES,
  Booking,
  type Booking as BookingAggregate,
  type Bookings,
  type DateCapacities,
  DateCapacity,
  type DateCapacity as DateCapacityAggregate,
  Hospital,
  type Hospital as HospitalAggregate,
  type HospitalReads,
  type HospitalState,
  type Hospitals,
  type IdPage,
  type StockReads,
  type Stocks,
  type Supplies,
  Supply,
  type Supply as SupplyAggregate,
  Vaccine,
  type Vaccine as VaccineAggregate,
  type VaccineReads,
  type VaccineState,
  VaccineStock,
  type VaccineStock as VaccineStockAggregate,
  type Vaccines,
} from "@hexa/core/vaccination/inventory";
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { aggregateStore } from "../../kit/aggregate-store.ts";
import { EntityTable, execute } from "../../kit/statements.ts";
import type { ReadSession, UnitOfWork } from "../../kit/unit-of-work.ts";
import { type EntityManager, quotedList, type SchemaMigration } from "../../postgres/database.ts";
import { encodeInventoryEvent } from "./events.ts";

export const HospitalRecord = defineEntity({
  name: "InventoryHospitalRecord",
  tableName: "hospital",
  properties: {
    hospitalId: p.uuid().primary(),
    name: p.string(),
    dailyCapacity: p.integer(),
    registeredAt: p.datetime(),
  },
});

export const VaccineRecord = defineEntity({
  name: "InventoryVaccineRecord",
  tableName: "vaccine",
  properties: {
    vaccineId: p.uuid().primary(),
    name: p.string(),
    vialsInStock: p.integer(),
    dosesRequired: p.integer(),
    registeredAt: p.datetime(),
  },
});

export const SupplyRecord = defineEntity({
  name: "InventorySupplyRecord",
  tableName: "supply",
  properties: {
    supplyId: p.uuid().primary(),
    hospitalId: p.uuid(),
    vaccineId: p.uuid(),
    vials: p.integer(),
    availableDoses: p.integer(),
    suppliedAt: p.datetime(),
    dosesRegisteredAt: p.datetime().nullable(),
  },
});

export const StockRecord = defineEntity({
  name: "InventoryStockRecord",
  tableName: "stock",
  properties: {
    hospitalId: p.uuid().primary(),
    vaccineId: p.uuid().primary(),
    suppliedVials: p.integer(),
    available: p.integer(),
    given: p.integer(),
    discarded: p.integer(),
    booked: p.integer(),
    updatedAt: p.datetime(),
  },
});

export const DateCapacityRecord = defineEntity({
  name: "InventoryDateCapacityRecord",
  tableName: "date_capacity",
  properties: {
    hospitalId: p.uuid().primary(),
    date: p.string().primary(),
    taken: p.integer(),
  },
});

export const BookingRecord = defineEntity({
  name: "InventoryBookingRecord",
  tableName: "booking",
  properties: {
    reservationId: p.uuid().primary(),
    hospitalId: p.string(),
    vaccineId: p.string(),
    date: p.string(),
    outcome: p.enum(BOOKING_OUTCOMES),
    status: p.enum(BOOKING_STATUSES),
    holdUntil: p.datetime().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});

/**
 * Inventory stays relational: bookings lock a stock row and a date row together, and CHECK
 * constraints are the last line of defence behind the aggregates' counts.
 */
export const inventoryMigrations: SchemaMigration[] = [
  {
    name: "0001_inventory",
    sql: [
      `create table hospital (
        hospital_id uuid primary key,
        name varchar(200) not null,
        daily_capacity integer not null check (daily_capacity between 1 and 100000),
        registered_at timestamptz not null
      )`,
      `create table vaccine (
        vaccine_id uuid primary key,
        name varchar(200) not null,
        vials_in_stock integer not null check (vials_in_stock between 0 and 10000000),
        doses_required integer not null check (doses_required between 1 and 5),
        registered_at timestamptz not null
      )`,
      `create table supply (
        supply_id uuid primary key,
        hospital_id uuid not null references hospital (hospital_id),
        vaccine_id uuid not null references vaccine (vaccine_id),
        vials integer not null check (vials >= 1),
        available_doses integer not null check (available_doses between 0 and 1000000),
        supplied_at timestamptz not null,
        doses_registered_at timestamptz null
      )`,
      `create table stock (
        hospital_id uuid not null,
        vaccine_id uuid not null,
        supplied_vials integer not null check (supplied_vials >= 0),
        available integer not null check (available >= 0),
        given integer not null check (given >= 0),
        discarded integer not null check (discarded >= 0),
        booked integer not null check (booked >= 0),
        updated_at timestamptz not null,
        primary key (hospital_id, vaccine_id)
      )`,
      // One row per hospital and date with a booking; `date` is "YYYY-MM-DD", which sorts as a day.
      `create table date_capacity (
        hospital_id uuid not null,
        date char(10) collate "C" not null check (date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
        taken integer not null check (taken >= 0),
        primary key (hospital_id, date)
      )`,
      // A tombstone keeps what its release event named, so its hospital, vaccine and date are text.
      `create table booking (
        reservation_id uuid primary key,
        hospital_id text not null,
        vaccine_id text not null,
        date text not null,
        outcome text not null check (outcome in (${quotedList(BOOKING_OUTCOMES)})),
        status text not null check (status in (${quotedList(BOOKING_STATUSES)})),
        created_at timestamptz not null,
        updated_at timestamptz not null
      )`,
    ],
  },
  {
    // The bookings holding a dose of a stock, which a discard chooses among.
    name: "0002_booking_held_of_stock",
    sql: [
      `create index booking_held_of_stock on booking (hospital_id, vaccine_id)
        where status = 'BOOKED'`,
    ],
  },
  {
    // An unconfirmed hold's lease; null once reservation confirmed it (and for bookings held before
    // leases existed, which count as confirmed). The index is what the expiry job reads.
    name: "0003_booking_hold_lease",
    sql: [
      "alter table booking add column hold_until timestamptz null",
      `create index booking_unconfirmed_hold on booking (hold_until)
        where status = 'BOOKED' and hold_until is not null`,
    ],
  },
];

/** Hospitals. A hospital never changes once registered: nothing is locked, and `save` inserts. */
const hospitalStore = aggregateStore({
  entity: HospitalRecord,
  key: (hospitalId: string) => ({ hospitalId }),
  lock: "immutable",
  restore: (row) => Hospital.restore(hospitalState(row)),
  record: (hospital: HospitalAggregate) => ({ ...hospital.state }),
  encode: encodeInventoryEvent,
});

function hospitalState(record: InferEntity<typeof HospitalRecord>): HospitalState {
  const { hospitalId, name, dailyCapacity, registeredAt } = record;
  return { hospitalId, name, dailyCapacity, registeredAt };
}

/** Vaccines. In a unit of work, `get` locks the row until commit (supplies take vials from it). */
const vaccineStore = aggregateStore({
  entity: VaccineRecord,
  key: (vaccineId: string) => ({ vaccineId }),
  lock: "row",
  restore: (row) => Vaccine.restore(vaccineState(row)),
  record: (vaccine: VaccineAggregate) => ({ ...vaccine.state }),
  encode: encodeInventoryEvent,
});
const vaccineRows = new EntityTable(VaccineRecord);

function vaccineState(record: InferEntity<typeof VaccineRecord>): VaccineState {
  const { vaccineId, name, vialsInStock, dosesRequired, registeredAt } = record;
  return { vaccineId, name, vialsInStock, dosesRequired, registeredAt };
}

/** Supplies. In a unit of work, `get` locks the row until commit. */
const supplyStore = aggregateStore({
  entity: SupplyRecord,
  key: (supplyId: string) => ({ supplyId }),
  lock: "row",
  restore: (row) => Supply.restore({ ...row, dosesRegisteredAt: row.dosesRegisteredAt ?? undefined }),
  record: (supply: SupplyAggregate) => ({
    ...supply.state,
    dosesRegisteredAt: supply.state.dosesRegisteredAt ?? null,
  }),
  encode: encodeInventoryEvent,
});

/**
 * Hospitals' stocks of vaccines. In a unit of work, `get` locks the stock's row until commit, or,
 * before the stock has a row, its key (so two first supplies serialize). It is written only when it
 * changed: every change records StockChanged.
 */
const stockStore = aggregateStore({
  entity: StockRecord,
  key: (key: { hospitalId: string; vaccineId: string }) => key,
  lock: "row-or-key",
  lockNamespace: "stock",
  restore: (row) => VaccineStock.restore(row),
  record: (stock: VaccineStockAggregate) => {
    const { hospitalId, vaccineId, suppliedVials, available, given, discarded, booked, updatedAt } =
      stock.state;
    if (!updatedAt) throw new Error(`stock ${stock.id} changed without a time`);
    return { hospitalId, vaccineId, suppliedVials, available, given, discarded, booked, updatedAt };
  },
  encode: encodeInventoryEvent,
  onlyWhenChanged: true,
});

/**
 * Slots taken per hospital and date. In a unit of work, `get` locks the date's row, or its key
 * before it has one. Written only when it changed.
 */
const dateCapacityStore = aggregateStore({
  entity: DateCapacityRecord,
  key: (key: { hospitalId: string; date: string }) => key,
  lock: "row-or-key",
  lockNamespace: "date_capacity",
  restore: (row) => DateCapacity.restore(row),
  record: (capacity: DateCapacityAggregate) => ({ ...capacity.state }),
  onlyWhenChanged: (capacity) => capacity.changed,
});

/**
 * Bookings, one per reservation id. In a unit of work, `get` locks the reservation id (an advisory
 * lock), even before a row exists, and reads the row as committed now without locking it: a discard
 * releases bookings under the stock's lock, and a row lock taken before the stock's would make the
 * two wait on each other. Written only when new or changed.
 */
const bookingStore = aggregateStore({
  entity: BookingRecord,
  key: (reservationId: string) => ({ reservationId }),
  lock: "key-not-row",
  lockNamespace: "booking",
  restore: restoreBooking,
  record: (booking: BookingAggregate) => ({ ...booking.state, holdUntil: booking.state.holdUntil ?? null }),
  onlyWhenChanged: (booking) => booking.changed,
});
const bookingRows = new EntityTable(BookingRecord);

function restoreBooking(record: InferEntity<typeof BookingRecord>): BookingAggregate {
  return Booking.restore({ ...record, holdUntil: record.holdUntil ?? undefined });
}

/** Inventory's write ports on a unit of work: every read locks as its store declares. */
export function inventoryStores(unit: UnitOfWork) {
  const { em } = unit;
  const stocks = stockStore.writer(unit);
  const capacities = dateCapacityStore.writer(unit);
  return {
    hospitals: { ...hospitalStore.writer(unit), list: (page) => hospitalPage(em, page) } satisfies Hospitals,
    vaccines: {
      ...vaccineStore.writer(unit),
      has: async (vaccineId) => (await vaccineRows.findAll(em, { vaccineId })).length > 0,
      list: (page) => vaccinePage(em, page),
    } satisfies Vaccines,
    supplies: supplyStore.writer(unit) satisfies Supplies,
    stocks: {
      get: (hospitalId, vaccineId) => stocks.get({ hospitalId, vaccineId }),
      save: stocks.save,
    } satisfies Stocks,
    capacities: {
      get: (hospitalId, date) => capacities.get({ hospitalId, date }),
      save: capacities.save,
    } satisfies DateCapacities,
    bookings: bookings(unit),
  };
}

/** Inventory's read ports: outside any transaction, nothing locked. */
export function inventoryReads(session: ReadSession) {
  const { em } = session;
  return {
    hospitals: {
      ...hospitalStore.reader(session),
      list: (page) => hospitalPage(em, page),
    } satisfies HospitalReads,
    vaccines: {
      ...vaccineStore.reader(session),
      list: (page) => vaccinePage(em, page),
    } satisfies VaccineReads,
    stocks: { ofHospital: (hospitalId) => stocksOfHospital(em, hospitalId) } satisfies StockReads,
  };
}

function bookings(unit: UnitOfWork): Bookings {
  const { em } = unit;
  const table = bookingRows.name(em);
  return {
    ...bookingStore.writer(unit),
    heldOf: async (hospitalId, vaccineId) =>
      (await bookingRows.findAll(em, { hospitalId, vaccineId, status: "BOOKED" })).map(restoreBooking),
    getAll: async (reservationIds) => {
      const ids = [...new Set(reservationIds)].sort();
      if (ids.length === 0) return new Map();
      await unit.lockKeys("booking", ids);
      const rows = await bookingRows.findAll(em, { reservationId: ids });
      return new Map(rows.map((row) => [row.reservationId, restoreBooking(row)]));
    },
    /**
     * The claim takes each booking's own lock (the advisory key `get` locks) without waiting: a
     * booking another unit of work holds (a replica's round, a booking call, a release) is skipped.
     * A row lock (FOR UPDATE SKIP LOCKED) would not do: a discard writes booking rows under the
     * stock's lock, so it and this round would wait on each other.
     */
    claimExpired: async (reservationIds, now) => {
      if (reservationIds.length === 0) return [];
      const rows = await execute<{ reservation_id: string }>(
        em,
        `select reservation_id from (
           select reservation_id from ${table}
            where reservation_id = any($1) and status = 'BOOKED' and hold_until <= $2
            order by reservation_id) as lapsed
          where pg_try_advisory_xact_lock(hashtextextended('booking:' || reservation_id, 0))`,
        [reservationIds, now],
      );
      const claimed = rows.map((row) => row.reservation_id);
      unit.lockedKeys("booking", claimed);
      return claimed;
    },
    lapsed: (now, limit) => lapsedHolds(em, now, limit),
    saveConfirmed: async (booking) => {
      const { reservationId, holdUntil, updatedAt } = booking.state;
      await execute(
        em,
        `update ${table} set hold_until = $1, updated_at = $2 where reservation_id = $3 and status = 'BOOKED'`,
        [holdUntil ?? null, updatedAt, reservationId],
      );
    },
  };
}

/** The expiry job's look for lapsed holds, outside any transaction. */
export function lapsedBookings(session: ReadSession): Pick<Bookings, "lapsed"> {
  return { lapsed: (now, limit) => lapsedHolds(session.em, now, limit) };
}

async function lapsedHolds(em: EntityManager, now: Date, limit: number): Promise<string[]> {
  const rows = await execute<{ reservation_id: string }>(
    em,
    `select reservation_id from ${bookingRows.name(em)}
      where status = 'BOOKED' and hold_until <= $1
      order by hold_until, reservation_id limit $2`,
    [now, limit],
  );
  return rows.map((row) => row.reservation_id);
}

/** Hospitals in id order, a page at a time. */
async function hospitalPage(em: EntityManager, page: IdPage): Promise<HospitalState[]> {
  const records = await em.find(
    HospitalRecord,
    page.after === undefined ? {} : { hospitalId: { $gt: page.after } },
    { orderBy: { hospitalId: "asc" }, limit: page.limit },
  );
  return records.map(hospitalState);
}

/** Vaccines in id order, a page at a time. */
async function vaccinePage(em: EntityManager, page: IdPage): Promise<VaccineState[]> {
  const records = await em.find(
    VaccineRecord,
    page.after === undefined ? {} : { vaccineId: { $gt: page.after } },
    { orderBy: { vaccineId: "asc" }, limit: page.limit },
  );
  return records.map(vaccineState);
}

async function stocksOfHospital(em: EntityManager, hospitalId: string) {
  const records = await em.find(StockRecord, { hospitalId }, { orderBy: { vaccineId: "asc" } });
  return records.map((record) => VaccineStock.restore(record).state);
}
