import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { StockChangeReason as Reason, WarehouseEvent } from "@hexa/core/trial/warehouse";
import {
  StockChangedSchema,
  StockChangeReason,
  StockReservedSchema,
  StockShortageSchema,
} from "@hexa/proto/trial/warehouse/v1/events_pb";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

const REASON: Record<Reason, StockChangeReason> = {
  RESTOCKED: StockChangeReason.RESTOCKED,
  RESERVED: StockChangeReason.RESERVED,
  RELEASED: StockChangeReason.RELEASED,
  DELIVERED: StockChangeReason.DELIVERED,
  RETURNED: StockChangeReason.RETURNED,
};

/** The wire form of warehouse's events: protobuf JSON of the messages in trial/warehouse/v1/events.proto. */
export function encodeWarehouseEvent(event: WarehouseEvent): EventEnvelope {
  switch (event.type) {
    case "trial.warehouse.v1.StockReserved":
      return encodeEvent(event, StockReservedSchema, {
        ...event.data,
        reservedAt: timestampFromDate(event.data.reservedAt),
      });
    case "trial.warehouse.v1.StockShortage":
      return encodeEvent(event, StockShortageSchema, {
        ...event.data,
        checkedAt: timestampFromDate(event.data.checkedAt),
      });
    case "trial.warehouse.v1.StockChanged":
      return encodeEvent(event, StockChangedSchema, {
        ...event.data,
        reason: REASON[event.data.reason],
        changedAt: timestampFromDate(event.data.changedAt),
      });
  }
}
