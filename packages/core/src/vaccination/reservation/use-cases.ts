import { type EventContext, InvalidArgument, NotFound, requireUuid } from "../../shared/index.ts";
import { AbandonedBooking } from "./abandoned-booking.ts";
import {
  type Booking,
  type BookingSlot,
  requireBooking,
  requireCalendarDay,
  requireNote,
  requirePersonId,
  reservationIdOf,
} from "./booking.ts";
import type {
  AbandonedBookingReads,
  AbandonedBookings,
  BookingSlots,
  ReservationPosition,
  ReservationReads,
  Reservations,
} from "./ports.ts";
import { alreadyHeld, Reservation, type ReservationState } from "./reservation.ts";

/** What a command works with: reservations and abandoned bookings, bound to one unit of work. */
export interface ReservationPorts extends EventContext {
  readonly reservations: Reservations;
  readonly abandonedBookings: AbandonedBookings;
}

/** What queries read: outside a unit of work, nothing locked. */
export interface ReservationQueries {
  readonly reservations: ReservationReads;
}

/**
 * What Reserve works with: reads outside any transaction, inventory's booking call, and units of
 * work for recording the outcome. Inventory is called outside any transaction, so a slow inventory
 * holds no database connection or lock.
 */
export interface ReservePorts extends EventContext, ReservationQueries {
  readonly abandonedBookings: AbandonedBookingReads;
  readonly slots: BookingSlots;
  /** Runs `work` in one transaction, with ports bound to it; commits when it returns. */
  unitOfWork<T>(work: (ports: ReservationPorts) => Promise<T>): Promise<T>;
}

/** Why a Reserve offers the waitlist instead of a reservation. */
export const WAITLIST_REASONS = ["NO_DOSES", "DATE_FULL", "INVENTORY_UNAVAILABLE"] as const;
export type WaitlistReason = (typeof WAITLIST_REASONS)[number];

export interface WaitlistOffer {
  readonly reason: WaitlistReason;
  /** Why, in words, and what to do. */
  readonly message: string;
}

/** Reserve's answer: the booked reservation, or the waitlist offered instead. */
export type ReserveAnswer =
  | { readonly reservation: ReservationState; readonly waitlistOffer?: undefined }
  | { readonly waitlistOffer: WaitlistOffer; readonly reservation?: undefined };

/**
 * A person books a vaccination. Inventory takes a dose and a slot of the date (BOOKED): the
 * reservation is REGISTERED, and the person's waitlist entry at that hospital for that vaccine, if
 * any, closes. No dose, or the date full: the waitlist is offered and nothing is stored. Inventory
 * unreachable or too slow: the waitlist is offered too, and when the request may have reached
 * inventory the attempt is recorded as abandoned (BookingAbandoned), so inventory releases what it
 * may have taken.
 *
 * Rule `one-outstanding-reservation-per-vaccine`: a person who holds a REGISTERED or CONFIRMED
 * reservation of the vaccine is refused before inventory is asked; one racing this Reserve that
 * registers first makes this one give its booking back (BookingAbandoned) and be refused.
 *
 * With an idempotency key the reservation id comes from the person and the key, so repeats, even
 * concurrent ones, converge: a repeat answers the reservation the first one booked and books nothing
 * more; a repeat of an abandoned attempt answers the waitlist offer again (its id is never booked).
 */
export async function reserve(ports: ReservePorts, command: Booking): Promise<ReserveAnswer> {
  const booking = requireBooking(command, ports.clock);
  const reservationId = reservationIdOf(booking, () => ports.ids.next());
  if (booking.idempotencyKey !== undefined) {
    const known = await ports.reservations.get(reservationId);
    if (known) return { reservation: known.state };
    if (await ports.abandonedBookings.has(reservationId)) return { waitlistOffer: abandonedOffer() };
  }
  const held = await ports.reservations.outstandingOf(booking.personId, booking.vaccineId);
  // A repeat of the same key that registered meanwhile is answered below, not refused.
  if (held && held.id !== reservationId) throw alreadyHeld(held.state);
  const slot: BookingSlot = {
    reservationId,
    hospitalId: booking.hospitalId,
    vaccineId: booking.vaccineId,
    date: booking.date,
  };
  const answer = await ports.slots.take(slot);
  switch (answer.outcome) {
    case "BOOKED": {
      const registered = await ports.unitOfWork((work) => registerBooking(work, slot, booking));
      if ("heldAlready" in registered) throw alreadyHeld(registered.heldAlready);
      return registered;
    }
    case "NO_DOSES":
    case "DATE_FULL":
      return { waitlistOffer: offer(answer.outcome, booking) };
    case "UNAVAILABLE":
      if (!answer.mayHaveReached) return { waitlistOffer: offer("INVENTORY_UNAVAILABLE", booking) };
      return ports.unitOfWork((work) => abandonBooking(work, slot, booking));
  }
}

