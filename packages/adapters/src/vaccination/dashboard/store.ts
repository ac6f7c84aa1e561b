import {
  COUNTED_STATUSES,
  countField,
  type DailyCounts,
  type DayCountChange,
  type DayCounts,
  type Directory,
  type HospitalStocks,
  type HospitalTallies,
  type HospitalTally,
  type HospitalVaccineStock,
  type PersonReservation,
  type ReservationState,
  type ReservationStatus,
  type ReservationViews,
  type StockLevels,
  type TallyChange,
} from "@hexa/core/vaccination/dashboard";
import type { EntityManager } from "../../postgres/database.ts";
import { lockedRow, lockKey } from "../../postgres/locks.ts";
import { rows, SCHEMA, table } from "./schema.ts";

/**
 * The dashboard's relational read models, in plain SQL through the unit of work's entity
 * manager: increments, conditional upserts and name joins are set operations SQL states directly.
 * Days are read back as "YYYY-MM-DD" text and counts as numbers, whatever the driver's defaults.
 */

/** Names of hospitals and vaccines; the last registration seen wins (inventory registers each once). */
export class DirectoryStore implements Directory {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  async saveHospital(hospital: { hospitalId: string; name: string; dailyCapacity: number }): Promise<void> {
    await rows(
      this.#em,
      `insert into ${table("hospital")} (hospital_id, name, daily_capacity) values (?, ?, ?)
       on conflict (hospital_id) do update set name = excluded.name, daily_capacity = excluded.daily_capacity`,
      [hospital.hospitalId, hospital.name, hospital.dailyCapacity],
    );
  }

  async saveVaccine(vaccine: { vaccineId: string; name: string }): Promise<void> {
    await rows(
      this.#em,
      `insert into ${table("vaccine")} (vaccine_id, name) values (?, ?)
       on conflict (vaccine_id) do update set name = excluded.name`,
      [vaccine.vaccineId, vaccine.name],
    );
  }
}

/** Doses available, given and discarded per hospital; each change is one atomic increment. */
export class HospitalTallyStore implements HospitalTallies {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  async add(hospitalId: string, change: TallyChange): Promise<void> {
    await rows(
      this.#em,
      `insert into ${table("hospital_tally")} as t (hospital_id, available_doses, vaccinations, discarded_doses)
       values (?, ?, ?, ?)
       on conflict (hospital_id) do update set
         available_doses = t.available_doses + excluded.available_doses,
         vaccinations = t.vaccinations + excluded.vaccinations,
         discarded_doses = t.discarded_doses + excluded.discarded_doses`,
      [hospitalId, change.availableDoses, change.vaccinations, change.discardedDoses],
    );
  }

  async list(): Promise<HospitalTally[]> {
    const found = await rows<{
      hospital_id: string;
      hospital_name: string | null;
      available_doses: string | number;
      vaccinations: string | number;
      discarded_doses: string | number;
    }>(
      this.#em,
      `select t.hospital_id, h.name as hospital_name, t.available_doses, t.vaccinations, t.discarded_doses
       from ${table("hospital_tally")} t left join ${table("hospital")} h on h.hospital_id = t.hospital_id
       order by h.name collate "C" nulls last, t.hospital_id`,
    );
    return found.map((row) => ({
      hospitalId: row.hospital_id,
      hospitalName: row.hospital_name ?? undefined,
      availableDoses: Number(row.available_doses),
      vaccinations: Number(row.vaccinations),
      discardedDoses: Number(row.discarded_doses),
    }));
  }
}

interface ReservationRow {
  reservation_id: string;
  person_id: string;
  hospital_id: string;
  vaccine_id: string;
  day: string | null;
  status: ReservationStatus;
  updated_at: Date | string;
  event_id: string;
}

const RESERVATION_COLUMNS = `r.reservation_id, r.person_id, r.hospital_id, r.vaccine_id,
  to_char(r.day, 'YYYY-MM-DD') as day, r.status, r.updated_at, r.event_id`;

/**
 * The latest state of each reservation. In a policy's unit of work (`lock`), `get` holds the
 * reservation id until commit, even before the reservation has a row, so two of its events handled
 * at once (each event type has its own consumer) apply one after the other.
 */
export class ReservationViewStore implements ReservationViews {
  readonly #em: EntityManager;
  readonly #lock: boolean;

  constructor(em: EntityManager, options: { lock: boolean }) {
    this.#em = em;
    this.#lock = options.lock;
  }

