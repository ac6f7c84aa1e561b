import { isNewer } from "./versions.ts";

/**
 * The dashboard's copy of each reservation: its latest state only. Every reservation event carries
 * the whole reservation with its `updatedAt`, so the newest one seen is the reservation as it
 * stands; events may arrive in any order and any number of times, and an older one arriving late
 * changes nothing.
 */

/** A reservation's status, named as reservation names it. */
export const RESERVATION_STATUSES = [
  "WAITLISTED",
  "REGISTERED",
  "CONFIRMED",
  "REJECTED",
  "CANCELLED",
  "VACCINATED",
] as const;

export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

export interface ReservationState {
  readonly reservationId: string;
  readonly personId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** The appointment's day, "YYYY-MM-DD"; undefined for a waitlist entry. */
  readonly date: string | undefined;
  readonly status: ReservationStatus;
  readonly updatedAt: Date;
  /** The event that carried this state; orders two states of the same time. */
  readonly eventId: string;
}

/** A reservation as a person sees it on the dashboard. */
export interface PersonReservation extends ReservationState {
  /** Undefined until the hospital's HospitalRegistered is seen. */
  readonly hospitalName: string | undefined;
}

/**
 * The reservation's state once `seen` is taken into account, or undefined when nothing changes:
 * `seen` is older than what is known (by `updatedAt`, then event id), or the same event again.
 */
export function latestReservation(
  known: ReservationState | undefined,
  seen: ReservationState,
): ReservationState | undefined {
  if (
    known &&
    !isNewer({ at: seen.updatedAt, eventId: seen.eventId }, { at: known.updatedAt, eventId: known.eventId })
  ) {
    return undefined;
  }
  return seen;
}
