import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { InvalidArgument } from "@hexa/core/shared";
import type {
  ReservationState,
  ReservationStatus as ReservationStatusName,
  StockLevels,
  VaccinationStatus as VaccinationStatusName,
} from "@hexa/core/vaccination/dashboard";
import type { StockChanged } from "@hexa/proto/vaccination/inventory/v1/events_pb";
import { type Reservation, ReservationStatus } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import {
  type VaccinationRecord,
  VaccinationStatus,
} from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import type { EventEnvelope } from "../../messaging/bus.ts";

/**
 * Reads the events the dashboard consumes into what its policies take. A field the event leaves
 * empty is refused (InvalidArgument naming it, so the event is dead-lettered with a clear error),
 * except the times: a state without its own time takes the envelope's.
 */

const RESERVATION_STATUS: Record<ReservationStatus, ReservationStatusName | undefined> = {
  [ReservationStatus.UNSPECIFIED]: undefined,
  [ReservationStatus.WAITLISTED]: "WAITLISTED",
  [ReservationStatus.REGISTERED]: "REGISTERED",
  [ReservationStatus.CONFIRMED]: "CONFIRMED",
  [ReservationStatus.REJECTED]: "REJECTED",
  [ReservationStatus.CANCELLED]: "CANCELLED",
  [ReservationStatus.VACCINATED]: "VACCINATED",
};

const VACCINATION_STATUS: Record<VaccinationStatus, VaccinationStatusName | undefined> = {
  [VaccinationStatus.UNSPECIFIED]: undefined,
  [VaccinationStatus.IN_PROGRESS]: "IN_PROGRESS",
  [VaccinationStatus.COMPLETED]: "COMPLETED",
};

/** The reservation a reservation event carries, as the state the dashboard keeps. */
export function readReservation(
  reservation: Reservation | undefined,
  envelope: EventEnvelope,
): ReservationState {
  if (!reservation) throw new InvalidArgument("reservation", "is required");
  const status = RESERVATION_STATUS[reservation.status];
  if (!status)
    throw new InvalidArgument("reservation.status", `${reservation.status} is not a reservation status`);
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
  status: VaccinationStatusName;
} {
  if (!record) throw new InvalidArgument("record", "is required");
  const status = VACCINATION_STATUS[record.status];
  if (!status) throw new InvalidArgument("record.status", `${record.status} is not a vaccination status`);
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
