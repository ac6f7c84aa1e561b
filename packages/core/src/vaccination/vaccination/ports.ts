import type { BookedReservation } from "./booked-reservations.ts";
import type { HospitalStock, RegisteredHospital, RegisteredVaccine } from "./inventory-replicas.ts";
import type { PersonVaccination, VaccinationRecord } from "./person-vaccination.ts";

/**
 * Where people's vaccinations are kept. `save` also hands the recorded events to the outbox. In a
 * unit of work, `get` holds the person and vaccine until commit (even before a first dose exists) and
 * `recordOfReservation` holds the reservation, so concurrent records of one person and vaccine, or of
 * one reservation, take turns.
 */
export interface PersonVaccinations extends PersonVaccinationReads {
  /** The person's doses of the vaccine; undefined before the first. */
  get(personId: string, vaccineId: string): Promise<PersonVaccination | undefined>;
  save(vaccination: PersonVaccination): Promise<void>;
  /** The dose recorded with the reservation, if any. */
  recordOfReservation(reservationId: string): Promise<VaccinationRecord | undefined>;
}

/** People's vaccinations as queries read them: outside a unit of work, nothing locked. */
export interface PersonVaccinationReads {
  /** Every vaccine the person received at least one dose of. */
  ofPerson(personId: string): Promise<PersonVaccination[]>;
}

/** Vaccination's replica of who booked each reservation; a reservation's person never changes. */
export interface BookedReservations {
  get(reservationId: string): Promise<BookedReservation | undefined>;
  save(reservation: BookedReservation): Promise<void>;
}

/** Vaccination's replica of the vaccines inventory registered. */
export interface RegisteredVaccines {
  get(vaccineId: string): Promise<RegisteredVaccine | undefined>;
  save(vaccine: RegisteredVaccine): Promise<void>;
}

/** Vaccination's replica of the hospitals inventory registered. */
export interface RegisteredHospitals {
  get(hospitalId: string): Promise<RegisteredHospital | undefined>;
  save(hospital: RegisteredHospital): Promise<void>;
}

/**
 * Vaccination's replica of each hospital's bookable doses of each vaccine. In a policy's unit of
 * work, `get` holds the hospital and vaccine until commit, even before a row exists.
 */
export interface HospitalStocks {
  get(hospitalId: string, vaccineId: string): Promise<HospitalStock | undefined>;
  save(stock: HospitalStock): Promise<void>;
}
