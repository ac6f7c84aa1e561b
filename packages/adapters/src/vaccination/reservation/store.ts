import { isUuid } from "@hexa/core/shared";
import {
  AbandonedBooking,
  type AbandonedBooking as AbandonedBookingAggregate,
  type AbandonedBookingReads,
  type AbandonedBookings,
  CANCELLATION_REASONS,
  type HospitalDayQuery,
  type PersonReservationsQuery,
  RESERVATION_STATUSES,
  Reservation,
  type Reservation as ReservationAggregate,
  type ReservationPosition,
  type ReservationReads,
  type ReservationState,
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
import { aggregateStore } from "../../kit/aggregate-store.ts";
import { EntityTable } from "../../kit/statements.ts";
import type { ReadSession, UnitOfWork } from "../../kit/unit-of-work.ts";
import { type EntityManager, quotedList, type SchemaMigration } from "../../postgres/database.ts";
import { encodeReservationEvent } from "./events.ts";

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
 * Reservations. In a unit of work, `get` holds the reservation id (an advisory lock) until commit,
 * even before a reservation exists, then locks the row.
 */
const reservationStore = aggregateStore({
  entity: ReservationRecord,
  key: (reservationId: string) => ({ reservationId }),
  lock: "key",
  lockNamespace: "reservation",
  restore: (row) => Reservation.restore(toState(row)),
  record: (reservation: ReservationAggregate) => {
    const { date, cancellationReason, note, ...state } = reservation.state;
    return {
      ...state,
      appointmentDate: date ?? null,
      cancellationReason: cancellationReason ?? null,
      note: note ?? null,
    };
  },
  encode: encodeReservationEvent,
});
const reservationRows = new EntityTable(ReservationRecord);
const OUTSTANDING = ["REGISTERED", "CONFIRMED"] as const;

/** Reservation's write ports on a unit of work: every read locks what it reads until commit. */
export function reservationStores(unit: UnitOfWork): {
  reservations: Reservations;
  abandonedBookings: AbandonedBookings;
} {
  const { em } = unit;
  const restoreAll = (rows: ReservationRow[]) => rows.map((row) => Reservation.restore(toState(row)));
  return {
    reservations: {
      ...reservationStore.writer(unit),
      waitlistEntry: async (personId, hospitalId, vaccineId) => {
        await unit.lockKeys("reservation-waitlist", [`${personId}\n${hospitalId}\n${vaccineId}`]);
        const [row] = await reservationRows.findAll(
          em,
          { personId, hospitalId, vaccineId, status: "WAITLISTED" },
          { lock: "for update" },
        );
        return row && Reservation.restore(toState(row));
      },
      outstandingOf: async (personId, vaccineId) => {
        await unit.lockKeys("reservation-person", [`${personId}\n${vaccineId}`]);
        const [row] = await reservationRows.findAll(
          em,
          { personId, vaccineId, status: OUTSTANDING },
          { lock: "for update" },
        );
        return row && Reservation.restore(toState(row));
      },
      standingOf: async (personId, hospitalId, vaccineId) => {
        await unit.lockKeys("reservation-person", [`${personId}\n${vaccineId}`]);
        const rows = await reservationRows.findWhere(
          em,
          `person_id = $1 and vaccine_id = $2
           and (status in ('REGISTERED', 'CONFIRMED') or (status = 'WAITLISTED' and hospital_id = $3))`,
          [personId, vaccineId, hospitalId],
          "for update",
        );
        const [outstanding, entry] = [
          rows.find((row) => row.status !== "WAITLISTED"),
          rows.find((row) => row.status === "WAITLISTED"),
        ];
        return {
          outstanding: outstanding && Reservation.restore(toState(outstanding)),
          waitlistEntry: entry && Reservation.restore(toState(entry)),
        };
      },
      outstanding: async (hospitalId, vaccineId) => {
        await unit.lockKeys("reservation-outstanding", [`${hospitalId}\n${vaccineId}`]);
        const records = await em.find(
          ReservationRecord,
          { hospitalId, vaccineId, status: { $in: OUTSTANDING } },
          // Locked in id order: the same order every time, whoever else locks several.
          { orderBy: { reservationId: "asc" }, lockMode: LockMode.PESSIMISTIC_WRITE },
        );
        return restoreAll(records);
      },
      waitlisted: async (hospitalId, vaccineId) =>
        restoreAll(
          await em.find(
            ReservationRecord,
            { hospitalId, vaccineId, status: "WAITLISTED" },
            {
              orderBy: [{ createdAt: "asc" }, { reservationId: "asc" }],
              lockMode: LockMode.PESSIMISTIC_WRITE,
            },
          ),
        ),
    },
    abandonedBookings: {
      ...abandonedBookingStore.writer(unit),
      has: async (reservationId) =>
        (await abandonedBookingStore.writer(unit).get(reservationId)) !== undefined,
    },
  };
}

/** Reservation's read ports: outside any transaction, nothing locked. */
export function reservationReads(session: ReadSession): {
  reservations: ReservationReads;
  abandonedBookings: AbandonedBookingReads;
} {
  const { em } = session;
  const abandoned = abandonedBookingStore.reader(session);
  return {
    reservations: {
      ...reservationStore.reader(session),
      outstandingOf: async (personId, vaccineId) => {
        const [row] = await reservationRows.findAll(em, { personId, vaccineId, status: OUTSTANDING });
        return row && Reservation.restore(toState(row));
      },
      ofPerson: (query) => reservationsOfPerson(em, query),
      ofHospitalDay: (query) => reservationsOfHospitalDay(em, query),
      getAll: async (reservationIds) =>
        (await reservationRows.findAll(em, { reservationId: reservationIds })).map((row) =>
          Reservation.restore(toState(row)),
        ),
    },
    abandonedBookings: { has: async (reservationId) => (await abandoned.get(reservationId)) !== undefined },
  };
}

/** Keyset paging on (date, nulls first; created_at; reservation_id), all descending. */
async function reservationsOfPerson(
  em: EntityManager,
  query: PersonReservationsQuery,
): Promise<ReservationState[]> {
  const where: FilterQuery<ReservationRow> = { personId: query.personId };
  const after = query.after;
  const records = await em.find(ReservationRecord, after ? { $and: [where, following(after)] } : where, {
    orderBy: [
      { appointmentDate: QueryOrder.DESC_NULLS_FIRST },
      { createdAt: QueryOrder.DESC },
      { reservationId: QueryOrder.DESC },
    ],
    limit: query.limit,
  });
  return records.map(toState);
}

/** Keyset paging on (created_at, reservation_id), both ascending, within the hospital's day. */
async function reservationsOfHospitalDay(
  em: EntityManager,
  query: HospitalDayQuery,
): Promise<ReservationState[]> {
  const where: FilterQuery<ReservationRow> = { hospitalId: query.hospitalId, appointmentDate: query.date };
  const after = query.after;
  const records = await em.find(
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

/**
 * Tombstones of abandoned booking attempts. In a unit of work, `get` holds the reservation id as the
 * reservation store's `get` does (the same advisory key), so a tombstone and the reservation it
 * forbids are never both written.
 */
const abandonedBookingStore = aggregateStore({
  entity: AbandonedBookingRecord,
  key: (reservationId: string) => ({ reservationId }),
  lock: "key",
  lockNamespace: "reservation",
  restore: (row) => AbandonedBooking.restore({ ...row, date: row.appointmentDate }),
  record: (abandoned: AbandonedBookingAggregate) => {
    const { date, ...state } = abandoned.state;
    return { ...state, appointmentDate: date };
  },
  encode: encodeReservationEvent,
});
