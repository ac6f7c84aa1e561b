import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { DeliveryEvent } from "@hexa/core/trial/delivery";
import {
  DeliveryCancelledSchema,
  DeliveryCompletedSchema,
  DeliveryStartedSchema,
  PickupCompletedSchema,
  PickupRequestedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

/** The wire form of delivery's events: protobuf JSON of the messages in trial/delivery/v1/events.proto. */
export function encodeDeliveryEvent(event: DeliveryEvent): EventEnvelope {
  switch (event.type) {
    case "trial.delivery.v1.DeliveryStarted":
      return encodeEvent(event, DeliveryStartedSchema, {
        ...event.data,
        startedAt: timestampFromDate(event.data.startedAt),
      });
    case "trial.delivery.v1.DeliveryCompleted":
      return encodeEvent(event, DeliveryCompletedSchema, {
        ...event.data,
        deliveredAt: timestampFromDate(event.data.deliveredAt),
      });
    case "trial.delivery.v1.DeliveryCancelled":
      return encodeEvent(event, DeliveryCancelledSchema, {
        ...event.data,
        cancelledAt: timestampFromDate(event.data.cancelledAt),
      });
    case "trial.delivery.v1.PickupRequested":
      return encodeEvent(event, PickupRequestedSchema, {
        ...event.data,
        requestedAt: timestampFromDate(event.data.requestedAt),
      });
    case "trial.delivery.v1.PickupCompleted":
      return encodeEvent(event, PickupCompletedSchema, {
        ...event.data,
        pickedUpAt: timestampFromDate(event.data.pickedUpAt),
      });
  }
}
