import { FailedPrecondition, InvalidArgument } from "../../shared/index.ts";

/** The vaccinations booked at one hospital on one date, out of the hospital's daily capacity. */
export interface DateCapacityState {
  readonly hospitalId: string;
  /** "YYYY-MM-DD". */
  readonly date: string;
  /** Slots taken: bookings held for the date, and those vaccinated on it. */
  readonly taken: number;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The UTC calendar day of `at`, "YYYY-MM-DD". */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/**
 * A calendar day "YYYY-MM-DD" that exists (2026-02-30 does not), not before `today` ("YYYY-MM-DD",
 * by the clock in UTC), else InvalidArgument naming the field.
 */
export function requireBookableDate(field: string, value: string, today: string): string {
  const match = DAY.exec(value);
  const [year, month, day] = (match ?? []).slice(1).map(Number) as [number, number, number];
  const real = match && dayOf(new Date(Date.UTC(year, month - 1, day))) === value && year >= 1;
  if (!real) throw new InvalidArgument(field, 'must be a calendar day written "YYYY-MM-DD"');
  if (value < today) throw new InvalidArgument(field, `must be today or later (today is ${today}, UTC)`);
  return value;
}

/**
 * One hospital's slots on one date: a booking takes one while the date has any left, a release
 * gives it back. A vaccination keeps it taken: the person came that day.
 */
export class DateCapacity {
  #state: DateCapacityState;
  #changed = false;

  private constructor(state: DateCapacityState) {
    this.#state = state;
  }

  /** A date nothing was booked on yet. */
  static empty(hospitalId: string, date: string): DateCapacity {
    return new DateCapacity({ hospitalId, date, taken: 0 });
  }

  static restore(state: DateCapacityState): DateCapacity {
    return new DateCapacity({ ...state });
  }

  get state(): DateCapacityState {
    return this.#state;
  }

  /** Whether a transition changed it since it was loaded (a store writes only then). */
  get changed(): boolean {
    return this.#changed;
  }

  /** Slots left out of the hospital's daily capacity, never below 0. */
  slotsLeft(dailyCapacity: number): number {
    return Math.max(0, dailyCapacity - this.#state.taken);
  }

  /** A booking takes one slot, while any is left (rule `date-must-have-a-slot`). */
  take(dailyCapacity: number): void {
    if (this.slotsLeft(dailyCapacity) < 1) {
      throw new FailedPrecondition(
        "date-must-have-a-slot",
        `hospital ${this.#state.hospitalId} is full on ${this.#state.date}`,
      );
    }
    this.#set(this.#state.taken + 1);
  }

  /** A released booking gives its slot back. */
  release(): void {
    if (this.#state.taken < 1) {
      throw new FailedPrecondition(
        "slots-never-negative",
        `hospital ${this.#state.hospitalId} has no slot taken on ${this.#state.date}`,
      );
    }
    this.#set(this.#state.taken - 1);
  }

  #set(taken: number): void {
    this.#state = { ...this.#state, taken };
    this.#changed = true;
  }
}
