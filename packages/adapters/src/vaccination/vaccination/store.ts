import {
  PersonVaccination,
  type PersonVaccinations,
  VACCINATION_STATUSES,
  type VaccinationRecord,
} from "@hexa/core/vaccination/vaccination";
import { defineEntity, type EntityName, type InferEntity, p } from "@mikro-orm/core";
import { aggregateStore, type WriteLock } from "../../kit/aggregate-store.ts";
import { EntityTable } from "../../kit/statements.ts";
import type { UnitOfWork } from "../../kit/unit-of-work.ts";
import type { EntityManager, SchemaMigration } from "../../postgres/database.ts";
import { lockKey } from "../../postgres/locks.ts";
import { encodeVaccinationEvent } from "./events.ts";

export const VaccinationRecordRow = defineEntity({
  name: "VaccinationRecordRow",
  tableName: "vaccination_record",
  properties: {
    recordId: p.uuid().primary(),
    personId: p.string(),
    hospitalId: p.uuid(),
    vaccineId: p.uuid(),
    reservationId: p.uuid().nullable(),
    doseNumber: p.integer(),
    dosesRequired: p.integer(),
    status: p.enum(VACCINATION_STATUSES),
    vaccinatedAt: p.datetime(),
  },
});

export const RegisteredVaccineRow = defineEntity({
  name: "RegisteredVaccineRow",
  tableName: "registered_vaccine",
  properties: {
    vaccineId: p.uuid().primary(),
    name: p.text(),
    dosesRequired: p.integer(),
    registeredAt: p.datetime(),
  },
});

export const RegisteredHospitalRow = defineEntity({
  name: "RegisteredHospitalRow",
  tableName: "registered_hospital",
  properties: {
    hospitalId: p.uuid().primary(),
    name: p.text(),
    registeredAt: p.datetime(),
  },
});

export const BookedReservationRow = defineEntity({
  name: "BookedReservationRow",
  tableName: "booked_reservation",
  properties: {
    reservationId: p.uuid().primary(),
    personId: p.string(),
  },
});

export const HospitalStockRow = defineEntity({
  name: "HospitalStockRow",
  tableName: "hospital_stock",
  properties: {
    hospitalId: p.uuid().primary(),
    vaccineId: p.uuid().primary(),
    bookable: p.integer(),
    changedAt: p.datetime(),
    eventId: p.uuid(),
  },
});

/**
 * One row per dose given. The constraints back the aggregate's rules: dose numbers of a person and
 * vaccine are unique and never beyond the requirement, the status follows from the dose number, and
 * a reservation's dose is recorded once.
 */
export const vaccinationMigrations: SchemaMigration[] = [
  {
    name: "0001_vaccination_records_and_inventory_replicas",
    sql: [
      `create table vaccination_record (
        record_id uuid primary key,
        person_id varchar(64) not null,
        hospital_id uuid not null,
        vaccine_id uuid not null,
        reservation_id uuid null,
        dose_number integer not null,
        doses_required integer not null,
        status text not null,
        vaccinated_at timestamptz not null,
        constraint vaccination_record_dose_in_range check (dose_number between 1 and doses_required),
        constraint vaccination_record_status check (
          status = case when dose_number = doses_required then 'COMPLETED' else 'IN_PROGRESS' end
        ),
        constraint vaccination_record_one_per_dose unique (person_id, vaccine_id, dose_number)
      )`,
      `create unique index vaccination_record_one_per_reservation on vaccination_record (reservation_id)
        where reservation_id is not null`,
      `create table registered_vaccine (
        vaccine_id uuid primary key,
        name text not null,
        doses_required integer not null check (doses_required >= 1),
        registered_at timestamptz not null
      )`,
      `create table registered_hospital (
        hospital_id uuid primary key,
        name text not null,
        registered_at timestamptz not null
      )`,
      `create table hospital_stock (
        hospital_id uuid not null,
        vaccine_id uuid not null,
        bookable integer not null,
        changed_at timestamptz not null,
        event_id uuid not null,
        primary key (hospital_id, vaccine_id)
      )`,
    ],
  },
  {
    name: "0002_booked_reservations",
    sql: [
      `create table booked_reservation (
        reservation_id uuid primary key,
        person_id varchar(64) not null
      )`,
    ],
  },
];

type DoseRow = InferEntity<typeof VaccinationRecordRow>;

