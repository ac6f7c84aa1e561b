import { isUuid, requireIntegerInRange, requireUuid } from "../../shared/index.ts";
import { latestBookingFirst, type ReservationState } from "./reservation.ts";
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

/**
 * Policy: inventory discarded doses at a hospital. When its outstanding (REGISTERED or CONFIRMED)
 * bookings of the vaccine now outnumber the doses remaining, exactly that many are cancelled
 * (reason DISCARD), chosen by {@link latestBookingFirst}: the latest appointment date first; on the
 * same date, the latest booked first; then the greatest reservation id. The waitlist is not alerted.
 * The count is reservation's own, so discards that follow each other never cancel a booking twice
 * over. Returns the cancelled reservations, in the order they were chosen.
 */
export async function whenDosesDiscarded(
  ports: ReservationPorts,
  discarded: { hospitalId: string; vaccineId: string; remaining: number },
): Promise<ReservationState[]> {
  const hospitalId = requireUuid("hospitalId", discarded.hospitalId);
  const vaccineId = requireUuid("vaccineId", discarded.vaccineId);
  const remaining = requireIntegerInRange("remaining", discarded.remaining, 0, Number.MAX_SAFE_INTEGER);
  const outstanding = await ports.reservations.outstanding(hospitalId, vaccineId);
  const excess = outstanding.length - remaining;
  if (excess <= 0) return [];
  const chosen = [...outstanding].sort((a, b) => latestBookingFirst(a.state, b.state)).slice(0, excess);
  for (const reservation of chosen) {
    reservation.cancelForDiscard(ports);
    await ports.reservations.save(reservation);
  }
  return chosen.map((reservation) => reservation.state);
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
