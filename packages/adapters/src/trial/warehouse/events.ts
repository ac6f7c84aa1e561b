import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { STOCK_CHANGE_REASONS, type WarehouseEvent } from "@hexa/core/trial/warehouse";
import {
  StockChangedSchema,
  StockChangeReasonSchema,
  StockReservedSchema,
  StockShortageSchema,
} from "@hexa/proto/trial/warehouse/v1/events_pb";
import { enumMapping } from "../../kit/enum-mapping.ts";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

const REASON = enumMapping(STOCK_CHANGE_REASONS, StockChangeReasonSchema);

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
        reason: REASON.toProto(event.data.reason),
        changedAt: timestampFromDate(event.data.changedAt),
      });
  }
}
