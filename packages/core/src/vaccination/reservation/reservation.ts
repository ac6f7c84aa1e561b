import { AggregateRoot, type EventContext, FailedPrecondition } from "../../shared/index.ts";
import type { Booking } from "./booking.ts";
import type {
  ReservationCancelled,
  ReservationChangeEvent,
  ReservationConfirmed,
  ReservationRegistered,
  ReservationRejected,
  ReservationVaccinated,
  WaitlistAlerted,
  WaitlistJoined,
} from "./events.ts";

/**
 * - WAITLISTED: on a hospital's waitlist for a vaccine, without a date.
 * - REGISTERED: booked; inventory holds a dose and a slot of the date.
 * - CONFIRMED: accepted by the reservation manager.
 * - REJECTED: refused by the reservation manager.
 * - CANCELLED: see the cancellation reason.
 * - VACCINATED: the person was given the dose.
 */
export const RESERVATION_STATUSES = [
  "WAITLISTED",
  "REGISTERED",
  "CONFIRMED",
  "REJECTED",
  "CANCELLED",
  "VACCINATED",
] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/**
 * Who or what cancelled a reservation: the person, a reservation manager, the automatic
 * cancellation after a discard or after inventory released a hold registered too late
 * (HOLD_EXPIRED), or (for a waitlist entry) the person's booking at that hospital.
 */
export const CANCELLATION_REASONS = ["PERSON", "MANAGER", "DISCARD", "HOLD_EXPIRED", "BOOKED"] as const;
export type CancellationReason = (typeof CANCELLATION_REASONS)[number];

/** Why inventory gave a booking's dose back on its own: a discard, or a hold never confirmed in time. */
export type LostBookingReason = Extract<CancellationReason, "DISCARD" | "HOLD_EXPIRED">;

export interface ReservationState {
  readonly reservationId: string;
  readonly personId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** The appointment's day, "YYYY-MM-DD"; undefined for a waitlist entry. */
  readonly date?: string | undefined;
  readonly status: ReservationStatus;
  /** Set once CANCELLED. */
  readonly cancellationReason?: CancellationReason | undefined;
  /** Set once REJECTED, or CANCELLED by a manager: why, told to the person. */
  readonly note?: string | undefined;
  readonly createdAt: Date;
  /** Changes with every status change. */
  readonly updatedAt: Date;
}

/** A booking that still holds a dose: it counts against the hospital's remaining doses. */
const OUTSTANDING: readonly ReservationStatus[] = ["REGISTERED", "CONFIRMED"];
/** What the person may still cancel. */
const OPEN: readonly ReservationStatus[] = ["WAITLISTED", "REGISTERED", "CONFIRMED"];

/**
 * A person's reservation of a vaccination at a hospital, or their place on its waitlist.
 *
 * WAITLISTED -> CANCELLED (by the person, or BOOKED when they book at that hospital);
 * REGISTERED -> CONFIRMED | REJECTED | CANCELLED | VACCINATED; CONFIRMED -> CANCELLED | VACCINATED.
 * Every change records an event carrying the whole reservation after it.
 */
export class Reservation extends AggregateRoot<ReservationChangeEvent> {
  #state: ReservationState;

  private constructor(state: ReservationState) {
    super();
    this.#state = state;
  }

