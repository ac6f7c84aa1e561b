import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  VACCINATION_STATUSES,
  type VaccinationEvent,
  type VaccinationRecord,
} from "@hexa/core/vaccination/vaccination";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import {
  type VaccinationRecordSchema,
  VaccinationStatusSchema,
} from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import { enumMapping } from "../../kit/enum-mapping.ts";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

export const STATUS = enumMapping(VACCINATION_STATUSES, VaccinationStatusSchema);

/** A dose as the contract's VaccinationRecord: a walk-in's reservation id is empty. */
export function recordToProto(record: VaccinationRecord): MessageInitShape<typeof VaccinationRecordSchema> {
  return {
    ...record,
    reservationId: record.reservationId ?? "",
    status: STATUS.toProto(record.status),
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
