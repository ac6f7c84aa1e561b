import {
  Booking,
  type Booking as BookingAggregate,
  type Bookings,
  type DateCapacities,
  DateCapacity,
  type DateCapacity as DateCapacityAggregate,
  Hospital,
  type Hospital as HospitalAggregate,
  type HospitalState,
  type Hospitals,
  type IdPage,
  type StockState,
  type Stocks,
  type Supplies,
  Supply,
  type Supply as SupplyAggregate,
  stockId,
  Vaccine,
  type Vaccine as VaccineAggregate,
  type VaccineState,
  VaccineStock,
  type VaccineStock as VaccineStockAggregate,
  type Vaccines,
} from "@hexa/core/vaccination/inventory";
import { defineEntity, type InferEntity, LockMode, p } from "@mikro-orm/core";
import {
  type EntityManager,
  quotedList,
  type SchemaMigration,
  type ServiceDatabase,
} from "../../postgres/database.ts";
import { lockedRow, lockKey, lockKeys } from "../../postgres/locks.ts";
import { appendToOutbox } from "../../postgres/outbox.ts";
import { encodeInventoryEvent } from "./events.ts";

const BOOKING_OUTCOMES = ["BOOKED", "NO_DOSES", "DATE_FULL"] as const;
const BOOKING_STATUSES = ["BOOKED", "REFUSED", "RELEASED", "VACCINATED"] as const;

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

interface StoreOptions {
  /** In a unit of work: lock what `get` reads until commit. */
  readonly lock: boolean;
}

/** Hospitals in inventory's schema. A hospital never changes once registered, so nothing is locked. */
export class HospitalStore implements Hospitals {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;

  constructor(em: EntityManager, db: ServiceDatabase) {
    this.#em = em;
    this.#db = db;
  }

  async get(hospitalId: string): Promise<HospitalAggregate | undefined> {
    const record = await this.#em.findOne(HospitalRecord, { hospitalId });
    return record ? Hospital.restore(hospitalState(record)) : undefined;
  }

  async save(hospital: HospitalAggregate): Promise<void> {
    await this.#em.upsert(HospitalRecord, { ...hospital.state });
    appendToOutbox(this.#em, this.#db, hospital.pullEvents().map(encodeInventoryEvent));
  }

  async list(page: IdPage): Promise<HospitalState[]> {
    const records = await this.#em.find(
      HospitalRecord,
      page.after === undefined ? {} : { hospitalId: { $gt: page.after } },
      { orderBy: { hospitalId: "asc" }, limit: page.limit },
    );
    return records.map(hospitalState);
  }
}

function hospitalState(record: InferEntity<typeof HospitalRecord>): HospitalState {
  const { hospitalId, name, dailyCapacity, registeredAt } = record;
  return { hospitalId, name, dailyCapacity, registeredAt };
}

/** Vaccines in inventory's schema. In a unit of work, `get` locks the row until commit. */
export class VaccineStore implements Vaccines {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: StoreOptions) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(vaccineId: string): Promise<VaccineAggregate | undefined> {
    const record = await this.#em.findOne(
      VaccineRecord,
      { vaccineId },
      this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
    );
    return record ? Vaccine.restore(vaccineState(record)) : undefined;
  }

  async has(vaccineId: string): Promise<boolean> {
    return (await this.#em.count(VaccineRecord, { vaccineId })) > 0;
  }

  async save(vaccine: VaccineAggregate): Promise<void> {
    await this.#em.upsert(VaccineRecord, { ...vaccine.state });
    appendToOutbox(this.#em, this.#db, vaccine.pullEvents().map(encodeInventoryEvent));
  }

  async list(page: IdPage): Promise<VaccineState[]> {
    const records = await this.#em.find(
      VaccineRecord,
      page.after === undefined ? {} : { vaccineId: { $gt: page.after } },
      { orderBy: { vaccineId: "asc" }, limit: page.limit },
    );
    return records.map(vaccineState);
  }
}

function vaccineState(record: InferEntity<typeof VaccineRecord>): VaccineState {
  const { vaccineId, name, vialsInStock, dosesRequired, registeredAt } = record;
  return { vaccineId, name, vialsInStock, dosesRequired, registeredAt };
}