  async get(reservationId: string): Promise<ReservationState | undefined> {
    if (this.#lock) await lockKey(this.#em, `${SCHEMA}.reservation`, reservationId);
    const [row] = await rows<ReservationRow>(
      this.#em,
      `select ${RESERVATION_COLUMNS} from ${table("reservation")} r where r.reservation_id = ?`,
      [reservationId],
    );
    return row ? reservationOf(row) : undefined;
  }

  async save(state: ReservationState): Promise<void> {
    await rows(
      this.#em,
      `insert into ${table("reservation")}
         (reservation_id, person_id, hospital_id, vaccine_id, day, status, updated_at, event_id)
       values (?, ?, ?, ?, ?::date, ?, ?, ?)
       on conflict (reservation_id) do update set
         person_id = excluded.person_id, hospital_id = excluded.hospital_id,
         vaccine_id = excluded.vaccine_id, day = excluded.day, status = excluded.status,
         updated_at = excluded.updated_at, event_id = excluded.event_id`,
      [
        state.reservationId,
        state.personId,
        state.hospitalId,
        state.vaccineId,
        state.date ?? null,
        state.status,
        state.updatedAt,
        state.eventId,
      ],
    );
  }

  async ofPerson(personId: string): Promise<PersonReservation[]> {
    const found = await rows<ReservationRow & { hospital_name: string | null }>(
      this.#em,
      `select ${RESERVATION_COLUMNS}, h.name as hospital_name
       from ${table("reservation")} r left join ${table("hospital")} h on h.hospital_id = r.hospital_id
       where r.person_id = ?
       order by r.updated_at desc, r.reservation_id desc`,
      [personId],
    );
    return found.map((row) => ({ ...reservationOf(row), hospitalName: row.hospital_name ?? undefined }));
  }
}

function reservationOf(row: ReservationRow): ReservationState {
  return {
    reservationId: row.reservation_id,
    personId: row.person_id,
    hospitalId: row.hospital_id,
    vaccineId: row.vaccine_id,
    date: row.day ?? undefined,
    status: row.status,
    updatedAt: new Date(row.updated_at),
    eventId: row.event_id,
  };
}

const COUNT_COLUMNS = COUNTED_STATUSES.map(countField);

type DayRow = { day: string } & Record<(typeof COUNT_COLUMNS)[number], string | number>;

/**
 * Reservations per hospital, day and status. A change moves a reservation between buckets with
 * atomic increments; the buckets of one change are written in key order, so two transactions
 * never wait on each other crosswise. A bucket stays once created, at zero when emptied.
 */
export class DailyCountStore implements DailyCounts {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  async apply(changes: readonly DayCountChange[]): Promise<void> {
    const buckets = new Map<string, { hospitalId: string; date: string; deltas: Record<string, number> }>();
    for (const change of changes) {
      const key = `${change.hospitalId}/${change.date}`;
      const bucket = buckets.get(key) ?? {
        hospitalId: change.hospitalId,
        date: change.date,
        deltas: Object.fromEntries(COUNT_COLUMNS.map((column) => [column, 0])),
      };
      const column = countField(change.status);
      bucket.deltas[column] = (bucket.deltas[column] ?? 0) + change.delta;
      buckets.set(key, bucket);
    }
    const ordered = [...buckets.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [, bucket] of ordered) {
      if (COUNT_COLUMNS.every((column) => bucket.deltas[column] === 0)) continue;
      // The bucket is opened at zeros first: a CHECK applies to the row an upsert proposes, so a
      // decrement cannot ride on the insert.
      await rows(
        this.#em,
        `insert into ${table("daily_reservation")} (hospital_id, day, ${COUNT_COLUMNS.join(", ")})
         values (?, ?::date, ${COUNT_COLUMNS.map(() => "0").join(", ")})
         on conflict (hospital_id, day) do nothing`,
        [bucket.hospitalId, bucket.date],
      );
      await rows(
        this.#em,
        `update ${table("daily_reservation")}
         set ${COUNT_COLUMNS.map((column) => `${column} = ${column} + ?`).join(", ")}
         where hospital_id = ? and day = ?::date`,
        [...COUNT_COLUMNS.map((column) => bucket.deltas[column] ?? 0), bucket.hospitalId, bucket.date],
      );
    }
  }

  async hospital(hospitalId: string): Promise<{ dailyCapacity: number } | undefined> {
    const [row] = await rows<{ daily_capacity: number | null; counted: boolean }>(
      this.#em,
      `select (select daily_capacity from ${table("hospital")} where hospital_id = ?) as daily_capacity,
              exists (select 1 from ${table("daily_reservation")} where hospital_id = ?) as counted`,
      [hospitalId, hospitalId],
    );
    if (!row || (row.daily_capacity === null && !row.counted)) return undefined;
    return { dailyCapacity: row.daily_capacity ?? 0 };
  }

