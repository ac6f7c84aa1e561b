import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type {
  VaccinationEvent,
  VaccinationRecord,
  VaccinationStatus,
} from "@hexa/core/vaccination/vaccination";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import {
  VaccinationStatus as ProtoStatus,
  type VaccinationRecordSchema,
} from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

export const STATUS: Record<VaccinationStatus, ProtoStatus> = {
  IN_PROGRESS: ProtoStatus.IN_PROGRESS,
  COMPLETED: ProtoStatus.COMPLETED,
};

/** A dose as the contract's VaccinationRecord: a walk-in's reservation id is empty. */
export function recordToProto(record: VaccinationRecord): MessageInitShape<typeof VaccinationRecordSchema> {
  return {
    ...record,
    reservationId: record.reservationId ?? "",
    status: STATUS[record.status],
    vaccinatedAt: timestampFromDate(record.vaccinatedAt),
  };
}

/** The wire form of vaccination's events: protobuf JSON of the messages in vaccination/vaccination/v1/events.proto. */
export function encodeVaccinationEvent(event: VaccinationEvent): EventEnvelope {
  switch (event.type) {
    case "vaccination.vaccination.v1.VaccinationRecorded":
      return encodeEvent(event, VaccinationRecordedSchema, { record: recordToProto(event.data) });
  }
}
