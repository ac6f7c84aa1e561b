import type { DayCountChange, DayCounts } from "./daily-reservations.ts";
import type { HospitalTally, TallyChange } from "./hospital-rates.ts";
import type { HospitalVaccineStock, StockLevels } from "./hospital-stock.ts";
import type { PersonReservation, ReservationState } from "./reservation-view.ts";
import type { VaccinationTally, VaccineCount } from "./vaccination-counts.ts";

/**
 * The dashboard's read models. Each status query reads its own model; hospital and vaccine names
 * come from one directory shared by all of them, so a name that arrives after the counts shows
 * everywhere at once.
 */

/** Names of hospitals and vaccines, and each hospital's daily capacity. */
export interface Directory {
  saveHospital(hospital: { hospitalId: string; name: string; dailyCapacity: number }): Promise<void>;
  saveVaccine(vaccine: { vaccineId: string; name: string }): Promise<void>;
}

/** Vaccinations and people completed, per vaccine. */
export interface VaccinationCounters {
  /** Adds a dose's tally to its vaccine's counts. */
  add(vaccineId: string, tally: VaccinationTally): Promise<void>;
  /** Every vaccine with a dose counted, with its name when known. */
  perVaccine(): Promise<VaccineCount[]>;
}

/** Available, given and discarded doses per hospital. */
export interface HospitalTallies {
  /** Adds to the hospital's counts; a hospital first seen starts from zeros (a change of zeros just opens it). */
  add(hospitalId: string, change: TallyChange): Promise<void>;
  /** Every hospital seen, with its name when known. */
  list(): Promise<HospitalTally[]>;
}

/** The latest state of each reservation. */
export interface ReservationViews {
  /** In a policy's unit of work, holds the reservation id until commit, so states of one reservation apply one at a time. */
  get(reservationId: string): Promise<ReservationState | undefined>;
  save(state: ReservationState): Promise<void>;
  /** A person's reservations, with hospital names when known, most recently updated first. */
  ofPerson(personId: string): Promise<PersonReservation[]>;
}

/** Reservations per hospital, day and status. */
export interface DailyCounts {
  apply(changes: readonly DayCountChange[]): Promise<void>;
  /**
   * What the dashboard knows of a hospital: its daily capacity (0 until HospitalRegistered is
   * seen), or undefined when it has seen neither the hospital nor any reservation at it.
   */
  hospital(hospitalId: string): Promise<{ dailyCapacity: number } | undefined>;
  /** The days from `from` to `to` (both included) that have counts, in order. */
  days(hospitalId: string, from: string, to: string): Promise<DayCounts[]>;
}

/** The newest stock of each vaccine at each hospital. */
export interface HospitalStocks {
  /** In a policy's unit of work, holds the hospital and vaccine until commit. */
  get(hospitalId: string, vaccineId: string): Promise<StockLevels | undefined>;
  save(stock: StockLevels): Promise<void>;
  /** Every stock (of one hospital, when given), with names when known. */
  list(hospitalId: string | undefined): Promise<HospitalVaccineStock[]>;
}

export interface VaccinationDashboardPorts {
  readonly directory: Directory;
  readonly counters: VaccinationCounters;
  readonly tallies: HospitalTallies;
  readonly reservations: ReservationViews;
  readonly daily: DailyCounts;
  readonly stocks: HospitalStocks;
}
