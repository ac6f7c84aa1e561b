import { InvalidArgument, requireText } from "../../shared/index.ts";

/** Who or what cancelled a reservation, as reservation tells it. */
export type CancelledBy = "PERSON" | "MANAGER" | "DISCARD" | "HOLD_EXPIRED" | "BOOKED" | "UNKNOWN";

/** A reservation as reservation's events carry it: the whole reservation after the change. */
export interface ReservationSnapshot {
  readonly reservationId: string;
  readonly personId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** The appointment's day, "YYYY-MM-DD"; empty while the reservation is a waitlist entry. */
  readonly date: string;
  /** Set once cancelled. */
  readonly cancelledBy?: CancelledBy | undefined;
  /** The reservation manager's note on a rejection or a cancellation; may be empty. */
  readonly note: string;
}

/** What happened to a reservation: one of reservation's events, each of which becomes one notification. */
export type ReservationChange =
  | {
      readonly type: "REGISTERED" | "WAITLIST_JOINED" | "CONFIRMED" | "REJECTED" | "CANCELLED" | "VACCINATED";
      readonly reservation: ReservationSnapshot;
    }
  | {
      readonly type: "WAITLIST_ALERTED";
      readonly reservation: ReservationSnapshot;
      /** Doses bookable at the hospital when the alert went out. */
      readonly bookable: number;
    };

export const MAX_PERSON_ID = 64;

/** A person id as the contracts define it: 1 to 64 characters, else InvalidArgument naming `field`. */
export function requirePersonId(value: string, field = "personId"): string {
  return requireText(field, value, MAX_PERSON_ID);
}

/**
 * Checks what notification relies on in a reservation from an event. A malformed event is refused
 * with InvalidArgument (the bus retries it, then keeps it as a dead letter), never half-handled.
 */
export function checkedSnapshot(reservation: ReservationSnapshot): ReservationSnapshot {
  const date = reservation.date.trim();
  if (date !== "" && dayStart(date) === undefined) {
    throw new InvalidArgument("reservation.date", `must be a day "YYYY-MM-DD", got ${JSON.stringify(date)}`);
  }
  return {
    ...reservation,
    reservationId: requireText("reservation.reservationId", reservation.reservationId, 64),
    personId: requirePersonId(reservation.personId, "reservation.personId"),
    hospitalId: requireText("reservation.hospitalId", reservation.hospitalId, 64),
    vaccineId: requireText("reservation.vaccineId", reservation.vaccineId, 64),
    date,
    note: reservation.note.trim(),
  };
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** 00:00 UTC of a "YYYY-MM-DD" day, or undefined when it is not a calendar day. */
export function dayStart(day: string): Date | undefined {
  const match = DAY.exec(day);
  if (!match) return undefined;
  const [year, month, date] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const start = new Date(Date.UTC(year, month - 1, date));
  if (start.getUTCFullYear() !== year || start.getUTCMonth() !== month - 1 || start.getUTCDate() !== date) {
    return undefined;
  }
  return start;
}
