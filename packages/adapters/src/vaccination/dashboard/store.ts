import {
  COUNTED_STATUSES,
  countField,
  type DailyCounts,
  type Directory,
  type HospitalStocks,
  type HospitalTallies,
  type ReservationState,
  type ReservationStatus,
  type ReservationViews,
  type StockLevels,
  type VaccinationDashboardPorts,
} from "@hexa/core/vaccination/dashboard";
import { execute } from "../../kit/statements.ts";
import type { EntityManager } from "../../postgres/database.ts";
import { counters } from "./counters.ts";
import { table } from "./schema.ts";

/**
 * The dashboard's relational read models, in plain SQL on the unit of work's (or the read
 * session's) entity manager, each value sent as a parameter: increments, conditional upserts and
 * name joins are set operations SQL states directly. Every change an event makes to a model is one
 * statement, and none reads first: a newer state wins in the statement's own condition, by the
 * rules core states (`latestReservation`, `latestStock`, `dayCountChanges`). Days are read back as
 * "YYYY-MM-DD" text and counts as numbers, whatever the driver's defaults.
 */

/** The read models on one entity manager. */
export function readModels(em: EntityManager): VaccinationDashboardPorts {
  return {
    directory: directory(em),
    counters: counters(em),
    tallies: hospitalTallies(em),
    reservations: reservationViews(em),
    daily: dailyCounts(em),
    stocks: hospitalStocks(em),
  };
}

/** Names of hospitals and vaccines; the last registration seen wins (inventory registers each once). */
function directory(em: EntityManager): Directory {
  return {
    saveHospital: async (hospital) => {
      await execute(
        em,
        `insert into ${table("hospital")} (hospital_id, name, daily_capacity) values ($1, $2, $3)
         on conflict (hospital_id) do update set name = excluded.name, daily_capacity = excluded.daily_capacity`,
        [hospital.hospitalId, hospital.name, hospital.dailyCapacity],
      );
    },
    saveVaccine: async (vaccine) => {
      await execute(
        em,
        `insert into ${table("vaccine")} (vaccine_id, name) values ($1, $2)
         on conflict (vaccine_id) do update set name = excluded.name`,
        [vaccine.vaccineId, vaccine.name],
      );
    },
  };
}

/** Doses available, given and discarded per hospital; each change is one atomic increment. */
function hospitalTallies(em: EntityManager): HospitalTallies {
  return {
    add: async (hospitalId, change) => {
      await execute(
        em,
        `insert into ${table("hospital_tally")} as t (hospital_id, available_doses, vaccinations, discarded_doses)
         values ($1, $2, $3, $4)
         on conflict (hospital_id) do update set
           available_doses = t.available_doses + excluded.available_doses,
           vaccinations = t.vaccinations + excluded.vaccinations,
           discarded_doses = t.discarded_doses + excluded.discarded_doses`,
        [hospitalId, change.availableDoses, change.vaccinations, change.discardedDoses],
      );
    },
    list: async () => {
      const found = await execute<{
        hospital_id: string;
        hospital_name: string | null;
        available_doses: string | number;
        vaccinations: string | number;
        discarded_doses: string | number;
      }>(
        em,
        `select t.hospital_id, h.name as hospital_name, t.available_doses, t.vaccinations, t.discarded_doses
         from ${table("hospital_tally")} t left join ${table("hospital")} h on h.hospital_id = t.hospital_id
         order by h.name collate "C" nulls last, t.hospital_id`,
        [],
      );
      return found.map((row) => ({
        hospitalId: row.hospital_id,
        hospitalName: row.hospital_name ?? undefined,
        availableDoses: Number(row.available_doses),
        vaccinations: Number(row.vaccinations),
        discardedDoses: Number(row.discarded_doses),
      }));
    },
  };
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
  hospital_name: string | null;
}

const COUNT_COLUMNS = COUNTED_STATUSES.map(countField);

