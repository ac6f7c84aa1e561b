import { type EventContext, requireIntegerInRange, requireText, requireUuid } from "../../shared/index.ts";
import type { BookedReservation } from "./booked-reservations.ts";
import {
  type HospitalStock,
  type RegisteredHospital,
  type RegisteredVaccine,
  stockChanged,
} from "./inventory-replicas.ts";
import { PersonVaccination, type VaccinationProgress, type VaccinationRecord } from "./person-vaccination.ts";
import type {
  BookedReservations,
  HospitalStocks,
  PersonVaccinationReads,
  PersonVaccinations,
  RegisteredHospitals,
  RegisteredVaccines,
} from "./ports.ts";

export interface VaccinationPorts extends EventContext {
  readonly vaccinations: PersonVaccinations;
  readonly reservations: BookedReservations;
  readonly vaccines: RegisteredVaccines;
  readonly hospitals: RegisteredHospitals;
  readonly stocks: HospitalStocks;
}

/**
 * What recording a dose works on: the person's vaccinations, and the replicas it only reads (the
 * adapter holds them FOR SHARE, so doses of one vaccine or hospital are recorded in parallel).
 */
export interface RecordingPorts extends EventContext {
  readonly vaccinations: PersonVaccinations;
  readonly reservations: Pick<BookedReservations, "get">;
  readonly vaccines: Pick<RegisteredVaccines, "get">;
  readonly hospitals: Pick<RegisteredHospitals, "get">;
  readonly stocks: Pick<HospitalStocks, "get">;
}

export const MAX_PERSON_ID_LENGTH = 64;
/** The most doses a vaccine may require for vaccination to take its registration. */
export const MAX_DOSES_REQUIRED = 100;

export interface RecordVaccination {
  readonly personId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** The reservation the person came with; empty or undefined for a walk-in. */
  readonly reservationId?: string | undefined;
}

/**
 * A hospital gave a person a dose. Answers from vaccination's own store and replicas alone, so it
 * works while reservation and inventory are down; they learn of the dose from VaccinationRecorded.
 */
export async function recordVaccination(
  ports: RecordingPorts,
  command: RecordVaccination,
): Promise<VaccinationRecord> {
  const personId = requireText("personId", command.personId, MAX_PERSON_ID_LENGTH);
  const hospitalId = requireUuid("hospitalId", command.hospitalId);
  const vaccineId = requireUuid("vaccineId", command.vaccineId);
  const reservationId = command.reservationId
    ? requireUuid("reservationId", command.reservationId)
    : undefined;
  const vaccination =
    (await ports.vaccinations.get(personId, vaccineId)) ?? PersonVaccination.start(personId, vaccineId);
  const record = vaccination.recordDose(
    {
      recordId: ports.ids.next(),
      hospitalId,
      reservationId,
      vaccine: await ports.vaccines.get(vaccineId),
      hospital: await ports.hospitals.get(hospitalId),
      stock: reservationId ? undefined : await ports.stocks.get(hospitalId, vaccineId),
      recordedForReservation: reservationId
        ? await ports.vaccinations.recordOfReservation(reservationId)
        : undefined,
      bookedReservation: reservationId ? await ports.reservations.get(reservationId) : undefined,
    },
    ports,
  );
  await ports.vaccinations.save(vaccination);
  return record;
}

export interface PersonStatus {
  readonly personId: string;
  /** One entry per vaccine the person received, in the order of their first doses. */
  readonly vaccinations: VaccinationProgress[];
}

/** A person's status for every vaccine they received; none for a person never vaccinated. */
export async function getPersonStatus(
  ports: { readonly vaccinations: PersonVaccinationReads },
  query: { personId: string },
): Promise<PersonStatus> {
  const personId = requireText("personId", query.personId, MAX_PERSON_ID_LENGTH);
  const vaccinations = (await ports.vaccinations.ofPerson(personId))
    .flatMap((vaccination) => (vaccination.progress ? [vaccination.progress] : []))
    .sort(
      (a, b) => a.firstDoseAt.getTime() - b.firstDoseAt.getTime() || (a.vaccineId < b.vaccineId ? -1 : 1),
    );
  return { personId, vaccinations };
}

/** Policy: inventory registered a vaccine, so vaccination records its doses. */
export async function whenVaccineRegistered(
  ports: Pick<VaccinationPorts, "vaccines">,
  registered: RegisteredVaccine,
): Promise<RegisteredVaccine> {
  const vaccine: RegisteredVaccine = {
    vaccineId: requireUuid("vaccineId", registered.vaccineId),
    name: registered.name,
    dosesRequired: requireIntegerInRange("dosesRequired", registered.dosesRequired, 1, MAX_DOSES_REQUIRED),
    registeredAt: registered.registeredAt,
  };
  await ports.vaccines.save(vaccine);
  return vaccine;
}

/** Policy: inventory registered a hospital, so vaccination records doses given there. */
export async function whenHospitalRegistered(
  ports: Pick<VaccinationPorts, "hospitals">,
  registered: RegisteredHospital,
): Promise<RegisteredHospital> {
  const hospital: RegisteredHospital = {
    hospitalId: requireUuid("hospitalId", registered.hospitalId),
    name: registered.name,
    registeredAt: registered.registeredAt,
  };
  await ports.hospitals.save(hospital);
  return hospital;
}

/** Policy: reservation registered a booking, so vaccination knows whose reservation it is. */
export async function whenReservationRegistered(
  ports: Pick<VaccinationPorts, "reservations">,
  registered: BookedReservation,
): Promise<BookedReservation> {
  const reservation: BookedReservation = {
    reservationId: requireUuid("reservationId", registered.reservationId),
    personId: requireText("personId", registered.personId, MAX_PERSON_ID_LENGTH),
  };
  await ports.reservations.save(reservation);
  return reservation;
}

/** Policy: a hospital's stock changed at inventory; the replica keeps the newest counts. */
export async function whenStockChanged(
  ports: Pick<VaccinationPorts, "stocks">,
  change: HospitalStock,
): Promise<HospitalStock> {
  const hospitalId = requireUuid("hospitalId", change.hospitalId);
  const vaccineId = requireUuid("vaccineId", change.vaccineId);
  const known = await ports.stocks.get(hospitalId, vaccineId);
  const kept = stockChanged(known, { ...change, hospitalId, vaccineId });
  if (kept !== known) await ports.stocks.save(kept);
  return kept;
}
