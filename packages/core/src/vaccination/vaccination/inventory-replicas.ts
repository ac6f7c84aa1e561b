/**
 * Vaccination's own replicas of what inventory owns, built from inventory's events, so that recording
 * a dose never has to call inventory (it works while inventory and reservation are down).
 *
 * - A registered vaccine, from VaccineRegistered: the doses a person needs.
 * - A registered hospital, from HospitalRegistered.
 * - A hospital's stock of a vaccine, from StockChanged: how many doses are bookable there.
 *
 * The stock replica is eventually consistent. It holds the counts of the newest StockChanged received,
 * so it lags inventory by the time an event takes to arrive, and it does not count the doses recorded
 * here until inventory's next StockChanged says so: a burst of walk-ins at a hospital with its last
 * bookable dose can all pass the check. Those doses were given all the same; inventory counts every
 * VaccinationRecorded it receives.
 */

export interface RegisteredVaccine {
  readonly vaccineId: string;
  readonly name: string;
  /** Doses a person needs to be fully vaccinated. */
  readonly dosesRequired: number;
  readonly registeredAt: Date;
}

export interface RegisteredHospital {
  readonly hospitalId: string;
  readonly name: string;
  readonly registeredAt: Date;
}

/** The bookable doses of one vaccine at one hospital, as of the StockChanged it was last set from. */
export interface HospitalStock {
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** Doses that can still be given and that no reservation holds. */
  readonly bookable: number;
  /** When inventory changed the stock. */
  readonly changedAt: Date;
  /** The StockChanged event it was set from. */
  readonly eventId: string;
}

/**
 * Inventory's stock changed. StockChanged events may arrive in any order and more than once: the
 * replica keeps the newest by change time, then by event id (UUIDv7 ids sort by creation), so an
 * older event arriving late changes nothing.
 */
export function stockChanged(known: HospitalStock | undefined, change: HospitalStock): HospitalStock {
  return known && !isNewer(change, known) ? known : change;
}

function isNewer(candidate: HospitalStock, than: HospitalStock): boolean {
  const a = candidate.changedAt.getTime();
  const b = than.changedAt.getTime();
  return a !== b ? a > b : candidate.eventId > than.eventId;
}
