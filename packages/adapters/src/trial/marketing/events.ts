import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MarketingEvent } from "@hexa/core/trial/marketing";
import { PlanEndedSchema, PlanStartedSchema } from "@hexa/proto/trial/marketing/v1/events_pb";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

/** The wire form of marketing's events: protobuf JSON of the messages in trial/marketing/v1/events.proto. */
export function encodeMarketingEvent(event: MarketingEvent): EventEnvelope {
  switch (event.type) {
    case "trial.marketing.v1.PlanStarted":
      return encodeEvent(event, PlanStartedSchema, {
        ...event.data,
        startedAt: timestampFromDate(event.data.startedAt),
      });
    case "trial.marketing.v1.PlanEnded":
      return encodeEvent(event, PlanEndedSchema, {
        ...event.data,
        endedAt: timestampFromDate(event.data.endedAt),
      });
  }
}
