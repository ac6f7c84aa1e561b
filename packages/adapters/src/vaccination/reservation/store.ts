import { isUuid } from "@hexa/core/shared";
import {
  type AbandonedBooking,
  type AbandonedBookings,
  type CancellationReason,
  type HospitalDayQuery,
  type PersonReservationsQuery,
  Reservation,
  type Reservation as ReservationAggregate,
  type ReservationPosition,
  type ReservationState,
  type ReservationStatus,
  type Reservations,
} from "@hexa/core/vaccination/reservation";
import {
  defineEntity,
  type FilterQuery,
  type InferEntity,
  LockMode,
  p,
  QueryOrder,
  types,
} from "@mikro-orm/core";
import {
  type EntityManager,
  quotedList,
  type SchemaMigration,
  type ServiceDatabase,
} from "../../postgres/database.ts";
import { lockKey } from "../../postgres/locks.ts";
import { appendToOutbox } from "../../postgres/outbox.ts";
import { encodeReservationEvent } from "./events.ts";

export const RESERVATION_STATUSES = [
  "WAITLISTED",
  "REGISTERED",
  "CONFIRMED",
  "REJECTED",
  "CANCELLED",
  "VACCINATED",
] as const satisfies readonly ReservationStatus[];

export const CANCELLATION_REASONS = [
  "PERSON",
  "MANAGER",
  "DISCARD",
  "HOLD_EXPIRED",
  "BOOKED",
] as const satisfies readonly CancellationReason[];

export const ReservationRecord = defineEntity({
  name: "ReservationRecord",
  tableName: "reservation",
  properties: {
    reservationId: p.uuid().primary(),
    personId: p.string(),
    hospitalId: p.uuid(),
    vaccineId: p.uuid(),
    /** "YYYY-MM-DD" (a Postgres date, read back as text); null for a waitlist entry. */
    appointmentDate: p.type(types.date).nullable(),
    status: p.enum(RESERVATION_STATUSES),
    cancellationReason: p.enum(CANCELLATION_REASONS).nullable(),
    note: p.string().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});

export const AbandonedBookingRecord = defineEntity({
  name: "AbandonedBookingRecord",
  tableName: "abandoned_booking",
  properties: {
    reservationId: p.uuid().primary(),
    hospitalId: p.uuid(),
    vaccineId: p.uuid(),
    appointmentDate: p.type(types.date),
    abandonedAt: p.datetime(),
  },
});

type ReservationRow = InferEntity<typeof ReservationRecord>;

export const reservationMigrations: SchemaMigration[] = [
  {
    name: "0001_reservation",
    sql: [
      `create table reservation (
        reservation_id uuid primary key,
        person_id varchar(64) not null,
        hospital_id uuid not null,
        vaccine_id uuid not null,
        appointment_date date null,
        status text not null check (status in (${quotedList(RESERVATION_STATUSES)})),
        cancellation_reason text null check (cancellation_reason in (${quotedList(CANCELLATION_REASONS)})),
        note varchar(500) null,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        check ((status = 'CANCELLED') = (cancellation_reason is not null)),
        check (appointment_date is not null or status in ('WAITLISTED', 'CANCELLED'))
      )`,
      // One waitlist entry per person, hospital and vaccine.
      `create unique index reservation_one_waitlist_entry on reservation (person_id, hospital_id, vaccine_id)
        where status = 'WAITLISTED'`,
      `create index reservation_outstanding on reservation (hospital_id, vaccine_id)
        where status in ('REGISTERED', 'CONFIRMED')`,
      `create index reservation_waitlisted on reservation (hospital_id, vaccine_id, created_at)
        where status = 'WAITLISTED'`,
      `create index reservation_of_person on reservation
        (person_id, appointment_date desc nulls first, created_at desc, reservation_id desc)`,
      `create table abandoned_booking (
        reservation_id uuid primary key,
        hospital_id uuid not null,
        vaccine_id uuid not null,
        appointment_date date not null,
        abandoned_at timestamptz not null
      )`,
    ],
  },
  {
    // A person's outstanding reservation of a vaccine (one at most, kept by the person's lock; not a
    // unique index, so a database holding older duplicates still migrates).
    name: "0002_reservation_outstanding_of_person",
    sql: [
      `create index reservation_outstanding_of_person on reservation (person_id, vaccine_id)
        where status in ('REGISTERED', 'CONFIRMED')`,
    ],
  },
  {
    // Reason HOLD_EXPIRED: a booking registered after inventory had released its unconfirmed hold.
    name: "0003_cancelled_for_expired_hold",
    sql: [
      `alter table reservation drop constraint reservation_cancellation_reason_check,
        add constraint reservation_cancellation_reason_check
        check (cancellation_reason in (${quotedList(CANCELLATION_REASONS)}))`,
    ],
  },
  {
    // The reservation manager's day view: a hospital's reservations of one day, first booked first.
    name: "0004_reservation_of_hospital_day",
    sql: [
      `create index reservation_of_hospital_day on reservation
        (hospital_id, appointment_date, created_at, reservation_id)`,
    ],
  },
];

/** A ListReservations token: the last row's (date or "" for a waitlist entry, created_at, reservation_id). */
export type ReservationCursor = [date: string, createdAt: string, reservationId: string];

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function isReservationCursor(value: unknown): value is ReservationCursor {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    typeof value[0] === "string" &&
    (value[0] === "" || DAY.test(value[0])) &&
    typeof value[1] === "string" &&
    !Number.isNaN(Date.parse(value[1])) &&
    typeof value[2] === "string" &&
    isUuid(value[2])
  );
}

