/**
 * Reservation's events as it publishes them: recorded by Reservation and AbandonedBooking, encoded
 * by its outbox encoder.
 */
import { encodeReservationEvent } from "@hexa/adapters/vaccination/reservation/events";
import {
  AbandonedBooking,
  type BookingAbandoned,
  Reservation,
  type ReservationCancelled,
  type ReservationConfirmed,
  type ReservationRegistered,
  type ReservationRejected,
  type ReservationVaccinated,
  type WaitlistAlerted,
  type WaitlistJoined,
} from "@hexa/core/vaccination/reservation";
import {
  BookingAbandonedSchema,
  ReservationCancelledSchema,
  ReservationConfirmedSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
  ReservationVaccinatedSchema,
  WaitlistAlertedSchema,
  WaitlistJoinedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import type { PublishedEvents } from "../messages.ts";
import { last, world } from "./world.ts";

/** A day `days` after today, "YYYY-MM-DD" (UTC): an appointment's date. */
export function dayFromToday(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

function booking() {
  return {
    personId: "person-7",
    hospitalId: world.ids.next(),
    vaccineId: world.ids.next(),
    date: dayFromToday(7),
  };
}

/** A booking inventory took a dose and a slot for. */
function registered(): Reservation {
  return Reservation.register({ reservationId: world.ids.next(), booking: booking() }, world);
}

function waitlisted(): Reservation {
  const { personId, hospitalId, vaccineId } = booking();
  return Reservation.joinWaitlist(
    { reservationId: world.ids.next(), personId, hospitalId, vaccineId },
    world,
  );
}

/** A person books a vaccination. */
export function reservationRegistered(): ReservationRegistered {
  return last(registered().pullEvents()) as ReservationRegistered;
}

/** A person joins a hospital's waitlist. */
export function waitlistJoined(): WaitlistJoined {
  return last(waitlisted().pullEvents()) as WaitlistJoined;
}

/** The reservation manager accepts a booking. */
export function reservationConfirmed(): ReservationConfirmed {
  const reservation = registered();
  reservation.accept(world);
  return last(reservation.pullEvents()) as ReservationConfirmed;
}

/** The reservation manager refuses a booking. */
export function reservationRejected(): ReservationRejected {
  const reservation = registered();
  reservation.reject("the hospital is closed that day", world);
  return last(reservation.pullEvents()) as ReservationRejected;
}

/** A person cancels their own booking. */
export function reservationCancelled(): ReservationCancelled {
  const reservation = registered();
  reservation.cancelByPerson(world);
  return last(reservation.pullEvents()) as ReservationCancelled;
}

/** Vaccination recorded the booked dose. */
export function reservationVaccinated(): ReservationVaccinated {
  const reservation = registered();
  reservation.vaccinated(world);
  return last(reservation.pullEvents()) as ReservationVaccinated;
}

/** Doses are bookable again at a waitlisted person's hospital. */
export function waitlistAlerted(): WaitlistAlerted {
  const reservation = waitlisted();
  reservation.alert(3, world);
  return last(reservation.pullEvents()) as WaitlistAlerted;
}

/** Reserve gave up on inventory after its request may have reached it. */
export function bookingAbandoned(): BookingAbandoned {
  const { hospitalId, vaccineId, date } = booking();
  return last(
    AbandonedBooking.abandon(
      { reservationId: world.ids.next(), hospitalId, vaccineId, date },
      world,
    ).pullEvents(),
  );
}

export const reservationEvents: PublishedEvents = {
  [ReservationRegisteredSchema.typeName]: () => encodeReservationEvent(reservationRegistered()),
  [WaitlistJoinedSchema.typeName]: () => encodeReservationEvent(waitlistJoined()),
  [ReservationConfirmedSchema.typeName]: () => encodeReservationEvent(reservationConfirmed()),
  [ReservationRejectedSchema.typeName]: () => encodeReservationEvent(reservationRejected()),
  [ReservationCancelledSchema.typeName]: () => encodeReservationEvent(reservationCancelled()),
  [ReservationVaccinatedSchema.typeName]: () => encodeReservationEvent(reservationVaccinated()),
  [WaitlistAlertedSchema.typeName]: () => encodeReservationEvent(waitlistAlerted()),
  [BookingAbandonedSchema.typeName]: () => encodeReservationEvent(bookingAbandoned()),
};