/** Supplies in inventory's schema. In a unit of work, `get` locks the row until commit. */
export class SupplyStore implements Supplies {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: StoreOptions) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(supplyId: string): Promise<SupplyAggregate | undefined> {
    const record = await this.#em.findOne(
      SupplyRecord,
      { supplyId },
      this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
    );
    if (!record) return undefined;
    const { hospitalId, vaccineId, vials, availableDoses, suppliedAt, dosesRegisteredAt } = record;
    return Supply.restore({
      supplyId,
      hospitalId,
      vaccineId,
      vials,
      availableDoses,
      suppliedAt,
      dosesRegisteredAt: dosesRegisteredAt ?? undefined,
    });
  }

  async save(supply: SupplyAggregate): Promise<void> {
    const { dosesRegisteredAt, ...state } = supply.state;
    await this.#em.upsert(SupplyRecord, { ...state, dosesRegisteredAt: dosesRegisteredAt ?? null });
    appendToOutbox(this.#em, this.#db, supply.pullEvents().map(encodeInventoryEvent));
  }
}

/**
 * Hospitals' stocks of vaccines in inventory's schema. In a unit of work, `get` locks the stock's
 * row until commit, or, before the stock has a row, its key (so two first supplies serialize).
 */
export class StockStore implements Stocks {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: StoreOptions) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(hospitalId: string, vaccineId: string): Promise<VaccineStockAggregate | undefined> {
    const record = await lockedRow(this.#em, this.#lockOf(stockId(hospitalId, vaccineId)), () =>
      this.#em.findOne(StockRecord, { hospitalId, vaccineId }, this.#readOptions()),
    );
    return record ? VaccineStock.restore(record) : undefined;
  }

  async find(hospitalId: string, vaccineId: string): Promise<VaccineStockAggregate | undefined> {
    const record = await this.#em.findOne(StockRecord, { hospitalId, vaccineId });
    return record ? VaccineStock.restore(record) : undefined;
  }

  #readOptions() {
    return this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {};
  }

  #lockOf(key: string) {
    return this.#lock ? { namespace: "stock", key } : undefined;
  }

  /** Writes the stock only when it changed: every change records StockChanged. */
  async save(stock: VaccineStockAggregate): Promise<void> {
    const events = stock.pullEvents();
    if (events.length === 0) return;
    const { hospitalId, vaccineId, suppliedVials, available, given, discarded, booked, updatedAt } =
      stock.state;
    if (!updatedAt) throw new Error(`stock ${stock.id} changed without a time`);
    await this.#em.upsert(StockRecord, {
      hospitalId,
      vaccineId,
      suppliedVials,
      available,
      given,
      discarded,
      booked,
      updatedAt,
    });
    appendToOutbox(this.#em, this.#db, events.map(encodeInventoryEvent));
  }

  async ofHospital(hospitalId: string): Promise<StockState[]> {
    const records = await this.#em.find(StockRecord, { hospitalId }, { orderBy: { vaccineId: "asc" } });
    return records.map((record) => VaccineStock.restore(record).state);
  }
}

/** Slots taken per hospital and date. In a unit of work, `get` locks the date, even before it has a row. */
export class DateCapacityStore implements DateCapacities {
  readonly #em: EntityManager;
  readonly #lock: boolean;

  constructor(em: EntityManager, options: StoreOptions) {
    this.#em = em;
    this.#lock = options.lock;
  }

  async get(hospitalId: string, date: string): Promise<DateCapacityAggregate | undefined> {
    const record = await lockedRow(this.#em, this.#lockOf(`${hospitalId}/${date}`), () =>
      this.#em.findOne(DateCapacityRecord, { hospitalId, date }, this.#readOptions()),
    );
    return record ? DateCapacity.restore({ hospitalId, date, taken: record.taken }) : undefined;
  }

  async find(hospitalId: string, date: string): Promise<DateCapacityAggregate | undefined> {
    const record = await this.#em.findOne(DateCapacityRecord, { hospitalId, date });
    return record ? DateCapacity.restore({ hospitalId, date, taken: record.taken }) : undefined;
  }

