import {
  AggregateRoot,
  type EventContext,
  FailedPrecondition,
  RETRY_UNTIL_HEARD_MS,
  Unavailable,
} from "../../shared/index.ts";
import type { BookedReservation } from "./booked-reservations.ts";
import type { VaccinationEvent, VaccinationRecorded } from "./events.ts";
import type { HospitalStock, RegisteredHospital, RegisteredVaccine } from "./inventory-replicas.ts";

/**
 * IN_PROGRESS while some, not all, of the required doses are given; COMPLETED once all are. The one
 * list of them (the table's values and the wire form derive from it).
 */
export const VACCINATION_STATUSES = ["IN_PROGRESS", "COMPLETED"] as const;
export type VaccinationStatus = (typeof VACCINATION_STATUSES)[number];

/** One dose given to a person. */
export interface VaccinationRecord {
  readonly recordId: string;
  readonly personId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** The reservation the dose was booked with; undefined for a walk-in. */
  readonly reservationId: string | undefined;
  /** 1 for the first dose. */
  readonly doseNumber: number;
  readonly dosesRequired: number;
  /** The person's status for the vaccine once this dose was given. */
  readonly status: VaccinationStatus;
  readonly vaccinatedAt: Date;
}

export interface PersonVaccinationState {
  readonly personId: string;
  readonly vaccineId: string;
  /** Every dose given so far, in dose order. */
  readonly doses: readonly VaccinationRecord[];
}

/** Where a person stands with one vaccine (what GetPersonStatus shows). */
export interface VaccinationProgress {
  readonly vaccineId: string;
  readonly dosesGiven: number;
  readonly dosesRequired: number;
  readonly status: VaccinationStatus;
  readonly firstDoseAt: Date;
  readonly lastDoseAt: Date;
}

/** What recording one dose needs to know, read from vaccination's own store and replicas. */
export interface DoseGiven {
  readonly recordId: string;
  readonly hospitalId: string;
  readonly reservationId: string | undefined;
  /** The vaccine as inventory registered it, if vaccination has heard of it. */
  readonly vaccine: RegisteredVaccine | undefined;
  /** The hospital as inventory registered it, if vaccination has heard of it. */
  readonly hospital: RegisteredHospital | undefined;
  /** The hospital's stock of the vaccine, if vaccination has heard of it (read for walk-ins). */
  readonly stock: HospitalStock | undefined;
  /** The dose already recorded for the reservation, if any. */
  readonly recordedForReservation: VaccinationRecord | undefined;
  /** Who booked the reservation, if vaccination has heard of it. */
  readonly bookedReservation: BookedReservation | undefined;
}

/**
 * A person's vaccination with one vaccine: the doses given so far. A dose is numbered after the doses
 * before it, and none is given beyond the vaccine's requirement. Its events correlate to the person:
 * their aggregate id is the person id, as the contract says.
 */
export class PersonVaccination extends AggregateRoot<VaccinationEvent> {
  #state: PersonVaccinationState;

  private constructor(state: PersonVaccinationState) {
    super();
    this.#state = state;
  }

  /** A person who has had no dose of the vaccine yet. */
  static start(personId: string, vaccineId: string): PersonVaccination {
    return new PersonVaccination({ personId, vaccineId, doses: [] });
  }

  static restore(state: PersonVaccinationState): PersonVaccination {
    return new PersonVaccination(state);
  }

  get id(): string {
    return this.#state.personId;
  }

  get state(): PersonVaccinationState {
    return this.#state;
  }

  /** Where the person stands, once a dose was given. */
  get progress(): VaccinationProgress | undefined {
    const first = this.#state.doses[0];
    const last = this.#state.doses.at(-1);
    if (!first || !last) return undefined;
    return {
      vaccineId: this.#state.vaccineId,
      dosesGiven: this.#state.doses.length,
      dosesRequired: last.dosesRequired,
      status: last.status,
      firstDoseAt: first.vaccinatedAt,
      lastDoseAt: last.vaccinatedAt,
    };
  }

