import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { OrderEvent } from "@hexa/core/trial/order";
import { OrderPlacedSchema } from "@hexa/proto/trial/order/v1/events_pb";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

/** The wire form of order's events: protobuf JSON of the messages in trial/order/v1/events.proto. */
export function encodeOrderEvent(event: OrderEvent): EventEnvelope {
  switch (event.type) {
    case "trial.order.v1.OrderPlaced":
      return encodeEvent(event, OrderPlacedSchema, {
        ...event.data,
        placedAt: timestampFromDate(event.data.placedAt),
        returnDueAt: timestampFromDate(event.data.returnDueAt),
      });
  }
}