const doseRows = new EntityTable(VaccinationRecordRow);

/**
 * People's doses in a unit of work. `get` locks the person and vaccine, and `recordOfReservation`
 * the reservation, until commit, whether or not a row exists yet (a person's first dose has none).
 * `save` inserts the doses recorded since `get` and hands their events to the unit of work.
 */
export function personVaccinations(unit: UnitOfWork): PersonVaccinations {
  /** Doses stored per person and vaccine, as `get` found them. */
  const stored = new WeakMap<PersonVaccination, number>();
  return {
    get: async (personId, vaccineId) => {
      // The vaccine id is a UUID of fixed length, so the key names one person and vaccine.
      await lockKey(unit.em, "person_vaccination", `${vaccineId}:${personId}`);
      const rows = await doseRows.findAll(unit.em, { personId, vaccineId }, { orderBy: ["doseNumber"] });
      if (rows.length === 0) return undefined;
      const vaccination = PersonVaccination.restore({ personId, vaccineId, doses: rows.map(doseOf) });
      stored.set(vaccination, rows.length);
      return vaccination;
    },
    save: async (vaccination) => {
      const added = vaccination.state.doses.slice(stored.get(vaccination) ?? 0);
      await doseRows.upsert(
        unit.em,
        added.map((dose) => ({ ...dose, reservationId: dose.reservationId ?? null })),
        true,
      );
      stored.set(vaccination, vaccination.state.doses.length);
      unit.saved(vaccination.pullEvents().map(encodeVaccinationEvent));
    },
    recordOfReservation: async (reservationId) => {
      await lockKey(unit.em, "vaccination_reservation", reservationId);
      const row = await doseRows.find(unit.em, { reservationId }, "");
      return row ? doseOf(row) : undefined;
    },
    ofPerson: (personId) => vaccinationsOfPerson(unit.em, personId),
  };
}

/** Every vaccine a person received at least one dose of (a query; it locks nothing). */
export async function vaccinationsOfPerson(
  em: EntityManager,
  personId: string,
): Promise<PersonVaccination[]> {
  const rows = await doseRows.findAll(em, { personId }, { orderBy: ["vaccineId", "doseNumber"] });
  const byVaccine = new Map<string, VaccinationRecord[]>();
  for (const row of rows) {
    const doses = byVaccine.get(row.vaccineId) ?? [];
    doses.push(doseOf(row));
    byVaccine.set(row.vaccineId, doses);
  }
  return [...byVaccine].map(([vaccineId, doses]) =>
    PersonVaccination.restore({ personId, vaccineId, doses }),
  );
}

function doseOf(row: DoseRow): VaccinationRecord {
  return { ...row, reservationId: row.reservationId ?? undefined };
}

/**
 * A replica of what another context owns, kept as its row: the policies write it (what core
 * decides to keep), and a dose only reads it, shared.
 */
function replicaStore<Row extends object, Key>(
  entity: EntityName<Row>,
  key: (key: Key) => Partial<Row>,
  lock: WriteLock,
) {
  return aggregateStore({
    entity,
    key,
    lock,
    restore: (row: Row) => ({ ...row }),
    record: (replica: Row) => ({ ...replica }),
  });
}

/** Vaccination's replicas of inventory's vaccines and hospitals, and of who booked each reservation: the last event wins. */
export const registeredVaccineStore = replicaStore(
  RegisteredVaccineRow,
  (vaccineId: string) => ({ vaccineId }),
  "row",
);
export const registeredHospitalStore = replicaStore(
  RegisteredHospitalRow,
  (hospitalId: string) => ({ hospitalId }),
  "row",
);
export const bookedReservationStore = replicaStore(
  BookedReservationRow,
  (reservationId: string) => ({ reservationId }),
  "row",
);

/** A hospital's stock of a vaccine is kept per hospital and vaccine. */
export interface StockKey {
  readonly hospitalId: string;
  readonly vaccineId: string;
}

/**
 * Vaccination's replica of hospitals' bookable doses. In a policy's unit of work, `get` locks the row;
 * of two StockChanged creating it at once, the second fails on the primary key and is handled again
 * (by then it compares with the first).
 */
export const hospitalStockStore = replicaStore(
  HospitalStockRow,
  ({ hospitalId, vaccineId }: StockKey) => ({ hospitalId, vaccineId }),
  "row-or-insert",
);
