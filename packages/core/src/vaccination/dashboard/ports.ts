// The rules a store's one-step change follows are linked from the documentation (`dayCountChanges`, …).
import type { DayCounts, dayCountChanges } from "./daily-reservations.ts";
import type { HospitalTally, TallyChange } from "./hospital-rates.ts";
import type { HospitalVaccineStock, latestStock, StockLevels } from "./hospital-stock.ts";
import type { latestReservation, PersonReservation, ReservationState } from "./reservation-view.ts";
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

/** The latest state of each reservation, and the day counts that follow it. */
export interface ReservationViews {
  /**
   * Takes a state of a reservation into account, in one step: it is kept when it is newer than the
   * one known ({@link latestReservation}), and then the reservation moves between the day counts as
   * {@link dayCountChanges} says. States of one reservation apply one at a time. Answers whether it
   * was kept.
   */
  keep(state: ReservationState): Promise<boolean>;
  /** A person's reservations, with hospital names when known, most recently updated first. */
  ofPerson(personId: string): Promise<PersonReservation[]>;
}

/** Reservations per hospital, day and status (changed with the reservations, see {@link ReservationViews.keep}). */
export interface DailyCounts {
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
  /** Keeps the stock when it is newer than the one known ({@link latestStock}), in one step. Answers whether it was kept. */
  keep(stock: StockLevels): Promise<boolean>;
  /** Every stock (of one hospital, when given), with names when known. */
  list(hospitalId: string | undefined): Promise<HospitalVaccineStock[]>;
}

/** What the status queries read; none changes anything. */
export interface VaccinationDashboardReads {
  readonly counters: Pick<VaccinationCounters, "perVaccine">;
  readonly tallies: Pick<HospitalTallies, "list">;
  readonly reservations: Pick<ReservationViews, "ofPerson">;
  readonly daily: DailyCounts;
  readonly stocks: Pick<HospitalStocks, "list">;
}

export interface VaccinationDashboardPorts {
  readonly directory: Directory;
  readonly counters: VaccinationCounters;
  readonly tallies: HospitalTallies;
  readonly reservations: ReservationViews;
  readonly daily: DailyCounts;
  readonly stocks: HospitalStocks;
}
