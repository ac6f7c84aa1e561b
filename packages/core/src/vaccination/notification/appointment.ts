import type { EventContext } from "../../shared/index.ts";
import { Notification } from "./notification.ts";
import { dayStart, type ReservationChange, type ReservationSnapshot } from "./reservation-change.ts";
import { reminderText } from "./texts.ts";

/**
 * SCHEDULED: a reminder will go out the day before. REMINDED: it went out. DROPPED: the reservation
 * was rejected, cancelled or vaccinated, so no reminder. LAPSED: the appointment's day had begun
 * before a reminder could go out (booked on the day itself), so none did.
 */
export const APPOINTMENT_STATUSES = ["SCHEDULED", "REMINDED", "DROPPED", "LAPSED"] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

export interface AppointmentState {
  readonly reservationId: string;
  readonly personId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** "YYYY-MM-DD"; empty for a tombstone of a reservation that never had a date. */
  readonly date: string;
  readonly status: AppointmentStatus;
  /** 00:00 UTC of the day before the appointment; none for a tombstone without a date. */
  readonly remindAt?: Date | undefined;
}

const DAY_MS = 86_400_000;
const KEEPS: ReadonlySet<ReservationChange["type"]> = new Set(["REGISTERED", "CONFIRMED"]);
const DROPS: ReadonlySet<ReservationChange["type"]> = new Set(["REJECTED", "CANCELLED", "VACCINATED"]);

/** When the reminder of an appointment on `date` is due: 00:00 UTC of the day before. */
export function reminderTime(date: string): Date | undefined {
  const start = dayStart(date);
  return start && new Date(start.getTime() - DAY_MS);
}

/**
 * Notification's record of a booked appointment, kept for its reminder the day before.
 *
 * Events may arrive in any order: once a reservation is dropped (rejected, cancelled, vaccinated)
 * its record stays a DROPPED tombstone that a late registration or confirmation never revives, and
 * a reminder goes out at most once.
 */
export class Appointment {
  #state: AppointmentState;

  private constructor(state: AppointmentState) {
    this.#state = state;
  }

  static restore(state: AppointmentState): Appointment {
    return new Appointment(state);
  }

  /** Whether a change of a reservation bears on its appointment (waitlist events do not). */
  static concerns(change: ReservationChange["type"]): boolean {
    return KEEPS.has(change) || DROPS.has(change);
  }

  /**
   * The appointment after a change of its reservation: kept on registration and confirmation,
   * dropped on rejection, cancellation and vaccination. Undefined when there is nothing to record.
   */
  static afterChange(known: Appointment | undefined, change: ReservationChange): Appointment | undefined {
    if (KEEPS.has(change.type)) return Appointment.kept(known, change.reservation);
    if (DROPS.has(change.type)) return Appointment.dropped(known, change.reservation);
    return undefined;
  }

  /** The reservation is booked (registered or confirmed): remember its appointment. */
  static kept(known: Appointment | undefined, reservation: ReservationSnapshot): Appointment | undefined {
    const remindAt = reminderTime(reservation.date);
    if (!remindAt) return undefined; // no day to remind of
    return new Appointment({
      ...details(reservation),
      status: known?.state.status ?? "SCHEDULED",
      remindAt,
    });
  }

  /**
   * The reservation will not be kept (rejected, cancelled, vaccinated): no reminder, ever. A
   * waitlist entry (no date) that was never booked leaves nothing to drop.
   */
  static dropped(known: Appointment | undefined, reservation: ReservationSnapshot): Appointment | undefined {
    if (!known && reservation.date === "") return undefined;
    const status = known?.state.status === "REMINDED" ? "REMINDED" : "DROPPED";
    return new Appointment({
      ...details(reservation),
      ...(reservation.date === "" ? { date: known?.state.date ?? "" } : {}),
      status,
      remindAt: known?.state.remindAt ?? reminderTime(reservation.date),
    });
  }

  get id(): string {
    return this.#state.reservationId;
  }

  get state(): AppointmentState {
    return this.#state;
  }

  /**
   * The scheduler's step: from 00:00 UTC of the day before the appointment until the appointment's
   * day begins, a SCHEDULED appointment gets its one reminder. Once the day has begun it is too late
   * for "tomorrow": it lapses without one. Before, or when not SCHEDULED, nothing happens.
   */
  remindIfDue(context: EventContext): Notification | undefined {
    const { status, remindAt } = this.#state;
    const now = context.clock.now();
    if (status !== "SCHEDULED" || !remindAt || now < remindAt) return undefined;
    if (now.getTime() >= remindAt.getTime() + DAY_MS) {
      this.#state = { ...this.#state, status: "LAPSED" };
      return undefined;
    }
    this.#state = { ...this.#state, status: "REMINDED" };
    return Notification.compose(
      {
        personId: this.#state.personId,
        kind: "APPOINTMENT_REMINDER",
        reservationId: this.#state.reservationId,
        text: reminderText(this.#state),
      },
      context,
    );
  }
}

function details(reservation: ReservationSnapshot) {
  const { reservationId, personId, hospitalId, vaccineId, date } = reservation;
  return { reservationId, personId, hospitalId, vaccineId, date };
}
