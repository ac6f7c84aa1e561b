import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CANCELLATION_REASONS,
  RESERVATION_STATUSES,
  type ReservationEvent,
  type ReservationState,
} from "@hexa/core/vaccination/reservation";
import {
  BookingAbandonedSchema,
  ReservationCancelledSchema,
  ReservationConfirmedSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
  ReservationVaccinatedSchema,
  WaitlistAlertedSchema,
  WaitlistJoinedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import {
  CancellationReason,
  CancellationReasonSchema,
  type ReservationSchema,
  ReservationStatusSchema,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { enumMapping } from "../../kit/enum-mapping.ts";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

const STATUS = enumMapping(RESERVATION_STATUSES, ReservationStatusSchema);
const REASON = enumMapping(CANCELLATION_REASONS, CancellationReasonSchema);

/** A reservation as the API and the events show it: an empty date while waitlisted, an empty note when none. */
export function reservationToProto(
  reservation: ReservationState,
): MessageInitShape<typeof ReservationSchema> {
  return {
    reservationId: reservation.reservationId,
    personId: reservation.personId,
    hospitalId: reservation.hospitalId,
    vaccineId: reservation.vaccineId,
    date: reservation.date ?? "",
    status: STATUS.toProto(reservation.status),
    cancellationReason: reservation.cancellationReason
      ? REASON.toProto(reservation.cancellationReason)
      : CancellationReason.UNSPECIFIED,
    note: reservation.note ?? "",
    createdAt: timestampFromDate(reservation.createdAt),
    updatedAt: timestampFromDate(reservation.updatedAt),
  };
}

/** The wire form of reservation's events: protobuf JSON of the messages in vaccination/reservation/v1/events.proto. */
export function encodeReservationEvent(event: ReservationEvent): EventEnvelope {
  switch (event.type) {
    case "vaccination.reservation.v1.ReservationRegistered":
      return encodeEvent(event, ReservationRegisteredSchema, changed(event.data));
    case "vaccination.reservation.v1.WaitlistJoined":
      return encodeEvent(event, WaitlistJoinedSchema, changed(event.data));
    case "vaccination.reservation.v1.ReservationConfirmed":
      return encodeEvent(event, ReservationConfirmedSchema, changed(event.data));
    case "vaccination.reservation.v1.ReservationRejected":
      return encodeEvent(event, ReservationRejectedSchema, changed(event.data));
    case "vaccination.reservation.v1.ReservationCancelled":
      return encodeEvent(event, ReservationCancelledSchema, changed(event.data));
    case "vaccination.reservation.v1.ReservationVaccinated":
      return encodeEvent(event, ReservationVaccinatedSchema, changed(event.data));
    case "vaccination.reservation.v1.WaitlistAlerted":
      return encodeEvent(event, WaitlistAlertedSchema, {
        reservation: reservationToProto(event.data.reservation),
        bookable: event.data.bookable,
        alertedAt: timestampFromDate(event.data.alertedAt),
      });
    case "vaccination.reservation.v1.BookingAbandoned":
      return encodeEvent(event, BookingAbandonedSchema, {
        ...event.data,
        abandonedAt: timestampFromDate(event.data.abandonedAt),
      });
  }
}

function changed(data: { reservation: ReservationState }) {
  return { reservation: reservationToProto(data.reservation) };
}
