/**
 * Hospital rates. Per hospital, over all vaccines (the definitions of the dashboard's contract):
 *
 *   available doses  = doses registered as available from supplies (sum of AvailableDosesRegistered)
 *   vaccinations     = doses given (one per VaccinationRecorded)
 *   discarded doses  = sum of DosesDiscarded
 *   vaccination rate = vaccinations / available doses     (0 when no dose was made available)
 *   discard rate     = discarded doses / available doses  (0 when no dose was made available)
 *
 * The counts are kept; the rates are computed when asked.
 */

/** What one event adds to a hospital's counts. */
export interface TallyChange {
  readonly availableDoses: number;
  readonly vaccinations: number;
  readonly discardedDoses: number;
}

export const NO_CHANGE: TallyChange = { availableDoses: 0, vaccinations: 0, discardedDoses: 0 };

export interface HospitalTally {
  readonly hospitalId: string;
  /** Undefined until the hospital's HospitalRegistered is seen. */
  readonly hospitalName: string | undefined;
  readonly availableDoses: number;
  readonly vaccinations: number;
  readonly discardedDoses: number;
}

export interface HospitalRates extends HospitalTally {
  /** From 0 to 1. */
  readonly vaccinationRate: number;
  /** From 0 to 1. */
  readonly discardRate: number;
}

/**
 * `part` as a fraction of `whole`: 0 when the whole is 0. Inventory never lets doses given and
 * discarded exceed the doses available, so the fraction is at most 1; only while the dashboard has
 * seen a dose given before the doses it came from (events crossing on the way) could it be more,
 * and it is capped at 1 then.
 */
export function rate(part: number, whole: number): number {
  if (whole <= 0 || part <= 0) return 0;
  return Math.min(1, part / whole);
}

export function ratesOf(tally: HospitalTally): HospitalRates {
  return {
    ...tally,
    vaccinationRate: rate(tally.vaccinations, tally.availableDoses),
    discardRate: rate(tally.discardedDoses, tally.availableDoses),
  };
}
