import { type Clock, InvalidArgument, requireText, requireUuid } from "../../shared/index.ts";
import { reservationIdForKey } from "./reservation-id.ts";

export const MAX_PERSON_ID_LENGTH = 64;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 100;
export const MAX_NOTE_LENGTH = 500;

/** What a person asks for when they book: a hospital, a vaccine and a day. */
export interface Booking {
  readonly personId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** The appointment's day, "YYYY-MM-DD", today or later (UTC). */
  readonly date: string;
  /** Names the booking attempt: repeats with the same key and person converge on one reservation. */
  readonly idempotencyKey?: string | undefined;
}

/** One booking attempt as inventory sees it: a dose and a slot of the date, for one reservation id. */
export interface BookingSlot {
  readonly reservationId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  readonly date: string;
}

/** A person id: 1 to 64 characters, trimmed. */
export function requirePersonId(value: string): string {
  return requireText("personId", value, MAX_PERSON_ID_LENGTH);
}

/** A manager's note told to the person: 1 to 500 characters, trimmed. */
export function requireNote(value: string): string {
  return requireText("note", value, MAX_NOTE_LENGTH);
}

/** Checks every field of a Reserve before anything is asked of inventory. */
export function requireBooking(input: Booking, clock: Clock): Booking {
  const personId = requirePersonId(input.personId);
  const hospitalId = requireUuid("hospitalId", input.hospitalId);
  const vaccineId = requireUuid("vaccineId", input.vaccineId);
  const date = requireAppointmentDay(input.date, clock);
  const key = input.idempotencyKey ?? "";
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new InvalidArgument("idempotencyKey", `must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  return { personId, hospitalId, vaccineId, date, idempotencyKey: key === "" ? undefined : key };
}

/**
 * The reservation id of a booking: derived from the person and the idempotency key when there is
 * one (so concurrent repeats converge on one booking), else a new one.
 */
export function reservationIdOf(booking: Booking, next: () => string): string {
  return booking.idempotencyKey === undefined
    ? next()
    : reservationIdForKey(booking.personId, booking.idempotencyKey);
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar day "YYYY-MM-DD" that is today or later by the clock, in UTC. */
export function requireAppointmentDay(value: string, clock: Clock): string {
  requireCalendarDay(value);
  const today = todayOf(clock);
  if (value < today) throw new InvalidArgument("date", `must be today (${today}) or later`);
  return value;
}

/** A calendar day "YYYY-MM-DD", past or future, else InvalidArgument naming `date`. */
export function requireCalendarDay(value: string): string {
  if (value === "") throw new InvalidArgument("date", "is required");
  const match = DAY.exec(value);
  const [year, month, day] = [Number(match?.[1]), Number(match?.[2]), Number(match?.[3])];
  const start = new Date(Date.UTC(year, month - 1, day));
  if (
    !match ||
    start.getUTCFullYear() !== year ||
    start.getUTCMonth() !== month - 1 ||
    start.getUTCDate() !== day
  ) {
    throw new InvalidArgument("date", 'must be a calendar day "YYYY-MM-DD"');
  }
  return value;
}

/** Today's day "YYYY-MM-DD" by the clock, in UTC. */
export function todayOf(clock: Clock): string {
  return clock.now().toISOString().slice(0, 10);
}