/**
 * Inventory booked the slot: the reservation registers, unless a repeat of the same key got there
 * first, or another booking of the person for the vaccine did (a Reserve racing this one): then
 * this booking is abandoned, so inventory gives its dose back, and the one held is answered.
 */
async function registerBooking(
  ports: ReservationPorts,
  slot: BookingSlot,
  booking: Booking,
): Promise<ReserveAnswer | { readonly heldAlready: ReservationState }> {
  const { reservationId } = slot;
  // Only a repeat of an idempotency key can find its reservation registered already.
  if (booking.idempotencyKey !== undefined) {
    const known = await ports.reservations.get(reservationId);
    if (known) return { reservation: known.state };
  }
  if (await ports.abandonedBookings.has(reservationId)) return { waitlistOffer: abandonedOffer() };
  const { outstanding: held, waitlistEntry: entry } = await ports.reservations.standingOf(
    booking.personId,
    booking.hospitalId,
    booking.vaccineId,
  );
  if (held) {
    await ports.abandonedBookings.save(AbandonedBooking.abandon(slot, ports));
    return { heldAlready: held.state };
  }
  const reservation = Reservation.register({ reservationId, booking }, ports);
  await ports.reservations.save(reservation);
  if (entry?.closeWaitlistEntry(ports)) await ports.reservations.save(entry);
  return { reservation: reservation.state };
}

/**
 * Inventory could not answer in time: the attempt is abandoned, unless a repeat of the same key
 * registered it meanwhile (then that reservation is the answer, and what inventory holds is its own).
 */
async function abandonBooking(
  ports: ReservationPorts,
  slot: BookingSlot,
  booking: Booking,
): Promise<ReserveAnswer> {
  const known = await ports.reservations.get(slot.reservationId);
  if (known) return { reservation: known.state };
  if (!(await ports.abandonedBookings.has(slot.reservationId))) {
    await ports.abandonedBookings.save(AbandonedBooking.abandon(slot, ports));
  }
  return { waitlistOffer: offer("INVENTORY_UNAVAILABLE", booking) };
}

function offer(reason: WaitlistReason, booking: Booking): WaitlistOffer {
  const join = `JoinWaitlist with hospital ${booking.hospitalId} and vaccine ${booking.vaccineId} to be alerted when doses become bookable`;
  switch (reason) {
    case "NO_DOSES":
      return { reason, message: `The hospital has no bookable dose of this vaccine. ${join}.` };
    case "DATE_FULL":
      return {
        reason,
        message: `${booking.date} is fully booked at the hospital. Choose another date, or ${join}.`,
      };
    case "INVENTORY_UNAVAILABLE":
      return {
        reason,
        message: `Bookings cannot be taken right now. Try again in a moment, or ${join}.`,
      };
  }
}

function abandonedOffer(): WaitlistOffer {
  return {
    reason: "INVENTORY_UNAVAILABLE",
    message:
      "This booking attempt was given up on because bookings could not be taken. Reserve again with a new idempotency key, or JoinWaitlist with the same hospital and vaccine.",
  };
}

export interface JoinWaitlist {
  readonly personId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
}

/** A person joins a hospital's waitlist for a vaccine: WAITLISTED. A person has one entry there; a repeat answers it. */
export async function joinWaitlist(
  ports: ReservationPorts,
  command: JoinWaitlist,
): Promise<ReservationState> {
  const personId = requirePersonId(command.personId);
  const hospitalId = requireUuid("hospitalId", command.hospitalId);
  const vaccineId = requireUuid("vaccineId", command.vaccineId);
  const known = await ports.reservations.waitlistEntry(personId, hospitalId, vaccineId);
  if (known) return known.state;
  const entry = Reservation.joinWaitlist(
    { reservationId: ports.ids.next(), personId, hospitalId, vaccineId },
    ports,
  );
  await ports.reservations.save(entry);
  return entry.state;
}

/** The reservation manager accepts a REGISTERED booking: CONFIRMED. */
export async function acceptReservation(
  ports: ReservationPorts,
  command: { reservationId: string },
): Promise<ReservationState> {
  return change(ports, requireUuid("reservationId", command.reservationId), (r) => r.accept(ports));
}

