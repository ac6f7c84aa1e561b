/**
 * Vaccination's replica of who booked each reservation, from reservation's ReservationRegistered,
 * so that a dose recorded with a reservation is checked against that reservation's person without
 * calling reservation (which may be down). A dose naming a reservation not heard of yet is refused
 * as retryable (rule `reservation-must-be-known`): its ReservationRegistered is on the way.
 */
export interface BookedReservation {
  readonly reservationId: string;
  readonly personId: string;
}