/** The statement's share of each counted status in a bucket: the sum of the moves' deltas of that status. */
const BUCKET_SUMS = COUNTED_STATUSES.map(
  (status) => `sum(case when status = '${status}' then delta else 0 end)::int as ${countField(status)}`,
).join(",\n         ");

/**
 * Keeps a reservation's state and moves its day counts, in one statement:
 * - `known`: the stored state, locked FOR UPDATE (so states of one reservation apply one at a time);
 * - `replaced`: the stored row takes the state when it is newer (later `updated_at`, then greater
 *   event id: `latestReservation`); `created`: a reservation not stored yet is inserted, without
 *   ON CONFLICT, so of two events creating it at once the second fails on the primary key and is
 *   handled again (by then it finds the first);
 * - `moves` and `buckets`: when kept, the reservation leaves the bucket (hospital, day, status) of
 *   its known state and enters that of the new one (`dayCountChanges`), netted per bucket;
 * - `counted`: each bucket moved is added to, in key order (so two transactions never wait on each
 *   other crosswise). A CHECK applies to the row an upsert proposes, so the row proposed for a
 *   bucket not there yet holds no decrement (none is possible: a reservation leaves only a bucket
 *   it entered, and buckets stay), and the update adds the bucket's own sums.
 */
const KEEP_RESERVATION = `
  with seen (reservation_id, person_id, hospital_id, vaccine_id, day, status, updated_at, event_id) as (
    values ($1::uuid, $2::varchar, $3::uuid, $4::uuid, $5::date, $6::text, $7::timestamptz, $8::uuid)
  ),
  known as (
    select hospital_id, day, status, updated_at, event_id
    from ${table("reservation")} where reservation_id = $1 for update
  ),
  replaced as (
    update ${table("reservation")} r set
      person_id = s.person_id, hospital_id = s.hospital_id, vaccine_id = s.vaccine_id, day = s.day,
      status = s.status, updated_at = s.updated_at, event_id = s.event_id
    from seen s, known k
    where r.reservation_id = s.reservation_id and (k.updated_at, k.event_id) < (s.updated_at, s.event_id)
    returning r.hospital_id, r.day, r.status
  ),
  created as (
    insert into ${table("reservation")}
      (reservation_id, person_id, hospital_id, vaccine_id, day, status, updated_at, event_id)
    select * from seen where not exists (select from known)
    returning hospital_id, day, status
  ),
  kept as (select * from replaced union all select * from created),
  moves (hospital_id, day, status, delta) as (
    select hospital_id, day, status, -1 from known where exists (select from kept)
    union all select hospital_id, day, status, 1 from kept
  ),
  buckets as (
    select hospital_id, day,
         ${BUCKET_SUMS}
    from moves where day is not null and status = any($9::text[])
    group by hospital_id, day
  ),
  counted as (
    insert into ${table("daily_reservation")} as d (hospital_id, day, ${COUNT_COLUMNS.join(", ")})
    select hospital_id, day, ${COUNT_COLUMNS.map((column) => `greatest(${column}, 0)`).join(", ")}
    from buckets where (${COUNT_COLUMNS.join(", ")}) <> (${COUNT_COLUMNS.map(() => "0").join(", ")})
    order by hospital_id, day
    on conflict (hospital_id, day) do update set
      ${COUNT_COLUMNS.map(
        (column) =>
          `${column} = d.${column} + (select b.${column} from buckets b where (b.hospital_id, b.day) = (excluded.hospital_id, excluded.day))`,
      ).join(",\n      ")}
  )
  select count(*)::int as kept from kept`;

