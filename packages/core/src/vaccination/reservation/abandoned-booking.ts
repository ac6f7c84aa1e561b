import { AggregateRoot, type EventContext } from "../../shared/index.ts";
import type { BookingSlot } from "./booking.ts";
import type { BookingAbandoned } from "./events.ts";

export interface AbandonedBookingState extends BookingSlot {
  readonly abandonedAt: Date;
}

/**
 * A booking attempt Reserve gave up on after its request may have reached inventory (a timeout, or
 * an error after sending). It records BookingAbandoned, so inventory releases whatever it took for
 * the reservation id, and it stays as a tombstone: that id is never registered afterwards, even when
 * inventory's late answer, or a repeat of the same idempotency key, says BOOKED.
 */
export class AbandonedBooking extends AggregateRoot<BookingAbandoned> {
  readonly #state: AbandonedBookingState;

  private constructor(state: AbandonedBookingState) {
    super();
    this.#state = state;
  }

  static abandon(slot: BookingSlot, context: EventContext): AbandonedBooking {
    const abandonedAt = context.clock.now();
    const { reservationId, hospitalId, vaccineId, date } = slot;
    const abandoned = new AbandonedBooking({ reservationId, hospitalId, vaccineId, date, abandonedAt });
    abandoned.record<BookingAbandoned>(
      "vaccination.reservation.v1.BookingAbandoned",
      { reservationId, hospitalId, vaccineId, date, abandonedAt },
      context,
    );
    return abandoned;
  }

  /** A tombstone as it was stored. */
  static restore(state: AbandonedBookingState): AbandonedBooking {
    return new AbandonedBooking(state);
  }

  get id(): string {
    return this.#state.reservationId;
  }

  get state(): AbandonedBookingState {
    return this.#state;
  }
}
