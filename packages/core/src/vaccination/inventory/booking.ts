import type { EventContext } from "../../shared/index.ts";
import type { DateCapacity } from "./date-capacity.ts";
import type { BookableCause } from "./events.ts";
import type { HospitalState } from "./hospital.ts";
import { stockId, type VaccineStock } from "./stock.ts";

/**
 * How long, by default, a dose and slot taken by TakeBookingSlot are held before reservation
 * confirms them (its ReservationRegistered): a hold still unconfirmed after that is released once
 * reservation answers that it holds no such reservation ({@link Booking.settleLapse}), since the
 * Reserve that asked for it died before writing its reservation.
 */
export const BOOKING_HOLD_LEASE_MS = 60_000;

/** TakeBookingSlot's answer: a dose and a slot held, or why not. No capacity is an answer, not an error. */
export const BOOKING_OUTCOMES = ["BOOKED", "NO_DOSES", "DATE_FULL"] as const;
export type BookingOutcome = (typeof BOOKING_OUTCOMES)[number];

/**
 * - BOOKED: a dose of the hospital's vaccine and a slot of the date are held for the reservation.
 * - REFUSED: nothing was held (outcome NO_DOSES or DATE_FULL); the reservation went to the waitlist.
 * - RELEASED: the dose and slot were given back (cancelled, rejected or abandoned), or, for a
 *   tombstone, never taken: a release that came first, so a late booking call takes nothing.
 * - VACCINATED: the dose was given; the slot stays taken, the person came that day.
 */
export const BOOKING_STATUSES = ["BOOKED", "REFUSED", "RELEASED", "VACCINATED"] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

export interface BookingState {
  readonly reservationId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** "YYYY-MM-DD". */
  readonly date: string;
  /** The first answer to TakeBookingSlot (NO_DOSES for a tombstone). */
  readonly outcome: BookingOutcome;
  readonly status: BookingStatus;
  /**
   * While BOOKED and not yet confirmed by reservation: when the hold lapses. Undefined once
   * confirmed, and for a booking that never held anything.
   */
  readonly holdUntil: Date | undefined;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** What reservation asks of inventory, checked. */
export interface SlotRequest {
  readonly reservationId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  readonly date: string;
}

/** Who cancelled a reservation, as reservation names it. */
export const CANCELLATION_REASONS = ["PERSON", "MANAGER", "DISCARD", "HOLD_EXPIRED", "BOOKED"] as const;
export type CancellationReason = (typeof CANCELLATION_REASONS)[number];

/** The event that gives a booking's dose and slot back. */
export type ReleaseCause =
  | { readonly event: "ReservationCancelled"; readonly reason: CancellationReason | undefined }
  | { readonly event: "ReservationRejected" }
  | { readonly event: "BookingAbandoned" }
  | { readonly event: "DosesDiscarded" }
  | { readonly event: "BookingHoldExpired" };

/** A reservation that no longer needs its dose and slot, as the releasing events describe it. */
export interface ReleasedReservation {
  readonly reservationId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** "YYYY-MM-DD"; empty for a waitlist entry, which never asked for a slot. */
  readonly date: string;
}

/**
 * Inventory's side of one reservation, keyed by the reservation id: the dose and date slot it holds.
 * It is written once by TakeBookingSlot (or as a tombstone by a release that came first), so a
 * repeated call answers the same and never takes a second dose; each later transition applies once.
 */
export class Booking {
  #state: BookingState;
  #changed: boolean;

  private constructor(state: BookingState, changed: boolean) {
    this.#state = state;
    this.#changed = changed;
  }