  /**
   * Records one dose given at a hospital and records VaccinationRecorded. Rules, in order:
   * - `reservation-must-be-the-persons`: a dose recorded with a reservation is given to the person
   *   who booked it.
   * - `reservation-must-be-recorded-once`: a reservation's dose is recorded once. The same dose
   *   recorded again (same person, hospital and vaccine) answers the first record and records
   *   nothing, so a caller may retry; the reservation with another person, hospital or vaccine is
   *   refused.
   * - `reservation-must-be-known`: vaccination knows who booked a reservation from
   *   ReservationRegistered, so a reservation it has not heard of may have just been booked, and
   *   cannot be checked yet: that refusal is Unavailable, to retry after RETRY_UNTIL_HEARD_MS.
   * - `vaccine-must-be-registered` and `hospital-must-be-registered`: inventory registered them.
   *   Vaccination learns of them from VaccineRegistered and HospitalRegistered, so one it has not
   *   heard of may have just been registered: that refusal is Unavailable, to retry after
   *   RETRY_UNTIL_HEARD_MS.
   * - `doses-must-not-exceed-requirement`: no dose beyond the vaccine's required doses.
   * - `hospital-must-have-a-bookable-dose`: a walk-in (no reservation) takes a dose nobody booked, so
   *   the hospital must have one bookable, as far as vaccination's replica knows. A dose with a
   *   reservation was booked, so it is always accepted. A stock not heard of yet (doses just
   *   supplied) is, like an unknown vaccine or hospital, Unavailable, to retry.
   */
  recordDose(dose: DoseGiven, context: EventContext): VaccinationRecord {
    const { personId, vaccineId, doses } = this.#state;
    const booked = dose.bookedReservation;
    if (booked && booked.personId !== personId) {
      throw new FailedPrecondition(
        "reservation-must-be-the-persons",
        `reservation ${booked.reservationId} was booked by another person than ${personId}`,
      );
    }
    const earlier = dose.recordedForReservation;
    if (earlier) {
      const sameDose =
        earlier.personId === personId &&
        earlier.vaccineId === vaccineId &&
        earlier.hospitalId === dose.hospitalId;
      if (sameDose) return earlier;
      throw new FailedPrecondition(
        "reservation-must-be-recorded-once",
        `the dose of reservation ${earlier.reservationId} was already recorded (record ${earlier.recordId})`,
      );
    }
    if (dose.reservationId && !booked) {
      throw notHeardOf(`reservation ${dose.reservationId}`, "reservation-must-be-known");
    }
    const vaccine = dose.vaccine;
    if (!vaccine) throw notHeardOf(`vaccine ${vaccineId}`, "vaccine-must-be-registered");
    if (!dose.hospital) throw notHeardOf(`hospital ${dose.hospitalId}`, "hospital-must-be-registered");
    if (doses.length >= vaccine.dosesRequired) {
      throw new FailedPrecondition(
        "doses-must-not-exceed-requirement",
        `person ${personId} has had all ${vaccine.dosesRequired} required doses of vaccine ${vaccineId}`,
      );
    }
    if (!dose.reservationId && !dose.stock) {
      throw notHeardOf(
        `any stock of vaccine ${vaccineId} at hospital ${dose.hospitalId}`,
        "hospital-must-have-a-bookable-dose",
      );
    }
    if (!dose.reservationId && (dose.stock?.bookable ?? 0) < 1) {
      throw new FailedPrecondition(
        "hospital-must-have-a-bookable-dose",
        `hospital ${dose.hospitalId} has no bookable dose of vaccine ${vaccineId} for a walk-in`,
      );
    }
    const doseNumber = doses.length + 1;
    const record: VaccinationRecord = {
      recordId: dose.recordId,
      personId,
      hospitalId: dose.hospitalId,
      vaccineId,
      reservationId: dose.reservationId,
      doseNumber,
      dosesRequired: vaccine.dosesRequired,
      status: doseNumber >= vaccine.dosesRequired ? "COMPLETED" : "IN_PROGRESS",
      vaccinatedAt: context.clock.now(),
    };
    this.#state = { ...this.#state, doses: [...doses, record] };
    this.record<VaccinationRecorded>("vaccination.vaccination.v1.VaccinationRecorded", record, context);
    return record;
  }
}

/** What inventory or reservation registered (or inventory supplied) has not reached vaccination (yet). */
function notHeardOf(what: string, rule: string): Unavailable {
  return new Unavailable(
    `vaccination has not heard of ${what} yet; what was just registered reaches it within moments, so retry`,
    { rule, afterMs: RETRY_UNTIL_HEARD_MS },
  );
}
