import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { OrderEvent } from "@hexa/core/trial/order";
import {
  CancellationReason,
  OrderCancelledSchema,
  OrderPlacedSchema,
  OrderRejectedSchema,
  ReturnReason,
  ReturnRequestedSchema,
} from "@hexa/proto/trial/order/v1/events_pb";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

const CANCELLATION = {
  CUSTOMER: CancellationReason.CUSTOMER,
  PLAN_ENDED: CancellationReason.PLAN_ENDED,
} as const;
const RETURN = {
  CUSTOMER: ReturnReason.CUSTOMER,
  TRIAL_ENDED: ReturnReason.TRIAL_ENDED,
  PLAN_ENDED: ReturnReason.PLAN_ENDED,
  CANCELLED_AFTER_DELIVERY: ReturnReason.CANCELLED_AFTER_DELIVERY,
} as const;

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
        reason: CANCELLATION[event.data.reason],
        cancelledAt: timestampFromDate(event.data.cancelledAt),
      });
    case "trial.order.v1.ReturnRequested":
      return encodeEvent(event, ReturnRequestedSchema, {
        ...event.data,
        reason: RETURN[event.data.reason],
        requestedAt: timestampFromDate(event.data.requestedAt),
      });
    case "trial.order.v1.OrderRejected":
      return encodeEvent(event, OrderRejectedSchema, {
        ...event.data,
        rejectedAt: timestampFromDate(event.data.rejectedAt),
      });
  }
}
