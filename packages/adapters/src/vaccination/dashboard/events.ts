import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { InvalidArgument } from "@hexa/core/shared";
import {
  RESERVATION_STATUSES,
  type ReservationState,
  type StockLevels,
  VACCINATION_STATUSES,
  type VaccinationStatus,
} from "@hexa/core/vaccination/dashboard";
import type { StockChanged } from "@hexa/proto/vaccination/inventory/v1/events_pb";
import {
  type Reservation,
  ReservationStatusSchema,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import {
  type VaccinationRecord,
  VaccinationStatusSchema,
} from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import { enumMapping } from "../../kit/enum-mapping.ts";
import type { EventEnvelope } from "../../messaging/bus.ts";

/**
 * Reads the events the dashboard consumes into what its policies take. A field the event leaves
 * empty is refused (InvalidArgument naming it, so the event is dead-lettered with a clear error),
 * except the times: a state without its own time takes the envelope's.
 */

const RESERVATION_STATUS = enumMapping(RESERVATION_STATUSES, ReservationStatusSchema);
const VACCINATION_STATUS = enumMapping(VACCINATION_STATUSES, VaccinationStatusSchema);

/** The reservation a reservation event carries, as the state the dashboard keeps. */
export function readReservation(
  reservation: Reservation | undefined,
  envelope: EventEnvelope,
): ReservationState {
  if (!reservation) throw new InvalidArgument("reservation", "is required");
  const status = RESERVATION_STATUS.required("reservation.status", reservation.status);
  return {
    reservationId: reservation.reservationId,
    personId: reservation.personId,
    hospitalId: reservation.hospitalId,
    vaccineId: reservation.vaccineId,
    date: reservation.date === "" ? undefined : reservation.date,
    status,
    updatedAt: timeOf(reservation.updatedAt, envelope),
    eventId: envelope.id,
  };
}

/** The dose a VaccinationRecorded reports. */
export function readVaccination(record: VaccinationRecord | undefined): {
  hospitalId: string;
  vaccineId: string;
  status: VaccinationStatus;
} {
  if (!record) throw new InvalidArgument("record", "is required");
  const status = VACCINATION_STATUS.required("record.status", record.status);
  return { hospitalId: record.hospitalId, vaccineId: record.vaccineId, status };
}

/** The counts a StockChanged carries. */
export function readStock(event: StockChanged, envelope: EventEnvelope): StockLevels {
  return {
    hospitalId: event.hospitalId,
    vaccineId: event.vaccineId,
    available: event.available,
    given: event.given,
    discarded: event.discarded,
    remaining: event.remaining,
    booked: event.booked,
    bookable: event.bookable,
    changedAt: timeOf(event.changedAt, envelope),
    eventId: envelope.id,
  };
}

function timeOf(time: Timestamp | undefined, envelope: EventEnvelope): Date {
  return time ? timestampDate(time) : new Date(envelope.occurredAt);
}
