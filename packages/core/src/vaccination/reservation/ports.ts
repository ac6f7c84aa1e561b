import type { AbandonedBooking } from "./abandoned-booking.ts";
import type { BookingSlot } from "./booking.ts";
import type { Reservation, ReservationState } from "./reservation.ts";

/** A place in a person's list of reservations (see {@link ReservationReads.ofPerson}). */
export interface ReservationPosition {
  /** Undefined for a waitlist entry. */
  readonly date: string | undefined;
  readonly createdAt: Date;
  readonly reservationId: string;
}

export interface PersonReservationsQuery {
  readonly personId: string;
  readonly limit: number;
  /** Continue after this position; unset for the first page. */
  readonly after?: ReservationPosition | undefined;
}

/** A page of one hospital's reservations whose appointment is on one day. */
export interface HospitalDayQuery {
  readonly hospitalId: string;
  /** "YYYY-MM-DD". */
  readonly date: string;
  readonly limit: number;
  /** Continue after this position; unset for the first page. */
  readonly after?: ReservationPosition | undefined;
}

/** Reservations as queries (and Reserve before it books) read them: outside a unit of work, nothing locked. */
export interface ReservationReads {
  get(reservationId: string): Promise<Reservation | undefined>;
  /** The person's REGISTERED or CONFIRMED reservation of the vaccine, at any hospital, if any. */
  outstandingOf(personId: string, vaccineId: string): Promise<Reservation | undefined>;
  /**
   * A page of a person's reservations: waitlist entries (no date) first, then the latest appointment
   * first; on the same date, the latest created first, then the greatest id.
   */
  ofPerson(query: PersonReservationsQuery): Promise<ReservationState[]>;
  /** A page of a hospital's reservations of a day, whatever their status: first created first, then the least id. */
  ofHospitalDay(query: HospitalDayQuery): Promise<ReservationState[]>;
  /** The reservations of these ids that exist, in no particular order, read as committed (nothing locked). */
  getAll(reservationIds: readonly string[]): Promise<Reservation[]>;
}

/**
 * Where reservations are kept. `save` also hands the reservation's recorded events to the outbox.
 * In a unit of work the reads hold what they read until commit, as each says, so that commands and
 * policies touching the same reservations take turns.
 */
export interface Reservations extends Pick<ReservationReads, "outstandingOf"> {
  /** In a unit of work, holds the reservation id until commit, even before a reservation exists. */
  get(reservationId: string): Promise<Reservation | undefined>;
  save(reservation: Reservation): Promise<void>;
  /**
   * The person's WAITLISTED reservation for the hospital and vaccine, if any. In a unit of work,
   * holds (person, hospital, vaccine) until commit even when there is none: one entry per person.
   */
  waitlistEntry(personId: string, hospitalId: string, vaccineId: string): Promise<Reservation | undefined>;
  /**
   * The person's REGISTERED or CONFIRMED reservation of the vaccine, at any hospital, if any. In a
   * unit of work, holds (person, vaccine) until commit even when there is none: one per person.
   */
  outstandingOf(personId: string, vaccineId: string): Promise<Reservation | undefined>;
  /**
   * For a booking at the hospital: the person's outstanding reservation of the vaccine, as
   * {@link outstandingOf} holds it, and their waitlist entry at the hospital, locked; read together.
   */
  standingOf(personId: string, hospitalId: string, vaccineId: string): Promise<PersonStanding>;
  /**
   * Every REGISTERED or CONFIRMED reservation of the hospital and vaccine, in no particular order. In a
   * unit of work, holds the hospital and vaccine until commit (one discard at a time) and locks them.
   */
  outstanding(hospitalId: string, vaccineId: string): Promise<Reservation[]>;
  /** Every WAITLISTED reservation of the hospital and vaccine, first joined first. In a unit of work, locks them. */
  waitlisted(hospitalId: string, vaccineId: string): Promise<Reservation[]>;
}

/** What a person holds of a vaccine when booking it at a hospital (see {@link Reservations.standingOf}). */
export interface PersonStanding {
  readonly outstanding: Reservation | undefined;
  readonly waitlistEntry: Reservation | undefined;
}

/** Tombstones as reads see them. */
export interface AbandonedBookingReads {
  has(reservationId: string): Promise<boolean>;
}

/**
 * Booking attempts given up on: tombstones whose ids are never registered. `save` writes
 * BookingAbandoned to the outbox. In a unit of work, `has` holds the reservation id until commit as
 * {@link Reservations.get} does.
 */
export interface AbandonedBookings extends AbandonedBookingReads {
  save(abandoned: AbandonedBooking): Promise<void>;
}

/** What inventory answered to a booking, or that it could not be asked. */
export type SlotAnswer =
  | { readonly outcome: "BOOKED" | "NO_DOSES" | "DATE_FULL" }
  | {
      readonly outcome: "UNAVAILABLE";
      /** Whether a request left for inventory: then it may have taken a dose and a slot. */
      readonly mayHaveReached: boolean;
      readonly error: string;
    };

/**
 * Inventory's booking call: takes a dose of the hospital's vaccine and a slot of the date for the
 * reservation id, atomically, or says why not. Idempotent by reservation id. It answers within a
 * bounded time, UNAVAILABLE when inventory cannot be reached in time; inventory's own refusals
 * (an unknown hospital, say) are thrown as they are.
 */
export interface BookingSlots {
  take(slot: BookingSlot): Promise<SlotAnswer>;
}
