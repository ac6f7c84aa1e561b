import type { NotificationKind } from "./notification.ts";
import type { CancelledBy, ReservationChange, ReservationSnapshot } from "./reservation-change.ts";

/** The kind of notification each reservation change makes. */
export const KIND_OF_CHANGE: Readonly<Record<ReservationChange["type"], NotificationKind>> = {
  REGISTERED: "RESERVATION_REGISTERED",
  WAITLIST_JOINED: "WAITLIST_JOINED",
  CONFIRMED: "RESERVATION_CONFIRMED",
  REJECTED: "RESERVATION_REJECTED",
  CANCELLED: "RESERVATION_CANCELLED",
  VACCINATED: "RESERVATION_VACCINATED",
  WAITLIST_ALERTED: "WAITLIST_ALERT",
};

/** The message a person reads about a change of their reservation. */
export function changeText(change: ReservationChange): string {
  const r = change.reservation;
  const booking = `Your vaccination on ${r.date} at hospital ${r.hospitalId}`;
  switch (change.type) {
    case "REGISTERED":
      return `${booking} is booked (vaccine ${r.vaccineId}). You will be told once it is confirmed.`;
    case "CONFIRMED":
      return `${booking} is confirmed.`;
    case "REJECTED":
      return withNote(`${booking} was not accepted by the reservation manager.`, r.note);
    case "CANCELLED":
      return cancellationText(r);
    case "VACCINATED":
      return `${booking} is recorded as done. Thank you for being vaccinated.`;
    case "WAITLIST_JOINED":
      return `You are on the waitlist for vaccine ${r.vaccineId} at hospital ${r.hospitalId}. You will be told when doses can be booked.`;
    case "WAITLIST_ALERTED":
      return (
        `Doses of vaccine ${r.vaccineId} can be booked again at hospital ${r.hospitalId} ` +
        `(${change.bookable} available). Reserve a date to get one: nothing was booked for you.`
      );
  }
}

/** The reminder sent the day before an appointment. */
export function reminderText(appointment: { date: string; hospitalId: string; vaccineId: string }): string {
  return `Reminder: your vaccination is tomorrow, ${appointment.date}, at hospital ${appointment.hospitalId} (vaccine ${appointment.vaccineId}).`;
}

/** Says who cancelled and why; a waitlist entry (no date) is a place on the waitlist, not a vaccination. */
function cancellationText(r: ReservationSnapshot): string {
  const what =
    r.date === ""
      ? `Your place on the waitlist for vaccine ${r.vaccineId} at hospital ${r.hospitalId}`
      : `Your vaccination on ${r.date} at hospital ${r.hospitalId}`;
  const by: Record<CancelledBy, string> = {
    PERSON: `${what} was cancelled at your request.`,
    MANAGER: `${what} was cancelled by a reservation manager.`,
    DISCARD: `${what} was cancelled automatically: doses were discarded at the hospital and too few are left.`,
    HOLD_EXPIRED: `${what} was cancelled automatically: it could not be confirmed in time. Please book again.`,
    BOOKED: `${what} was closed because you booked a vaccination there.`,
    UNKNOWN: `${what} was cancelled.`,
  };
  return withNote(by[r.cancelledBy ?? "UNKNOWN"], r.note);
}

function withNote(sentence: string, note: string): string {
  return note === "" ? sentence : `${sentence} Note: ${note}`;
}
