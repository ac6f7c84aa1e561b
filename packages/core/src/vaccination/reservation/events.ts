import type { DomainEvent } from "../../shared/index.ts";
import type { ReservationState } from "./reservation.ts";

/**
 * Reservation's events. Every change of a reservation carries the whole reservation after the
 * change, so notification and the dashboard need nothing else; the aggregate id is the reservation id.
 */
type ReservationChanged<Type extends string> = DomainEvent<Type, { reservation: ReservationState }>;

/** A booking succeeded: inventory holds a dose and a slot of the date for it. */
export type ReservationRegistered = ReservationChanged<"vaccination.reservation.v1.ReservationRegistered">;

/** A person joined the waitlist of a hospital for a vaccine. */
export type WaitlistJoined = ReservationChanged<"vaccination.reservation.v1.WaitlistJoined">;

/** The reservation manager accepted a booking. */
export type ReservationConfirmed = ReservationChanged<"vaccination.reservation.v1.ReservationConfirmed">;

/** The reservation manager refused a booking: inventory releases its dose and slot. */
export type ReservationRejected = ReservationChanged<"vaccination.reservation.v1.ReservationRejected">;

/**
 * A reservation was cancelled, for the reason it carries. Inventory releases the dose and slot of a
 * booked one; only the person's own cancellation of a booking makes it alert the waitlist.
 */
export type ReservationCancelled = ReservationChanged<"vaccination.reservation.v1.ReservationCancelled">;

/** Vaccination recorded the dose the reservation was booked for. */
export type ReservationVaccinated = ReservationChanged<"vaccination.reservation.v1.ReservationVaccinated">;

/** Doses became bookable again at a waitlisted reservation's hospital; the person is told, not booked. */
export type WaitlistAlerted = DomainEvent<
  "vaccination.reservation.v1.WaitlistAlerted",
  { reservation: ReservationState; bookable: number; alertedAt: Date }
>;

/**
 * A Reserve gave up on inventory after its request may have reached it: inventory releases whatever
 * it took for the reservation id. The aggregate id is the reservation id, which never gets a reservation.
 */
export type BookingAbandoned = DomainEvent<
  "vaccination.reservation.v1.BookingAbandoned",
  { reservationId: string; hospitalId: string; vaccineId: string; date: string; abandonedAt: Date }
>;

export type ReservationChangeEvent =
  | ReservationRegistered
  | WaitlistJoined
  | ReservationConfirmed
  | ReservationRejected
  | ReservationCancelled
  | ReservationVaccinated
  | WaitlistAlerted;

export type ReservationEvent = ReservationChangeEvent | BookingAbandoned;
