import { isUuid, requireUuid } from "../../shared/index.ts";
import { AbandonedBooking } from "./abandoned-booking.ts";
import type { LostBookingReason, ReservationState } from "./reservation.ts";
import type { ReservationPorts } from "./use-cases.ts";

/** What a VaccinationRecorded did to reservation. */
export type VaccinationOutcome =
  /** The record names no reservation (a walk-in). */
  | { readonly effect: "none" }
  /** The record names a reservation reservation never had (e.g. a walk-in's id from elsewhere): ignored. */
  | { readonly effect: "unknown-reservation"; readonly reservationId: string }
  /** The reservation was not REGISTERED or CONFIRMED, so it stays as it was. */
  | { readonly effect: "unchanged"; readonly reservation: ReservationState }
  | { readonly effect: "vaccinated"; readonly reservation: ReservationState };

/** Policy: vaccination recorded a dose; the booking it names, if REGISTERED or CONFIRMED, becomes VACCINATED. */
export async function whenVaccinationRecorded(
  ports: ReservationPorts,
  recorded: { reservationId: string },
): Promise<VaccinationOutcome> {
  const reservationId = recorded.reservationId;
  if (reservationId === "") return { effect: "none" };
  const reservation = isUuid(reservationId) ? await ports.reservations.get(reservationId) : undefined;
  if (!reservation) return { effect: "unknown-reservation", reservationId };
  if (!reservation.vaccinated(ports)) return { effect: "unchanged", reservation: reservation.state };
  await ports.reservations.save(reservation);
  return { effect: "vaccinated", reservation: reservation.state };
}

/** Bookings inventory released on its own, as BookingsReleasedForDiscard and BookingHoldsExpired name them. */
export interface ReleasedBookings {
  readonly hospitalId: string;
  readonly vaccineId: string;
  readonly bookings: ReadonlyArray<{ reservationId: string; date: string }>;
}

/**
 * Policy: a discard left fewer doses than bookings, and inventory, which holds the booked count,
 * released exactly the bookings to cancel (the latest date first, then the latest booked, then the
 * greatest reservation id). Each of those reservations still outstanding is cancelled (reason
 * DISCARD); the waitlist is not alerted. One not registered yet (its Reserve still running) is
 * tombstoned as abandoned, so it is never registered. Returns the cancelled reservations.
 */
export function whenBookingsReleasedForDiscard(
  ports: ReservationPorts,
  released: ReleasedBookings,
): Promise<ReservationState[]> {
  return cancelLostBookings(ports, released, "DISCARD");
}

/**
 * Policy: inventory released holds reservation never confirmed within their lease (the Reserve that
 * took them died, or registered too late). A reservation registered after all is cancelled (reason
 * HOLD_EXPIRED), so none stays outstanding without a dose; one not registered is tombstoned as
 * abandoned, so a Reserve still running never registers it. Returns the cancelled reservations.
 */
export function whenBookingHoldsExpired(
  ports: ReservationPorts,
  released: ReleasedBookings,
): Promise<ReservationState[]> {
  return cancelLostBookings(ports, released, "HOLD_EXPIRED");
}

async function cancelLostBookings(
  ports: ReservationPorts,
  released: ReleasedBookings,
  reason: LostBookingReason,
): Promise<ReservationState[]> {
  const hospitalId = requireUuid("hospitalId", released.hospitalId);
  const vaccineId = requireUuid("vaccineId", released.vaccineId);
  const cancelled: ReservationState[] = [];
  for (const { reservationId, date } of released.bookings) {
    const id = requireUuid("reservationId", reservationId);
    const reservation = await ports.reservations.get(id);
    if (!reservation) {
      if (!(await ports.abandonedBookings.has(id))) {
        const slot = { reservationId: id, hospitalId, vaccineId, date };
        await ports.abandonedBookings.save(AbandonedBooking.abandon(slot, ports));
      }
      continue;
    }
    if (!reservation.cancelForLostBooking(reason, ports)) continue;
    await ports.reservations.save(reservation);
    cancelled.push(reservation.state);
  }
  return cancelled;
}

/**
 * Policy: doses became bookable again at a hospital (new doses, or a person's own cancellation).
 * Each WAITLISTED reservation of the vaccine there is alerted once (WaitlistAlerted), first joined
 * first; it stays WAITLISTED: nobody is booked automatically. Returns the alerted reservations.
 */
export async function whenBookableDosesAvailable(
  ports: ReservationPorts,
  available: { hospitalId: string; vaccineId: string; bookable: number },
): Promise<ReservationState[]> {
  const hospitalId = requireUuid("hospitalId", available.hospitalId);
  const vaccineId = requireUuid("vaccineId", available.vaccineId);
  const alerted: ReservationState[] = [];
  for (const reservation of await ports.reservations.waitlisted(hospitalId, vaccineId)) {
    if (!reservation.alert(available.bookable, ports)) continue;
    await ports.reservations.save(reservation);
    alerted.push(reservation.state);
  }
  return alerted;
}
