import { InvalidArgument, requireIntegerInRange, requireText, requireUuid } from "../../shared/index.ts";
import { requireDay } from "./calendar.ts";
import { NO_CHANGE } from "./hospital-rates.ts";
import type { StockLevels } from "./hospital-stock.ts";
import type { VaccinationDashboardPorts } from "./ports.ts";
import { RESERVATION_STATUSES, type ReservationState } from "./reservation-view.ts";
import { tallyOfDose, type VaccinationStatus } from "./vaccination-counts.ts";

/**
 * The dashboard's policies: each reacts to one event another context published and updates the
 * read models it feeds. An event that does not hold together (an id missing, a count out of range)
 * is refused before anything is written: InvalidArgument naming the field.
 */

const INT32_MAX = 2_147_483_647;
/** Longest person id reservation accepts. */
export const MAX_PERSON_ID_LENGTH = 64;
/** Longest hospital or vaccine name inventory accepts. */
export const MAX_NAME_LENGTH = 200;

/** Policy: inventory registered a hospital, so its name and daily capacity are known. */
export async function whenHospitalRegistered(
  ports: VaccinationDashboardPorts,
  seen: { hospitalId: string; name: string; dailyCapacity: number },
): Promise<void> {
  const hospital = {
    hospitalId: requireUuid("hospitalId", seen.hospitalId),
    name: requireText("name", seen.name, MAX_NAME_LENGTH),
    dailyCapacity: requireIntegerInRange("dailyCapacity", seen.dailyCapacity, 0, INT32_MAX),
  };
  await ports.directory.saveHospital(hospital);
  // A hospital with nothing supplied yet is listed with its rates at 0.
  await ports.tallies.add(hospital.hospitalId, NO_CHANGE);
}

/** Policy: inventory registered a vaccine, so its name is known. */
export async function whenVaccineRegistered(
  ports: VaccinationDashboardPorts,
  seen: { vaccineId: string; name: string },
): Promise<void> {
  await ports.directory.saveVaccine({
    vaccineId: requireUuid("vaccineId", seen.vaccineId),
    name: requireText("name", seen.name, MAX_NAME_LENGTH),
  });
}

/** Policy: the vaccine manager made doses of a supply available, so the hospital has more available doses. */
export async function whenAvailableDosesRegistered(
  ports: VaccinationDashboardPorts,
  seen: { hospitalId: string; doses: number },
): Promise<void> {
  const hospitalId = requireUuid("hospitalId", seen.hospitalId);
  const doses = requireIntegerInRange("doses", seen.doses, 1, INT32_MAX);
  await ports.tallies.add(hospitalId, { ...NO_CHANGE, availableDoses: doses });
}

/** Policy: the vaccine manager discarded doses at a hospital. */
export async function whenDosesDiscarded(
  ports: VaccinationDashboardPorts,
  seen: { hospitalId: string; doses: number },
): Promise<void> {
  const hospitalId = requireUuid("hospitalId", seen.hospitalId);
  const doses = requireIntegerInRange("doses", seen.doses, 1, INT32_MAX);
  await ports.tallies.add(hospitalId, { ...NO_CHANGE, discardedDoses: doses });
}

/** Policy: a hospital gave a dose; it counts for the vaccine and for the hospital. */
export async function whenVaccinationRecorded(
  ports: VaccinationDashboardPorts,
  seen: { hospitalId: string; vaccineId: string; status: VaccinationStatus },
): Promise<void> {
  const hospitalId = requireUuid("hospitalId", seen.hospitalId);
  const vaccineId = requireUuid("vaccineId", seen.vaccineId);
  await ports.counters.add(vaccineId, tallyOfDose(seen));
  await ports.tallies.add(hospitalId, { ...NO_CHANGE, vaccinations: 1 });
}

/**
 * Policy: reservation published a reservation's state (any of its events). The newest state is
 * kept and the day counts follow it; an older state changes nothing. Returns whether it applied.
 */
export async function whenReservationChanged(
  ports: VaccinationDashboardPorts,
  seen: ReservationState,
): Promise<boolean> {
  return ports.reservations.keep(checkedReservation(seen));
}

/** Policy: inventory published a hospital's stock of a vaccine; the newest one is kept. Returns whether it applied. */
export async function whenStockChanged(
  ports: VaccinationDashboardPorts,
  seen: StockLevels,
): Promise<boolean> {
  const stock = {
    ...seen,
    hospitalId: requireUuid("hospitalId", seen.hospitalId),
    vaccineId: requireUuid("vaccineId", seen.vaccineId),
  };
  requireTime("changedAt", stock.changedAt);
  return ports.stocks.keep(stock);
}

function checkedReservation(seen: ReservationState): ReservationState {
  if (!RESERVATION_STATUSES.includes(seen.status)) {
    throw new InvalidArgument("reservation.status", `${String(seen.status)} is not a reservation status`);
  }
  requireTime("reservation.updatedAt", seen.updatedAt);
  return {
    ...seen,
    reservationId: requireUuid("reservation.reservationId", seen.reservationId),
    personId: requireText("reservation.personId", seen.personId, MAX_PERSON_ID_LENGTH),
    hospitalId: requireUuid("reservation.hospitalId", seen.hospitalId),
    vaccineId: requireUuid("reservation.vaccineId", seen.vaccineId),
    date: seen.date === undefined ? undefined : requireDay("reservation.date", seen.date),
  };
}

function requireTime(field: string, time: Date): void {
  if (Number.isNaN(time.getTime())) throw new InvalidArgument(field, "is required");
}