export function cursorOf(reservation: ReservationState): ReservationCursor {
  return [reservation.date ?? "", reservation.createdAt.toISOString(), reservation.reservationId];
}

export function positionOf(cursor: ReservationCursor): ReservationPosition {
  return {
    date: cursor[0] === "" ? undefined : cursor[0],
    createdAt: new Date(cursor[1]),
    reservationId: cursor[2],
  };
}

/**
 * Reservations in reservation's schema. In a unit of work (`lock: true`) every read locks what it
 * reads until commit, rows and keys, as the port describes; outside one it reads plainly.
 */
export class ReservationStore implements Reservations {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: { lock: boolean }) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(reservationId: string): Promise<ReservationAggregate | undefined> {
    if (this.#lock) await lockKey(this.#em, "reservation", reservationId);
    const record = await this.#em.findOne(ReservationRecord, { reservationId }, this.#lockMode());
    return record ? Reservation.restore(toState(record)) : undefined;
  }

  async save(reservation: ReservationAggregate): Promise<void> {
    const { date, cancellationReason, note, ...state } = reservation.state;
    await this.#em.upsert(ReservationRecord, {
      ...state,
      appointmentDate: date ?? null,
      cancellationReason: cancellationReason ?? null,
      note: note ?? null,
    });
    appendToOutbox(this.#em, this.#db, reservation.pullEvents().map(encodeReservationEvent));
  }

  async waitlistEntry(
    personId: string,
    hospitalId: string,
    vaccineId: string,
  ): Promise<ReservationAggregate | undefined> {
    if (this.#lock)
      await lockKey(this.#em, "reservation-waitlist", `${personId}\n${hospitalId}\n${vaccineId}`);
    const record = await this.#em.findOne(
      ReservationRecord,
      { personId, hospitalId, vaccineId, status: "WAITLISTED" },
      this.#lockMode(),
    );
    return record ? Reservation.restore(toState(record)) : undefined;
  }

  async outstandingOf(personId: string, vaccineId: string): Promise<ReservationAggregate | undefined> {
    if (this.#lock) await lockKey(this.#em, "reservation-person", `${personId}\n${vaccineId}`);
    const record = await this.#em.findOne(
      ReservationRecord,
      { personId, vaccineId, status: { $in: ["REGISTERED", "CONFIRMED"] } },
      this.#lockMode(),
    );
    return record ? Reservation.restore(toState(record)) : undefined;
  }

  async outstanding(hospitalId: string, vaccineId: string): Promise<ReservationAggregate[]> {
    if (this.#lock) await lockKey(this.#em, "reservation-outstanding", `${hospitalId}\n${vaccineId}`);
    const records = await this.#em.find(
      ReservationRecord,
      { hospitalId, vaccineId, status: { $in: ["REGISTERED", "CONFIRMED"] } },
      // Locked in id order: the same order every time, whoever else locks several.
      { orderBy: { reservationId: "asc" }, ...this.#lockMode() },
    );
    return records.map((record) => Reservation.restore(toState(record)));
  }

  async waitlisted(hospitalId: string, vaccineId: string): Promise<ReservationAggregate[]> {
    const records = await this.#em.find(
      ReservationRecord,
      { hospitalId, vaccineId, status: "WAITLISTED" },
      { orderBy: [{ createdAt: "asc" }, { reservationId: "asc" }], ...this.#lockMode() },
    );
    return records.map((record) => Reservation.restore(toState(record)));
  }

  /** Keyset paging on (date, nulls first; created_at; reservation_id), all descending. */
  async ofPerson(query: PersonReservationsQuery): Promise<ReservationState[]> {
    const where: FilterQuery<ReservationRow> = { personId: query.personId };
    const after = query.after;
    const records = await this.#em.find(
      ReservationRecord,
      after ? { $and: [where, following(after)] } : where,
      {
        orderBy: [
          { appointmentDate: QueryOrder.DESC_NULLS_FIRST },
          { createdAt: QueryOrder.DESC },
          { reservationId: QueryOrder.DESC },
        ],
        limit: query.limit,
      },
    );
    return records.map(toState);
  }

  /** Keyset paging on (created_at, reservation_id), both ascending, within the hospital's day. */
  async ofHospitalDay(query: HospitalDayQuery): Promise<ReservationState[]> {
    const where: FilterQuery<ReservationRow> = { hospitalId: query.hospitalId, appointmentDate: query.date };
    const after = query.after;
    const records = await this.#em.find(
      ReservationRecord,
      after
        ? {
            ...where,
            $or: [
              { createdAt: { $gt: after.createdAt } },
              { createdAt: after.createdAt, reservationId: { $gt: after.reservationId } },
            ],
          }
        : where,
      { orderBy: [{ createdAt: QueryOrder.ASC }, { reservationId: QueryOrder.ASC }], limit: query.limit },
    );
    return records.map(toState);
  }

  async getAll(reservationIds: readonly string[]): Promise<ReservationAggregate[]> {
    const records = await this.#em.find(ReservationRecord, { reservationId: { $in: [...reservationIds] } });
    return records.map((record) => Reservation.restore(toState(record)));
  }

  #lockMode() {
    return this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE as const } : {};
  }
}

