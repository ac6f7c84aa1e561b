/**
 * Vaccination's replica of who booked each reservation, from reservation's ReservationRegistered,
 * so that a dose recorded with a reservation is checked against that reservation's person without
 * calling reservation (which may be down). A reservation not yet heard of is not checked here;
 * reservation itself then leaves another person's reservation as it is (see its VaccinationRecorded
 * policy).
 */
export interface BookedReservation {
  readonly reservationId: string;
  readonly personId: string;
}
