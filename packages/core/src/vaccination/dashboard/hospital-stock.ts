import { isNewer } from "./versions.ts";

/**
 * Each hospital's stock of each vaccine: the counts of the newest StockChanged per hospital and
 * vaccine (by `changedAt`, then event id). Inventory publishes every count with each change, so
 * the newest event is the stock; an older one arriving late changes nothing.
 */
export interface StockLevels {
  readonly hospitalId: string;
  readonly vaccineId: string;
  readonly available: number;
  readonly given: number;
  readonly discarded: number;
  readonly remaining: number;
  readonly booked: number;
  readonly bookable: number;
  readonly changedAt: Date;
  /** The event that carried these counts; orders two changes of the same time. */
  readonly eventId: string;
}

export interface HospitalVaccineStock extends StockLevels {
  /** Undefined until the HospitalRegistered, or the VaccineRegistered, is seen. */
  readonly hospitalName: string | undefined;
  readonly vaccineName: string | undefined;
}

/** The stock once `seen` is taken into account, or undefined when `seen` is not newer than `known`. */
export function latestStock(known: StockLevels | undefined, seen: StockLevels): StockLevels | undefined {
  if (
    known &&
    !isNewer({ at: seen.changedAt, eventId: seen.eventId }, { at: known.changedAt, eventId: known.eventId })
  ) {
    return undefined;
  }
  return seen;
}