/** The rows that come after `after` in a person's list. */
function following(after: ReservationPosition): FilterQuery<ReservationRow> {
  const sameDate = after.date === undefined ? { appointmentDate: null } : { appointmentDate: after.date };
  const laterInDate = {
    ...sameDate,
    $or: [
      { createdAt: { $lt: after.createdAt } },
      { createdAt: after.createdAt, reservationId: { $lt: after.reservationId } },
    ],
  };
  const earlierDate =
    after.date === undefined ? { appointmentDate: { $ne: null } } : { appointmentDate: { $lt: after.date } };
  return { $or: [laterInDate, earlierDate] };
}

function toState(record: ReservationRow): ReservationState {
  return {
    reservationId: record.reservationId,
    personId: record.personId,
    hospitalId: record.hospitalId,
    vaccineId: record.vaccineId,
    date: record.appointmentDate ?? undefined,
    status: record.status,
    cancellationReason: record.cancellationReason ?? undefined,
    note: record.note ?? undefined,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/** Tombstones of abandoned booking attempts. Reads run after the reservation id is held (see ReservationStore.get). */
export class AbandonedBookingStore implements AbandonedBookings {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;

  constructor(em: EntityManager, db: ServiceDatabase) {
    this.#em = em;
    this.#db = db;
  }

  async has(reservationId: string): Promise<boolean> {
    return (await this.#em.count(AbandonedBookingRecord, { reservationId })) > 0;
  }

  async save(abandoned: AbandonedBooking): Promise<void> {
    const { reservationId, hospitalId, vaccineId, date, abandonedAt } = abandoned.state;
    await this.#em.execute(
      `insert into ${this.#db.table("abandoned_booking")}
         (reservation_id, hospital_id, vaccine_id, appointment_date, abandoned_at)
       values (?, ?, ?, ?, ?) on conflict (reservation_id) do nothing`,
      [reservationId, hospitalId, vaccineId, date, abandonedAt],
    );
    appendToOutbox(this.#em, this.#db, abandoned.pullEvents().map(encodeReservationEvent));
  }
}