  /**
   * Takes one dose and one slot, both or neither: BOOKED only when the hospital has a bookable dose
   * of the vaccine (else NO_DOSES, checked first) and the date a slot left (else DATE_FULL).
   * A refusal is kept too, so the same reservation id gets the same answer.
   */
  static take(
    request: SlotRequest,
    hospital: HospitalState,
    stock: VaccineStock,
    capacity: DateCapacity,
    context: EventContext & { readonly holdLeaseMs: number },
  ): Booking {
    const { reservationId, hospitalId, vaccineId, date } = request;
    if (
      hospital.hospitalId !== hospitalId ||
      stock.id !== stockId(hospitalId, vaccineId) ||
      capacity.state.hospitalId !== hospitalId ||
      capacity.state.date !== date
    ) {
      throw new Error(`booking ${reservationId} checked against another hospital's stock or date`);
    }
    const outcome = outcomeOf(hospital, stock, capacity);
    if (outcome === "BOOKED") {
      stock.book(context);
      capacity.take(hospital.dailyCapacity);
    }
    return Booking.#answered(request, outcome, context);
  }

  static #answered(
    request: SlotRequest,
    outcome: BookingOutcome,
    context: EventContext & { readonly holdLeaseMs: number },
  ): Booking {
    const { reservationId, hospitalId, vaccineId, date } = request;
    const now = context.clock.now();
    return new Booking(
      {
        reservationId,
        hospitalId,
        vaccineId,
        date,
        outcome,
        status: outcome === "BOOKED" ? "BOOKED" : "REFUSED",
        holdUntil: outcome === "BOOKED" ? new Date(now.getTime() + context.holdLeaseMs) : undefined,
        createdAt: now,
        updatedAt: now,
      },
      true,
    );
  }

  /**
   * What a release leaves for a reservation inventory has not booked: a RELEASED tombstone, so a
   * TakeBookingSlot that comes later (an abandoned call still in flight) books nothing. A waitlist
   * entry (no date) never asks for a slot and leaves nothing.
   */
  static tombstone(released: ReleasedReservation, context: EventContext): Booking | undefined {
    if (released.date === "") return undefined;
    const now = context.clock.now();
    return new Booking(
      {
        reservationId: released.reservationId,
        hospitalId: released.hospitalId,
        vaccineId: released.vaccineId,
        date: released.date,
        outcome: "NO_DOSES",
        status: "RELEASED",
        holdUntil: undefined,
        createdAt: now,
        updatedAt: now,
      },
      true,
    );
  }

  static restore(state: BookingState): Booking {
    return new Booking(state, false);
  }

  get id(): string {
    return this.#state.reservationId;
  }

  get state(): BookingState {
    return this.#state;
  }

  /** Whether it is new or a transition changed it since it was loaded (a store writes only then). */
  get changed(): boolean {
    return this.#changed;
  }

  /** Whether a dose and a slot are held for it now. */
  get holdsDose(): boolean {
    return this.#state.status === "BOOKED";
  }

  /**
   * What TakeBookingSlot answers for this reservation id: its first answer, except NO_DOSES once
   * released (nothing is held for it, and a released booking is never taken again).
   */
  get answer(): BookingOutcome {
    return this.#state.status === "RELEASED" ? "NO_DOSES" : this.#state.outcome;
  }

  /**
   * The reservation was cancelled, rejected or abandoned: a held dose and slot are given back. Only
   * a person's own cancellation alerts the waitlist (BookableDosesAvailable, cause PERSON_CANCELLED,
   * when doses are then bookable); a manager's, one after a discard, a rejection or an abandoned
   * booking never does. A booking holding nothing is left as it is.
   */
  release(stock: VaccineStock, capacity: DateCapacity, cause: ReleaseCause, context: EventContext): void {
    if (!this.holdsDose) return;
    this.#checkHeldAt(stock, capacity);
    const alert: BookableCause | undefined =
      cause.event === "ReservationCancelled" && cause.reason === "PERSON" ? "PERSON_CANCELLED" : undefined;
    stock.release(alert, context);
    capacity.release();
    this.#moveTo("RELEASED", context);
  }