  #readOptions() {
    return this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {};
  }

  #lockOf(key: string) {
    return this.#lock ? { namespace: "date_capacity", key } : undefined;
  }

  async save(capacity: DateCapacityAggregate): Promise<void> {
    if (!capacity.changed) return;
    await this.#em.upsert(DateCapacityRecord, { ...capacity.state });
  }
}

/** Bookings, one per reservation id. In a unit of work, `get` locks the reservation id, even before a row exists. */
export class BookingStore implements Bookings {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: StoreOptions) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(reservationId: string): Promise<BookingAggregate | undefined> {
    if (this.#lock) await lockKey(this.#em, "booking", reservationId);
    const record = await this.#em.findOne(BookingRecord, { reservationId }, FRESH);
    return record ? restoreBooking(record) : undefined;
  }

  async heldOf(hospitalId: string, vaccineId: string): Promise<BookingAggregate[]> {
    const records = await this.#em.find(BookingRecord, { hospitalId, vaccineId, status: "BOOKED" }, FRESH);
    return records.map(restoreBooking);
  }

  async getAll(reservationIds: readonly string[]): Promise<Map<string, BookingAggregate>> {
    const ids = [...new Set(reservationIds)].sort();
    if (ids.length === 0) return new Map();
    if (this.#lock) await lockKeys(this.#em, "booking", ids);
    const records = await this.#em.find(BookingRecord, { reservationId: { $in: ids } }, FRESH);
    return new Map(records.map((record) => [record.reservationId, restoreBooking(record)]));
  }

  /**
   * The claim takes each booking's own lock (the advisory key `get` locks) without waiting: a
   * booking another unit of work holds (a replica's round, a booking call, a release) is skipped.
   * A row lock (FOR UPDATE SKIP LOCKED) would not do: a discard writes booking rows under the
   * stock's lock, so it and this round would wait on each other.
   */
  async claimExpired(reservationIds: readonly string[], now: Date): Promise<string[]> {
    if (reservationIds.length === 0) return [];
    const rows: Array<{ reservation_id: string }> = await this.#em.execute(
      `select reservation_id from (
         select reservation_id from ${this.#db.table("booking")}
          where reservation_id in (${reservationIds.map(() => "?").join(", ")})
            and status = 'BOOKED' and hold_until <= ?
          order by reservation_id) as lapsed
        where pg_try_advisory_xact_lock(hashtextextended('booking:' || reservation_id, 0))`,
      [...reservationIds, now],
    );
    return rows.map((row) => row.reservation_id);
  }

  async lapsed(now: Date, limit: number): Promise<string[]> {
    const rows: Array<{ reservation_id: string }> = await this.#em.execute(
      `select reservation_id from ${this.#db.table("booking")}
        where status = 'BOOKED' and hold_until <= ?
        order by hold_until, reservation_id limit ?`,
      [now, limit],
    );
    return rows.map((row) => row.reservation_id);
  }

  /** Writes a new or changed booking. */
  async save(booking: BookingAggregate): Promise<void> {
    await this.saveAll([booking]);
  }

  async saveConfirmed(booking: BookingAggregate): Promise<void> {
    const { reservationId, holdUntil, updatedAt } = booking.state;
    await this.#em.execute(
      `update ${this.#db.table("booking")} set hold_until = ?, updated_at = ?
        where reservation_id = ? and status = 'BOOKED'`,
      [holdUntil ?? null, updatedAt, reservationId],
    );
  }

  async saveAll(bookings: readonly BookingAggregate[]): Promise<void> {
    const changed = bookings
      .filter((booking) => booking.changed)
      .map((booking) => ({ ...booking.state, holdUntil: booking.state.holdUntil ?? null }));
    if (changed.length > 0) await this.#em.upsertMany(BookingRecord, changed);
  }
}

/** Bookings are read as committed now, never from the unit of work's identity map. */
const FRESH = { disableIdentityMap: true } as const;

function restoreBooking(record: InferEntity<typeof BookingRecord>): BookingAggregate {
  const { reservationId, hospitalId, vaccineId, date, outcome, status, holdUntil, createdAt, updatedAt } =
    record;
  return Booking.restore({
    reservationId,
    hospitalId,
    vaccineId,
    date,
    outcome,
    status,
    holdUntil: holdUntil ?? undefined,
    createdAt,
    updatedAt,
  });
}
