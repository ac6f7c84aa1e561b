import type { ReservationState, ReservationStatus } from "./reservation-view.ts";

/**
 * Daily reservations per hospital: for each day, how many reservations of that day stand in each
 * status, counted from the latest state of each reservation. A reservation counts once, in the
 * bucket (hospital, day, status) of its latest state; when its state changes it moves from one
 * bucket to another. Waitlist entries have no day and are not counted.
 */

/** The statuses counted per day, in the order the listing shows them. */
export const COUNTED_STATUSES = ["REGISTERED", "CONFIRMED", "VACCINATED", "CANCELLED", "REJECTED"] as const;

export type CountedStatus = (typeof COUNTED_STATUSES)[number];

/** One reservation entering (+1) or leaving (-1) a day's count of a status. */
export interface DayCountChange {
  readonly hospitalId: string;
  readonly date: string;
  readonly status: CountedStatus;
  readonly delta: 1 | -1;
}

/** Where a reservation in this state counts, if anywhere. */
export function bucketOf(
  state: ReservationState,
): { hospitalId: string; date: string; status: CountedStatus } | undefined {
  if (state.date === undefined || !isCounted(state.status)) return undefined;
  return { hospitalId: state.hospitalId, date: state.date, status: state.status };
}

function isCounted(status: ReservationStatus): status is CountedStatus {
  return (COUNTED_STATUSES as readonly string[]).includes(status);
}

/** What a reservation's move from `before` (undefined: not seen yet) to `after` does to the day counts. */
export function dayCountChanges(
  before: ReservationState | undefined,
  after: ReservationState,
): DayCountChange[] {
  const left = before && bucketOf(before);
  const entered = bucketOf(after);
  if (
    left &&
    entered &&
    left.hospitalId === entered.hospitalId &&
    left.date === entered.date &&
    left.status === entered.status
  ) {
    return [];
  }
  return [
    ...(left ? [{ ...left, delta: -1 as const }] : []),
    ...(entered ? [{ ...entered, delta: 1 as const }] : []),
  ];
}

/** One day's counts at one hospital. */
export interface DayCounts {
  readonly date: string;
  readonly registered: number;
  readonly confirmed: number;
  readonly vaccinated: number;
  readonly cancelled: number;
  readonly rejected: number;
}

const FIELD: Record<CountedStatus, Exclude<keyof DayCounts, "date">> = {
  REGISTERED: "registered",
  CONFIRMED: "confirmed",
  VACCINATED: "vaccinated",
  CANCELLED: "cancelled",
  REJECTED: "rejected",
};

/** The counts field a status is counted in. */
export function countField(status: CountedStatus): Exclude<keyof DayCounts, "date"> {
  return FIELD[status];
}

export function emptyDay(date: string): DayCounts {
  return { date, registered: 0, confirmed: 0, vaccinated: 0, cancelled: 0, rejected: 0 };
}

/** A day's counts with one change applied (the change must be about that day). */
export function withChange(counts: DayCounts, change: DayCountChange): DayCounts {
  const field = FIELD[change.status];
  return { ...counts, [field]: counts[field] + change.delta };
}

/** A day of the listing: the counts, the hospital's capacity, and the slots taken. */
export interface DailyReservations extends DayCounts {
  readonly dailyCapacity: number;
  /** registered + confirmed + vaccinated: the reservations holding one of the day's slots. */
  readonly taken: number;
}

/** Every day of `days`, in order: the counts stored for it, or zeros. */
export function dailyListing(
  days: readonly string[],
  dailyCapacity: number,
  stored: readonly DayCounts[],
): DailyReservations[] {
  const byDay = new Map(stored.map((counts) => [counts.date, counts]));
  return days.map((date) => {
    const counts = byDay.get(date) ?? emptyDay(date);
    return {
      ...counts,
      dailyCapacity,
      taken: counts.registered + counts.confirmed + counts.vaccinated,
    };
  });
}
