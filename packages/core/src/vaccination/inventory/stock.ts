import {
  AggregateRoot,
  type EventContext,
  FailedPrecondition,
  InvalidArgument,
  requireIntegerInRange,
} from "../../shared/index.ts";
import type {
  BookableCause,
  BookableDosesAvailable,
  BookingHoldsExpired,
  BookingsReleasedForDiscard,
  DosesDiscarded,
  StockChanged,
  StockEvent,
} from "./events.ts";

/** What is stored of a hospital's stock of one vaccine. */
export interface StockCounts {
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** Vials supplied to the hospital. */
  readonly suppliedVials: number;
  /** Doses registered as available from the supplies. */
  readonly available: number;
  /** Doses given (every recorded vaccination, booked or walk-in). */
  readonly given: number;
  readonly discarded: number;
  /** Reservations holding a dose: booked, not yet vaccinated or released. */
  readonly booked: number;
  /** When the counts last changed; absent for a stock nothing has happened to. */
  readonly updatedAt?: Date | undefined;
}

/** A stock as callers see it, with the quantities derived from its counts. */
export interface StockState extends StockCounts {
  /** available - given - discarded: doses at the hospital that can still be given. */
  readonly remaining: number;
  /** remaining - booked, never below 0: doses a new booking can take. */
  readonly bookable: number;
}

/** Most units a count can reach: counts travel as 32-bit integers. */
export const MAX_COUNT = 2_147_483_647;
/** Most doses one supply can be registered with. */
export const MAX_REGISTERED_DOSES = 1_000_000;
export const MAX_DISCARD_REASON_LENGTH = 500;

/** The id of the stock of `vaccineId` at `hospitalId`: the correlation key of its events. */
export function stockId(hospitalId: string, vaccineId: string): string {
  return `${hospitalId}/${vaccineId}`;
}

/**
 * One hospital's stock of one vaccine. Its quantities:
 *   remaining = available - given - discarded
 *   bookable  = remaining - booked (reported as 0 when below)
 *
 * Bookings take only bookable doses, and discards only remaining ones. A recorded vaccination is
 * a fact and is always counted, so a walk-in given when every remaining dose is booked leaves
 * remaining below booked (bookable 0, and reservation sees booked > remaining in StockChanged),
 * and one given with no dose remaining at all leaves remaining below 0 until the vaccine manager
 * registers the doses the hospital really had. Every change records StockChanged.
 */
export class VaccineStock extends AggregateRoot<StockEvent> {
  #counts: StockCounts;

  private constructor(counts: StockCounts) {
    super();
    this.#counts = counts;
  }

  /** A vaccine never supplied to the hospital: every count 0. */
  static empty(hospitalId: string, vaccineId: string): VaccineStock {
    return new VaccineStock({
      hospitalId,
      vaccineId,
      suppliedVials: 0,
      available: 0,
      given: 0,
      discarded: 0,
      booked: 0,
    });
  }

  static restore(counts: StockCounts): VaccineStock {
    const { hospitalId, vaccineId, suppliedVials, available, given, discarded, booked, updatedAt } = counts;
    return new VaccineStock({
      hospitalId,
      vaccineId,
      suppliedVials,
      available,
      given,
      discarded,
      booked,
      updatedAt,
    });
  }

