import {
  type BookedReservation,
  type BookedReservations,
  type HospitalStock,
  type HospitalStocks,
  PersonVaccination,
  type PersonVaccinations,
  type RegisteredHospital,
  type RegisteredHospitals,
  type RegisteredVaccine,
  type RegisteredVaccines,
  type VaccinationRecord,
} from "@hexa/core/vaccination/vaccination";
import { defineEntity, type EntityDTO, type InferEntity, LockMode, p } from "@mikro-orm/core";
import type { EntityManager, SchemaMigration, ServiceDatabase } from "../../postgres/database.ts";
import { lockedRow, lockKey } from "../../postgres/locks.ts";
import { appendToOutbox } from "../../postgres/outbox.ts";
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
    status: p.enum(["IN_PROGRESS", "COMPLETED"] as const),
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

/**
 * People's doses in vaccination's schema. In a unit of work, `get` locks the person and vaccine and
 * `recordOfReservation` the reservation until commit, whether or not a row exists yet.
 */
export class PersonVaccinationStore implements PersonVaccinations {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: { lock: boolean }) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(personId: string, vaccineId: string): Promise<PersonVaccination | undefined> {
    // The vaccine id is a UUID of fixed length, so the key names one person and vaccine.
    if (this.#lock) await lockKey(this.#em, "person_vaccination", `${vaccineId}:${personId}`);
    const rows = await this.#em.find(
      VaccinationRecordRow,
      { personId, vaccineId },
      { orderBy: { doseNumber: "asc" } },
    );
    return rows.length > 0
      ? PersonVaccination.restore({ personId, vaccineId, doses: rows.map(record) })
      : undefined;
  }

  async save(vaccination: PersonVaccination): Promise<void> {
    for (const dose of vaccination.state.doses) {
      await this.#em.upsert(VaccinationRecordRow, { ...dose, reservationId: dose.reservationId ?? null });
    }
    appendToOutbox(this.#em, this.#db, vaccination.pullEvents().map(encodeVaccinationEvent));
  }

  async recordOfReservation(reservationId: string): Promise<VaccinationRecord | undefined> {
    if (this.#lock) await lockKey(this.#em, "vaccination_reservation", reservationId);
    const row = await this.#em.findOne(VaccinationRecordRow, { reservationId });
    return row ? record(row) : undefined;
  }

  async ofPerson(personId: string): Promise<PersonVaccination[]> {
    const rows = await this.#em.find(
      VaccinationRecordRow,
      { personId },
      { orderBy: [{ vaccineId: "asc" }, { doseNumber: "asc" }] },
    );
    const byVaccine = new Map<string, VaccinationRecord[]>();
    for (const row of rows) {
      const doses = byVaccine.get(row.vaccineId) ?? [];
      doses.push(record(row));
      byVaccine.set(row.vaccineId, doses);
    }
    return [...byVaccine].map(([vaccineId, doses]) =>
      PersonVaccination.restore({ personId, vaccineId, doses }),
    );
  }
}

type Row<Entity> = EntityDTO<InferEntity<Entity>> | InferEntity<Entity>;

function record(row: Row<typeof VaccinationRecordRow>): VaccinationRecord {
  return {
    recordId: row.recordId,
    personId: row.personId,
    hospitalId: row.hospitalId,
    vaccineId: row.vaccineId,
    reservationId: row.reservationId ?? undefined,
    doseNumber: row.doseNumber,
    dosesRequired: row.dosesRequired,
    status: row.status,
    vaccinatedAt: row.vaccinatedAt,
  };
}

/** Vaccination's replica of inventory's vaccines. */
export class RegisteredVaccineStore implements RegisteredVaccines {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  async get(vaccineId: string): Promise<RegisteredVaccine | undefined> {
    const row = await this.#em.findOne(RegisteredVaccineRow, { vaccineId });
    return row
      ? {
          vaccineId: row.vaccineId,
          name: row.name,
          dosesRequired: row.dosesRequired,
          registeredAt: row.registeredAt,
        }
      : undefined;
  }

  async save(vaccine: RegisteredVaccine): Promise<void> {
    await this.#em.upsert(RegisteredVaccineRow, { ...vaccine });
  }
}

/** Vaccination's replica of inventory's hospitals. */
export class RegisteredHospitalStore implements RegisteredHospitals {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  async get(hospitalId: string): Promise<RegisteredHospital | undefined> {
    const row = await this.#em.findOne(RegisteredHospitalRow, { hospitalId });
    return row ? { hospitalId: row.hospitalId, name: row.name, registeredAt: row.registeredAt } : undefined;
  }

  async save(hospital: RegisteredHospital): Promise<void> {
    await this.#em.upsert(RegisteredHospitalRow, { ...hospital });
  }
}

/** Vaccination's replica of who booked each reservation (a reservation's person never changes). */
export class BookedReservationStore implements BookedReservations {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  async get(reservationId: string): Promise<BookedReservation | undefined> {
    const row = await this.#em.findOne(BookedReservationRow, { reservationId });
    return row ? { reservationId: row.reservationId, personId: row.personId } : undefined;
  }

  async save(reservation: BookedReservation): Promise<void> {
    await this.#em.upsert(BookedReservationRow, { ...reservation });
  }
}

/**
 * Vaccination's replica of hospitals' bookable doses. With `lock`, `get` locks the hospital and
 * vaccine until commit, even before a row exists, so StockChanged events handled at once take turns.
 */
export class HospitalStockStore implements HospitalStocks {
  readonly #em: EntityManager;
  readonly #lock: boolean;

  constructor(em: EntityManager, options: { lock: boolean }) {
    this.#em = em;
    this.#lock = options.lock;
  }

  async get(hospitalId: string, vaccineId: string): Promise<HospitalStock | undefined> {
    const lock = this.#lock ? { namespace: "hospital_stock", key: `${hospitalId}:${vaccineId}` } : undefined;
    const row = await lockedRow(this.#em, lock, () =>
      this.#em.findOne(
        HospitalStockRow,
        { hospitalId, vaccineId },
        lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
      ),
    );
    return row
      ? {
          hospitalId: row.hospitalId,
          vaccineId: row.vaccineId,
          bookable: row.bookable,
          changedAt: row.changedAt,
          eventId: row.eventId,
        }
      : undefined;
  }

  async save(stock: HospitalStock): Promise<void> {
    await this.#em.upsert(HospitalStockRow, { ...stock });
  }
}
