import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CANCELLATION_REASONS, type OrderEvent, RETURN_REASONS } from "@hexa/core/trial/order";
import {
  CancellationReasonSchema,
  OrderCancelledSchema,
  OrderPlacedSchema,
  OrderRejectedSchema,
  ReturnReasonSchema,
  ReturnRequestedSchema,
} from "@hexa/proto/trial/order/v1/events_pb";
import { enumMapping } from "../../kit/enum-mapping.ts";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

const CANCELLATION = enumMapping(CANCELLATION_REASONS, CancellationReasonSchema);
const RETURN = enumMapping(RETURN_REASONS, ReturnReasonSchema);

/** The wire form of order's events: protobuf JSON of the messages in trial/order/v1/events.proto. */
export function encodeOrderEvent(event: OrderEvent): EventEnvelope {
  switch (event.type) {
    case "trial.order.v1.OrderPlaced":
      return encodeEvent(event, OrderPlacedSchema, {
        ...event.data,
        placedAt: timestampFromDate(event.data.placedAt),
        returnDueAt: timestampFromDate(event.data.returnDueAt),
      });
    case "trial.order.v1.OrderCancelled":
      return encodeEvent(event, OrderCancelledSchema, {
        ...event.data,
        reason: CANCELLATION.toProto(event.data.reason),
        cancelledAt: timestampFromDate(event.data.cancelledAt),
      });
    case "trial.order.v1.ReturnRequested":
      return encodeEvent(event, ReturnRequestedSchema, {
        ...event.data,
        reason: RETURN.toProto(event.data.reason),
        requestedAt: timestampFromDate(event.data.requestedAt),
      });
    case "trial.order.v1.OrderRejected":
      return encodeEvent(event, OrderRejectedSchema, {
        ...event.data,
        rejectedAt: timestampFromDate(event.data.rejectedAt),
      });
  }
}
