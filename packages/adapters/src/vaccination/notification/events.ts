import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { InvalidArgument } from "@hexa/core/shared";
import type {
  CancelledBy,
  ReservationChange,
  ReservationSnapshot,
} from "@hexa/core/vaccination/notification";
import {
  ReservationCancelledSchema,
  ReservationConfirmedSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
  ReservationVaccinatedSchema,
  WaitlistAlertedSchema,
  WaitlistJoinedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import { CancellationReason, type Reservation } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";

/** One event notification consumes: its policy (consumer `notification-<policy>`) and how it reads it. */
export interface ConsumedEvent<Desc extends DescMessage = DescMessage> {
  readonly policy: string;
  readonly schema: Desc;
  read(event: MessageShape<Desc>): ReservationChange;
}

function consumed<Desc extends DescMessage>(
  policy: string,
  schema: Desc,
  read: (event: MessageShape<Desc>) => ReservationChange,
): ConsumedEvent {
  return { policy, schema, read } as unknown as ConsumedEvent;
}

/** Every reservation event notification turns into a notification. */
export const CONSUMED_EVENTS: readonly ConsumedEvent[] = [
  consumed("reservation-registered", ReservationRegisteredSchema, (e) => ({
    type: "REGISTERED",
    reservation: snapshot(e.reservation),
  })),
  consumed("waitlist-joined", WaitlistJoinedSchema, (e) => ({
    type: "WAITLIST_JOINED",
    reservation: snapshot(e.reservation),
  })),
  consumed("reservation-confirmed", ReservationConfirmedSchema, (e) => ({
    type: "CONFIRMED",
    reservation: snapshot(e.reservation),
  })),
  consumed("reservation-rejected", ReservationRejectedSchema, (e) => ({
    type: "REJECTED",
    reservation: snapshot(e.reservation),
  })),
  consumed("reservation-cancelled", ReservationCancelledSchema, (e) => ({
    type: "CANCELLED",
    reservation: snapshot(e.reservation),
  })),
  consumed("reservation-vaccinated", ReservationVaccinatedSchema, (e) => ({
    type: "VACCINATED",
    reservation: snapshot(e.reservation),
  })),
  consumed("waitlist-alerted", WaitlistAlertedSchema, (e) => ({
    type: "WAITLIST_ALERTED",
    reservation: snapshot(e.reservation),
    bookable: e.bookable,
  })),
];

const CANCELLED_BY: Record<CancellationReason, CancelledBy> = {
  [CancellationReason.UNSPECIFIED]: "UNKNOWN",
  [CancellationReason.PERSON]: "PERSON",
  [CancellationReason.MANAGER]: "MANAGER",
  [CancellationReason.DISCARD]: "DISCARD",
  [CancellationReason.HOLD_EXPIRED]: "HOLD_EXPIRED",
  [CancellationReason.BOOKED]: "BOOKED",
};

/** The reservation an event carries; an event without one is malformed (dead-lettered after its retries). */
function snapshot(reservation: Reservation | undefined): ReservationSnapshot {
  if (!reservation) throw new InvalidArgument("reservation", "is required in every reservation event");
  return {
    reservationId: reservation.reservationId,
    personId: reservation.personId,
    hospitalId: reservation.hospitalId,
    vaccineId: reservation.vaccineId,
    date: reservation.date,
    cancelledBy:
      reservation.cancellationReason === CancellationReason.UNSPECIFIED
        ? undefined
        : (CANCELLED_BY[reservation.cancellationReason] ?? "UNKNOWN"),
    note: reservation.note,
  };
}