/** The reservation manager rejects a REGISTERED booking, saying why: REJECTED; inventory releases its dose and slot. */
export async function rejectReservation(
  ports: ReservationPorts,
  command: { reservationId: string; note: string },
): Promise<ReservationState> {
  const reservationId = requireUuid("reservationId", command.reservationId);
  const note = requireNote(command.note);
  return change(ports, reservationId, (r) => r.reject(note, ports));
}

/** The person cancels their booking or leaves the waitlist: CANCELLED, reason PERSON. */
export async function cancelReservation(
  ports: ReservationPorts,
  command: { reservationId: string },
): Promise<ReservationState> {
  return change(ports, requireUuid("reservationId", command.reservationId), (r) => r.cancelByPerson(ports));
}

/** A reservation manager cancels a person's booking, saying why: CANCELLED, reason MANAGER. */
export async function cancelReservationAsManager(
  ports: ReservationPorts,
  command: { reservationId: string; note: string },
): Promise<ReservationState> {
  const reservationId = requireUuid("reservationId", command.reservationId);
  const note = requireNote(command.note);
  return change(ports, reservationId, (r) => r.cancelByManager(note, ports));
}

export async function getReservation(
  ports: { readonly reservations: Pick<ReservationReads, "get"> },
  query: { reservationId: string },
): Promise<ReservationState> {
  return (await load(ports.reservations, requireUuid("reservationId", query.reservationId))).state;
}

export interface ListReservations {
  /** Whose reservations; empty when a hospital's day is asked for. */
  readonly personId: string;
  /** A hospital's day instead of a person's list: empty, or with `date`. */
  readonly hospitalId: string;
  readonly date: string;
  readonly limit: number;
  readonly after?: ReservationPosition | undefined;
}

/**
 * A page of a person's reservations (waitlist entries first, then the latest appointment first),
 * or, given a hospital and a date, a page of that hospital's reservations of the day, first booked
 * first. One or the other: a person id with a hospital is refused on `hospitalId`.
 */
export async function listReservations(
  ports: ReservationQueries,
  query: ListReservations,
): Promise<ReservationState[]> {
  const { limit, after } = query;
  if (query.hospitalId === "" && query.date === "") {
    return ports.reservations.ofPerson({ personId: requirePersonId(query.personId), limit, after });
  }
  if (query.personId !== "") {
    throw new InvalidArgument("hospitalId", "lists a hospital's day: give personId or hospitalId, not both");
  }
  const hospitalId = requireUuid("hospitalId", query.hospitalId);
  const date = requireCalendarDay(query.date);
  return ports.reservations.ofHospitalDay({ hospitalId, date, limit, after });
}

async function change(
  ports: ReservationPorts,
  reservationId: string,
  apply: (reservation: Reservation) => void,
): Promise<ReservationState> {
  const reservation = await load(ports.reservations, reservationId);
  apply(reservation);
  await ports.reservations.save(reservation);
  return reservation.state;
}

async function load(
  reservations: Pick<ReservationReads, "get">,
  reservationId: string,
): Promise<Reservation> {
  const reservation = await reservations.get(reservationId);
  if (!reservation) throw new NotFound("Reservation", reservationId);
  return reservation;
}

/** The most reservation ids one GetOutstandingReservations may ask about (inventory's expiry job asks 200 at most). */
export const MAX_RESERVATIONS_ASKED = 200;

/**
 * Inventory asks, before it releases booking holds whose lease lapsed unconfirmed, which of their
 * reservations are outstanding (REGISTERED or CONFIRMED) here: it keeps those holds, since their
 * ReservationRegistered is only late, and releases the others. Answers those ids, in the order asked;
 * an id never registered (its Reserve died first) is not among them.
 */
export async function getOutstandingReservations(
  ports: ReservationQueries,
  query: { reservationIds: readonly string[] },
): Promise<string[]> {
  const asked = query.reservationIds;
  if (asked.length === 0 || asked.length > MAX_RESERVATIONS_ASKED) {
    throw new InvalidArgument("reservationIds", `must hold 1 to ${MAX_RESERVATIONS_ASKED} reservation ids`);
  }
  const ids = asked.map((id) => requireUuid("reservationIds", id));
  const outstanding = new Set(
    (await ports.reservations.getAll(ids)).filter((r) => r.isOutstanding).map((r) => r.id),
  );
  return ids.filter((id) => outstanding.has(id));
}