/** The latest state of each reservation (see {@link KEEP_RESERVATION} for how one is kept). */
function reservationViews(em: EntityManager): ReservationViews {
  return {
    keep: async (state: ReservationState) => {
      const [row] = await execute<{ kept: number }>(em, KEEP_RESERVATION, [
        state.reservationId,
        state.personId,
        state.hospitalId,
        state.vaccineId,
        state.date ?? null,
        state.status,
        state.updatedAt,
        state.eventId,
        COUNTED_STATUSES,
      ]);
      return (row?.kept ?? 0) > 0;
    },
    ofPerson: async (personId) => {
      const found = await execute<ReservationRow>(
        em,
        `select r.reservation_id, r.person_id, r.hospital_id, r.vaccine_id,
                to_char(r.day, 'YYYY-MM-DD') as day, r.status, r.updated_at, r.event_id, h.name as hospital_name
         from ${table("reservation")} r left join ${table("hospital")} h on h.hospital_id = r.hospital_id
         where r.person_id = $1
         order by r.updated_at desc, r.reservation_id desc`,
        [personId],
      );
      return found.map((row) => ({
        reservationId: row.reservation_id,
        personId: row.person_id,
        hospitalId: row.hospital_id,
        vaccineId: row.vaccine_id,
        date: row.day ?? undefined,
        status: row.status,
        updatedAt: new Date(row.updated_at),
        eventId: row.event_id,
        hospitalName: row.hospital_name ?? undefined,
      }));
    },
  };
}

type DayRow = { day: string } & Record<(typeof COUNT_COLUMNS)[number], string | number>;

/** Reservations per hospital, day and status; a bucket stays once created, at zero when emptied. */
function dailyCounts(em: EntityManager): DailyCounts {
  return {
    hospital: async (hospitalId) => {
      const [row] = await execute<{ daily_capacity: number | null; counted: boolean }>(
        em,
        `select (select daily_capacity from ${table("hospital")} where hospital_id = $1) as daily_capacity,
                exists (select 1 from ${table("daily_reservation")} where hospital_id = $1) as counted`,
        [hospitalId],
      );
      if (!row || (row.daily_capacity === null && !row.counted)) return undefined;
      return { dailyCapacity: row.daily_capacity ?? 0 };
    },
    days: async (hospitalId, from, to) => {
      const found = await execute<DayRow>(
        em,
        `select to_char(day, 'YYYY-MM-DD') as day, ${COUNT_COLUMNS.join(", ")}
         from ${table("daily_reservation")}
         where hospital_id = $1 and day between $2::date and $3::date
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
    },
  };
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
  hospital_name: string | null;
  vaccine_name: string | null;
}

/**
 * The newest stock per hospital and vaccine, kept in one statement: inserted, or replacing the
 * stored one when newer (later `changed_at`, then greater event id: `latestStock`). The conflict
 * locks the row, so two changes handled at once compare in turn, and two creating it need no retry.
 */
function hospitalStocks(em: EntityManager): HospitalStocks {
  return {
    keep: async (stock: StockLevels) => {
      const kept = await execute(
        em,
        `insert into ${table("hospital_stock")} as known
           (hospital_id, vaccine_id, available, given, discarded, remaining, booked, bookable, changed_at, event_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (hospital_id, vaccine_id) do update set
           available = excluded.available, given = excluded.given, discarded = excluded.discarded,
           remaining = excluded.remaining, booked = excluded.booked, bookable = excluded.bookable,
           changed_at = excluded.changed_at, event_id = excluded.event_id
         where (known.changed_at, known.event_id) < (excluded.changed_at, excluded.event_id)
         returning 1`,
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
      return kept.length > 0;
    },
    list: async (hospitalId) => {
      const found = await execute<StockRow>(
        em,
        `select s.hospital_id, s.vaccine_id, s.available, s.given, s.discarded, s.remaining,
                s.booked, s.bookable, s.changed_at, s.event_id, h.name as hospital_name, v.name as vaccine_name
         from ${table("hospital_stock")} s
           left join ${table("hospital")} h on h.hospital_id = s.hospital_id
           left join ${table("vaccine")} v on v.vaccine_id = s.vaccine_id
         where $1::uuid is null or s.hospital_id = $1
         order by h.name collate "C" nulls last, s.hospital_id, v.name collate "C" nulls last, s.vaccine_id`,
        [hospitalId ?? null],
      );
      return found.map((row) => ({
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
        hospitalName: row.hospital_name ?? undefined,
        vaccineName: row.vaccine_name ?? undefined,
      }));
    },
  };
}