  /**
   * Reservation registered the reservation this booking holds a dose for: the hold no longer
   * lapses. A booking holding nothing (refused, or already released because its hold lapsed) stays
   * as it is: a late registration never takes a dose again. Returns whether it changed.
   */
  confirm(context: EventContext): boolean {
    if (!this.holdsDose || this.#state.holdUntil === undefined) return false;
    this.#state = { ...this.#state, holdUntil: undefined, updatedAt: context.clock.now() };
    this.#changed = true;
    return true;
  }

  /** Whether its hold is unconfirmed and lapsed by the clock. */
  isExpired(context: EventContext): boolean {
    const { holdUntil } = this.#state;
    return this.holdsDose && holdUntil !== undefined && holdUntil <= context.clock.now();
  }

  /**
   * Its hold lapsed unconfirmed, and reservation answered whether the reservation is outstanding
   * there (`outstanding`). Outstanding: its ReservationRegistered is only late (the bus, or
   * inventory's consumer, was away longer than the lease), so the hold is confirmed as that event
   * would confirm it. Not outstanding (its Reserve died before writing it, or it ended unheard):
   * the dose and slot are given back (no waitlist is alerted) and the booking stays RELEASED, so
   * neither a late registration nor a repeated call takes them again. A hold not lapsed, or
   * confirmed or released meanwhile, is left as it is (UNCHANGED).
   */
  settleLapse(
    outstanding: boolean,
    stock: VaccineStock,
    capacity: DateCapacity,
    context: EventContext,
  ): "CONFIRMED" | "RELEASED" | "UNCHANGED" {
    if (!this.isExpired(context)) return "UNCHANGED";
    if (outstanding) {
      this.confirm(context);
      return "CONFIRMED";
    }
    this.release(stock, capacity, { event: "BookingHoldExpired" }, context);
    return "RELEASED";
  }

  /**
   * A vaccination was recorded for this reservation at `givenAt`. A held dose is no longer booked
   * and the booking is VACCINATED (the date slot stays taken); `heldAt` is the stock the dose was
   * booked from, `givenAt` itself unless the person went to another hospital or got another
   * vaccine. A booking holding nothing counts the dose as a walk-in's.
   */
  vaccinate(givenAt: VaccineStock, heldAt: VaccineStock, context: EventContext): void {
    if (!this.holdsDose) {
      givenAt.recordVaccination(false, context);
      return;
    }
    if (heldAt.id !== stockId(this.#state.hospitalId, this.#state.vaccineId)) {
      throw new Error(`booking ${this.id} holds no dose of stock ${heldAt.id}`);
    }
    if (givenAt === heldAt) {
      givenAt.recordVaccination(true, context);
    } else {
      givenAt.recordVaccination(false, context);
      heldAt.release(undefined, context);
    }
    this.#moveTo("VACCINATED", context);
  }

  #checkHeldAt(stock: VaccineStock, capacity: DateCapacity): void {
    const { hospitalId, vaccineId, date } = this.#state;
    if (
      stock.id !== stockId(hospitalId, vaccineId) ||
      capacity.state.hospitalId !== hospitalId ||
      capacity.state.date !== date
    ) {
      throw new Error(`booking ${this.id} holds no dose of ${stock.id} on ${capacity.state.date}`);
    }
  }

  #moveTo(status: BookingStatus, context: EventContext): void {
    this.#state = { ...this.#state, status, holdUntil: undefined, updatedAt: context.clock.now() };
    this.#changed = true;
  }
}

/**
 * The order in which a discard releases bookings, first to go first: the latest appointment date;
 * on the same date, the latest booked; at the same instant, the greatest reservation id.
 */
export function latestBookingFirst(a: Booking, b: Booking): number {
  const [x, y] = [a.state, b.state];
  if (x.date !== y.date) return x.date < y.date ? 1 : -1;
  const byTime = y.createdAt.getTime() - x.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return x.reservationId < y.reservationId ? 1 : x.reservationId > y.reservationId ? -1 : 0;
}

function outcomeOf(hospital: HospitalState, stock: VaccineStock, capacity: DateCapacity): BookingOutcome {
  if (stock.bookable < 1) return "NO_DOSES";
  if (capacity.slotsLeft(hospital.dailyCapacity) < 1) return "DATE_FULL";
  return "BOOKED";
}