  async days(hospitalId: string, from: string, to: string): Promise<DayCounts[]> {
    const found = await rows<DayRow>(
      this.#em,
      `select to_char(day, 'YYYY-MM-DD') as day, ${COUNT_COLUMNS.join(", ")}
       from ${table("daily_reservation")}
       where hospital_id = ? and day between ?::date and ?::date
       order by day`,
      [hospitalId, from, to],
    );
    return found.map((row) => ({
      date: row.day,
      registered: Number(row.registered),
      confirmed: Number(row.confirmed),
      vaccinated: Number(row.vaccinated),
      cancelled: Number(row.cancelled),
      rejected: Number(row.rejected),
    }));
  }
}

interface StockRow {
  hospital_id: string;
  vaccine_id: string;
  available: number;
  given: number;
  discarded: number;
  remaining: number;
  booked: number;
  bookable: number;
  changed_at: Date | string;
  event_id: string;
}

const STOCK_COLUMNS = `s.hospital_id, s.vaccine_id, s.available, s.given, s.discarded, s.remaining,
  s.booked, s.bookable, s.changed_at, s.event_id`;

/**
 * The newest stock per hospital and vaccine. In a policy's unit of work (`lock`), `get` holds the
 * pair until commit, even before it has a row, so two changes handled at once compare in turn.
 */
export class HospitalStockStore implements HospitalStocks {
  readonly #em: EntityManager;
  readonly #lock: boolean;

  constructor(em: EntityManager, options: { lock: boolean }) {
    this.#em = em;
    this.#lock = options.lock;
  }

  async get(hospitalId: string, vaccineId: string): Promise<StockLevels | undefined> {
    const lock = this.#lock
      ? { namespace: `${SCHEMA}.hospital_stock`, key: `${hospitalId}/${vaccineId}` }
      : undefined;
    const row = await lockedRow(this.#em, lock, async () => {
      const [found] = await rows<StockRow>(
        this.#em,
        `select ${STOCK_COLUMNS} from ${table("hospital_stock")} s where s.hospital_id = ? and s.vaccine_id = ?${lock ? " for update" : ""}`,
        [hospitalId, vaccineId],
      );
      return found;
    });
    return row ? stockOf(row) : undefined;
  }

  async save(stock: StockLevels): Promise<void> {
    await rows(
      this.#em,
      `insert into ${table("hospital_stock")}
         (hospital_id, vaccine_id, available, given, discarded, remaining, booked, bookable, changed_at, event_id)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (hospital_id, vaccine_id) do update set
         available = excluded.available, given = excluded.given, discarded = excluded.discarded,
         remaining = excluded.remaining, booked = excluded.booked, bookable = excluded.bookable,
         changed_at = excluded.changed_at, event_id = excluded.event_id`,
      [
        stock.hospitalId,
        stock.vaccineId,
        stock.available,
        stock.given,
        stock.discarded,
        stock.remaining,
        stock.booked,
        stock.bookable,
        stock.changedAt,
        stock.eventId,
      ],
    );
  }

  async list(hospitalId: string | undefined): Promise<HospitalVaccineStock[]> {
    const found = await rows<StockRow & { hospital_name: string | null; vaccine_name: string | null }>(
      this.#em,
      `select ${STOCK_COLUMNS}, h.name as hospital_name, v.name as vaccine_name
       from ${table("hospital_stock")} s
         left join ${table("hospital")} h on h.hospital_id = s.hospital_id
         left join ${table("vaccine")} v on v.vaccine_id = s.vaccine_id
       ${hospitalId === undefined ? "" : "where s.hospital_id = ?"}
       order by h.name collate "C" nulls last, s.hospital_id, v.name collate "C" nulls last, s.vaccine_id`,
      hospitalId === undefined ? [] : [hospitalId],
    );
    return found.map((row) => ({
      ...stockOf(row),
      hospitalName: row.hospital_name ?? undefined,
      vaccineName: row.vaccine_name ?? undefined,
    }));
  }
}

function stockOf(row: StockRow): StockLevels {
  return {
    hospitalId: row.hospital_id,
    vaccineId: row.vaccine_id,
    available: row.available,
    given: row.given,
    discarded: row.discarded,
    remaining: row.remaining,
    booked: row.booked,
    bookable: row.bookable,
    changedAt: new Date(row.changed_at),
    eventId: row.event_id,
  };
}