  /** Inventory took a dose and a slot for the booking: REGISTERED, and ReservationRegistered. */
  static register(input: { reservationId: string; booking: Booking }, context: EventContext): Reservation {
    const { personId, hospitalId, vaccineId, date } = input.booking;
    const now = context.clock.now();
    const reservation = new Reservation({
      reservationId: input.reservationId,
      personId,
      hospitalId,
      vaccineId,
      date,
      status: "REGISTERED",
      createdAt: now,
      updatedAt: now,
    });
    reservation.#recordChange<ReservationRegistered>(
      "vaccination.reservation.v1.ReservationRegistered",
      context,
    );
    return reservation;
  }

  /** A place on the hospital's waitlist for the vaccine: WAITLISTED, and WaitlistJoined. */
  static joinWaitlist(
    input: { reservationId: string; personId: string; hospitalId: string; vaccineId: string },
    context: EventContext,
  ): Reservation {
    const now = context.clock.now();
    const reservation = new Reservation({ ...input, status: "WAITLISTED", createdAt: now, updatedAt: now });
    reservation.#recordChange<WaitlistJoined>("vaccination.reservation.v1.WaitlistJoined", context);
    return reservation;
  }

  static restore(state: ReservationState): Reservation {
    return new Reservation(state);
  }

  get id(): string {
    return this.#state.reservationId;
  }

  get state(): ReservationState {
    return this.#state;
  }

  /** Holds a dose: REGISTERED or CONFIRMED. */
  get isOutstanding(): boolean {
    return OUTSTANDING.includes(this.#state.status);
  }

  /** Rule `reservation-must-be-registered`: the reservation manager accepts a REGISTERED booking. */
  accept(context: EventContext): void {
    this.#requireRegistered("accepted");
    this.#change({ status: "CONFIRMED" }, context);
    this.#recordChange<ReservationConfirmed>("vaccination.reservation.v1.ReservationConfirmed", context);
  }

  /** Rule `reservation-must-be-registered`: the reservation manager refuses a REGISTERED booking, saying why. */
  reject(note: string, context: EventContext): void {
    this.#requireRegistered("rejected");
    this.#change({ status: "REJECTED", note }, context);
    this.#recordChange<ReservationRejected>("vaccination.reservation.v1.ReservationRejected", context);
  }

  /** Rule `reservation-must-be-open`: the person cancels a booking or leaves the waitlist. */
  cancelByPerson(context: EventContext): void {
    if (!OPEN.includes(this.#state.status)) {
      throw new FailedPrecondition(
        "reservation-must-be-open",
        `reservation ${this.id} is ${this.#state.status}; only a WAITLISTED, REGISTERED or CONFIRMED one can be cancelled`,
      );
    }
    this.#cancel("PERSON", undefined, context);
  }

  /** Rule `reservation-must-be-booked`: a reservation manager cancels a REGISTERED or CONFIRMED booking, saying why. */
  cancelByManager(note: string, context: EventContext): void {
    if (!this.isOutstanding) {
      throw new FailedPrecondition(
        "reservation-must-be-booked",
        `reservation ${this.id} is ${this.#state.status}; only a REGISTERED or CONFIRMED one can be cancelled by a manager`,
      );
    }
    this.#cancel("MANAGER", note, context);
  }

  /**
   * Inventory holds no dose for this booking any more (a discard, or a hold whose lease ran out
   * before this reservation confirmed it): CANCELLED for that reason. Anything not outstanding is
   * left as it is.
   */
  cancelForLostBooking(reason: LostBookingReason, context: EventContext): boolean {
    if (!this.isOutstanding) return false;
    this.#cancel(reason, undefined, context);
    return true;
  }

  /** The person booked at this waitlist entry's hospital: the entry closes (CANCELLED, reason BOOKED). */
  closeWaitlistEntry(context: EventContext): boolean {
    if (this.#state.status !== "WAITLISTED") return false;
    this.#cancel("BOOKED", undefined, context);
    return true;
  }

  /**
   * Vaccination recorded the dose: a REGISTERED or CONFIRMED booking becomes VACCINATED. Any other
   * reservation is left as it is (the dose was given all the same). Returns whether it changed.
   */
  vaccinated(context: EventContext): boolean {
    if (!this.isOutstanding) return false;
    this.#change({ status: "VACCINATED" }, context);
    this.#recordChange<ReservationVaccinated>("vaccination.reservation.v1.ReservationVaccinated", context);
    return true;
  }

  /**
   * Doses are bookable again at the hospital: a WAITLISTED reservation alerts its person
   * (WaitlistAlerted), and stays WAITLISTED: nobody is booked automatically. Returns whether it alerted.
   */
  alert(bookable: number, context: EventContext): boolean {
    if (this.#state.status !== "WAITLISTED") return false;
    this.record<WaitlistAlerted>(
      "vaccination.reservation.v1.WaitlistAlerted",
      { reservation: this.#state, bookable, alertedAt: context.clock.now() },
      context,
    );
    return true;
  }

  #requireRegistered(what: string): void {
    if (this.#state.status !== "REGISTERED") {
      throw new FailedPrecondition(
        "reservation-must-be-registered",
        `reservation ${this.id} is ${this.#state.status}; only a REGISTERED one can be ${what}`,
      );
    }
  }

  #cancel(reason: CancellationReason, note: string | undefined, context: EventContext): void {
    this.#change(
      { status: "CANCELLED", cancellationReason: reason, ...(note === undefined ? {} : { note }) },
      context,
    );
    this.#recordChange<ReservationCancelled>("vaccination.reservation.v1.ReservationCancelled", context);
  }

  #change(
    change: Pick<ReservationState, "status"> & Partial<Pick<ReservationState, "cancellationReason" | "note">>,
    context: EventContext,
  ): void {
    this.#state = { ...this.#state, ...change, updatedAt: context.clock.now() };
  }

  #recordChange<E extends Exclude<ReservationChangeEvent, WaitlistAlerted>>(
    type: E["type"],
    context: EventContext,
  ): void {
    this.record<E>(type, { reservation: this.#state } as E["data"], context);
  }
}

/**
 * Rule `one-outstanding-reservation-per-vaccine`: a person holds at most one REGISTERED or
 * CONFIRMED reservation of a vaccine, whatever the hospital or date; a dose is booked for one arm.
 * The refusal of a booking while the person holds `held`.
 */
export function alreadyHeld(held: ReservationState): FailedPrecondition {
  return new FailedPrecondition(
    "one-outstanding-reservation-per-vaccine",
    `person ${held.personId} already holds reservation ${held.reservationId} of vaccine ${held.vaccineId} (${held.status}, ${held.date}); cancel it before booking again`,
  );
}
