import { NotFound, requireText, requireUuid } from "../../shared/index.ts";
import { daysFromTo } from "./calendar.ts";
import { type DailyReservations, dailyListing } from "./daily-reservations.ts";
import { type HospitalRates, ratesOf } from "./hospital-rates.ts";
import type { HospitalVaccineStock } from "./hospital-stock.ts";
import { MAX_PERSON_ID_LENGTH } from "./policies.ts";
import type { VaccinationDashboardReads } from "./ports.ts";
import type { PersonReservation } from "./reservation-view.ts";
import { type VaccinationCount, vaccinationCount } from "./vaccination-counts.ts";

/** The status queries, each answered from its own read model; none changes anything. */

/** Vaccinations given in all, and per vaccine with the people who completed it. */
export async function getVaccinationCount(ports: VaccinationDashboardReads): Promise<VaccinationCount> {
  return vaccinationCount(await ports.counters.perVaccine());
}

/** Every hospital seen, with its counts and its vaccination and discard rates. */
export async function listHospitalRates(ports: VaccinationDashboardReads): Promise<HospitalRates[]> {
  return (await ports.tallies.list()).map(ratesOf);
}

/** A person's reservations in their latest state; none for a person the dashboard has not seen. */
export async function getPersonReservations(
  ports: VaccinationDashboardReads,
  query: { personId: string },
): Promise<PersonReservation[]> {
  return ports.reservations.ofPerson(requireText("personId", query.personId, MAX_PERSON_ID_LENGTH));
}

/**
 * A hospital's reservations on every day from `fromDate` to `toDate` (both included, at most 366
 * days apart), zeros on days without any. NotFound when the dashboard has seen neither the
 * hospital nor any reservation at it; a hospital known only through its reservations (its
 * HospitalRegistered not seen yet) shows a capacity of 0.
 */
export async function getDailyReservations(
  ports: VaccinationDashboardReads,
  query: { hospitalId: string; fromDate: string; toDate: string },
): Promise<{ hospitalId: string; days: DailyReservations[] }> {
  const hospitalId = requireUuid("hospitalId", query.hospitalId);
  const days = daysFromTo(
    { field: "fromDate", text: query.fromDate },
    { field: "toDate", text: query.toDate },
  );
  const hospital = await ports.daily.hospital(hospitalId);
  if (!hospital) throw new NotFound("Hospital", hospitalId);
  const first = days[0] ?? query.fromDate;
  const last = days.at(-1) ?? query.toDate;
  const stored = await ports.daily.days(hospitalId, first, last);
  return { hospitalId, days: dailyListing(days, hospital.dailyCapacity, stored) };
}

/** Each hospital's stock of each vaccine; one hospital's when `hospitalId` is given (none when unknown). */
export async function listHospitalStock(
  ports: VaccinationDashboardReads,
  query: { hospitalId: string },
): Promise<HospitalVaccineStock[]> {
  const hospitalId = query.hospitalId === "" ? undefined : requireUuid("hospitalId", query.hospitalId);
  return ports.stocks.list(hospitalId);
}