  get id(): string {
    return stockId(this.#counts.hospitalId, this.#counts.vaccineId);
  }

  get remaining(): number {
    const { available, given, discarded } = this.#counts;
    return available - given - discarded;
  }

  get bookable(): number {
    return Math.max(0, this.remaining - this.#counts.booked);
  }

  get state(): StockState {
    return { ...this.#counts, remaining: this.remaining, bookable: this.bookable };
  }

  /** Vials of a supply arrived at the hospital. */
  receiveVials(vials: number, context: EventContext): void {
    const received = requireIntegerInRange("vials", vials, 1, MAX_COUNT);
    this.#change({ suppliedVials: this.#counts.suppliedVials + received }, context);
  }

  /**
   * The vaccine manager registered 1 to 1000000 doses of a supply as available. When doses are then
   * bookable, the waitlist is alerted (BookableDosesAvailable, cause NEW_DOSES).
   */
  addAvailableDoses(doses: number, context: EventContext): void {
    const added = requireIntegerInRange("doses", doses, 1, MAX_REGISTERED_DOSES);
    this.#change({ available: this.#counts.available + added }, context);
    this.#announceBookable("NEW_DOSES", context);
  }

  /**
   * The vaccine manager discards 1 to `remaining` doses (rule `discard-must-not-exceed-remaining`)
   * for a reason of up to 500 characters. Records DosesDiscarded with the counts after it, then
   * StockChanged. When fewer doses then remain than bookings hold ({@link overbooked}), the use case
   * releases that many bookings in the same unit of work ({@link releasedForDiscard}).
   */
  discard(doses: number, reason: string, context: EventContext): void {
    const discarded = requireIntegerInRange("doses", doses, 1, MAX_COUNT);
    const why = reason.trim();
    if (why.length > MAX_DISCARD_REASON_LENGTH) {
      throw new InvalidArgument("reason", `must be at most ${MAX_DISCARD_REASON_LENGTH} characters`);
    }
    if (discarded > this.remaining) {
      throw new FailedPrecondition(
        "discard-must-not-exceed-remaining",
        `${discarded} doses of ${this.id} to discard, ${Math.max(0, this.remaining)} remaining`,
      );
    }
    const discardedAt = context.clock.now();
    const { hospitalId, vaccineId } = this.#counts;
    this.record<DosesDiscarded>(
      "vaccination.inventory.v1.DosesDiscarded",
      {
        hospitalId,
        vaccineId,
        doses: discarded,
        reason: why,
        remaining: this.remaining - discarded,
        booked: this.#counts.booked,
        discardedAt,
      },
      context,
    );
    this.#change({ discarded: this.#counts.discarded + discarded }, context);
  }

  /** Bookings beyond the remaining doses: what a discard must release. */
  get overbooked(): number {
    return Math.max(0, this.#counts.booked - this.remaining);
  }

  /** Records BookingsReleasedForDiscard: the bookings a discard released, in the order chosen. */
  releasedForDiscard(
    bookings: ReadonlyArray<{ reservationId: string; date: string }>,
    context: EventContext,
  ): void {
    const { hospitalId, vaccineId } = this.#counts;
    this.record<BookingsReleasedForDiscard>(
      "vaccination.inventory.v1.BookingsReleasedForDiscard",
      { hospitalId, vaccineId, bookings, releasedAt: context.clock.now() },
      context,
    );
  }

  /** Records BookingHoldsExpired: bookings of this stock whose hold lapsed unconfirmed, released. */
  holdsExpired(
    bookings: ReadonlyArray<{ reservationId: string; date: string }>,
    context: EventContext,
  ): void {
    const { hospitalId, vaccineId } = this.#counts;
    this.record<BookingHoldsExpired>(
      "vaccination.inventory.v1.BookingHoldsExpired",
      { hospitalId, vaccineId, bookings, releasedAt: context.clock.now() },
      context,
    );
  }

  /** A booking holds one bookable dose (rule `doses-must-be-bookable`). */
  book(context: EventContext): void {
    if (this.bookable < 1) {
      throw new FailedPrecondition("doses-must-be-bookable", `${this.id} has no bookable dose`);
    }
    this.#change({ booked: this.#counts.booked + 1 }, context);
  }

  /**
   * A booking's dose is held no more: it was cancelled, rejected or abandoned, or given elsewhere.
   * Only a person's own cancellation alerts the waitlist, when doses are then bookable.
   */
  release(cause: BookableCause | undefined, context: EventContext): void {
    this.#change({ booked: this.#counts.booked - 1 }, context);
    if (cause) this.#announceBookable(cause, context);
  }

  /**
   * A dose was given here. When it was held by a booking of this stock, it is no longer booked;
   * a walk-in (or a dose booked elsewhere) only counts as given. Never refused: it is a fact.
   */
  recordVaccination(heldHere: boolean, context: EventContext): void {
    this.#change(
      { given: this.#counts.given + 1, booked: this.#counts.booked - (heldHere ? 1 : 0) },
      context,
    );
  }

  #announceBookable(cause: BookableCause, context: EventContext): void {
    if (this.bookable <= 0) return;
    const { hospitalId, vaccineId } = this.#counts;
    this.record<BookableDosesAvailable>(
      "vaccination.inventory.v1.BookableDosesAvailable",
      { hospitalId, vaccineId, bookable: this.bookable, cause, at: context.clock.now() },
      context,
    );
  }

  #change(
    counts: Partial<Pick<StockCounts, "suppliedVials" | "available" | "given" | "discarded" | "booked">>,
    context: EventContext,
  ): void {
    const next = { ...this.#counts, ...counts };
    for (const name of ["suppliedVials", "available", "given", "discarded", "booked"] as const) {
      if (next[name] < 0) {
        throw new FailedPrecondition("stock-never-negative", `${this.id} would have ${next[name]} ${name}`);
      }
      if (next[name] > MAX_COUNT) {
        throw new FailedPrecondition(
          "stock-within-limit",
          `${this.id} cannot count more than ${MAX_COUNT} ${name}`,
        );
      }
    }
    const changedAt = context.clock.now();
    this.#counts = { ...next, updatedAt: changedAt };
    const { hospitalId, vaccineId, suppliedVials, available, given, discarded, booked } = this.#counts;
    this.record<StockChanged>(
      "vaccination.inventory.v1.StockChanged",
      {
        hospitalId,
        vaccineId,
        suppliedVials,
        available,
        given,
        discarded,
        remaining: this.remaining,
        booked,
        bookable: this.bookable,
        changedAt,
      },
      context,
    );
  }
}
