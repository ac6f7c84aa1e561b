import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { BOOKABLE_CAUSES, type InventoryEvent } from "@hexa/core/vaccination/inventory";
import {
  AvailableDosesRegisteredSchema,
  BookableCauseSchema,
  BookableDosesAvailableSchema,
  BookingHoldsExpiredSchema,
  BookingsReleasedForDiscardSchema,
  DosesDiscardedSchema,
  HospitalRegisteredSchema,
  StockChangedSchema,
  VaccineRegisteredSchema,
  VaccineSuppliedSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import { enumMapping } from "../../kit/enum-mapping.ts";
import type { EventEnvelope } from "../../messaging/bus.ts";
import { encodeEvent } from "../../messaging/encoding.ts";

const CAUSE = enumMapping(BOOKABLE_CAUSES, BookableCauseSchema);

/** The wire form of inventory's events: protobuf JSON of the messages in vaccination/inventory/v1/events.proto. */
export function encodeInventoryEvent(event: InventoryEvent): EventEnvelope {
  switch (event.type) {
    case "vaccination.inventory.v1.HospitalRegistered":
      return encodeEvent(event, HospitalRegisteredSchema, {
        ...event.data,
        registeredAt: timestampFromDate(event.data.registeredAt),
      });
    case "vaccination.inventory.v1.VaccineRegistered":
      return encodeEvent(event, VaccineRegisteredSchema, {
        ...event.data,
        registeredAt: timestampFromDate(event.data.registeredAt),
      });
    case "vaccination.inventory.v1.VaccineSupplied":
      return encodeEvent(event, VaccineSuppliedSchema, {
        ...event.data,
        suppliedAt: timestampFromDate(event.data.suppliedAt),
      });
    case "vaccination.inventory.v1.AvailableDosesRegistered":
      return encodeEvent(event, AvailableDosesRegisteredSchema, {
        ...event.data,
        registeredAt: timestampFromDate(event.data.registeredAt),
      });
    case "vaccination.inventory.v1.DosesDiscarded":
      return encodeEvent(event, DosesDiscardedSchema, {
        ...event.data,
        discardedAt: timestampFromDate(event.data.discardedAt),
      });
    case "vaccination.inventory.v1.BookingsReleasedForDiscard":
      return encodeEvent(event, BookingsReleasedForDiscardSchema, {
        ...event.data,
        bookings: [...event.data.bookings],
        releasedAt: timestampFromDate(event.data.releasedAt),
      });
    case "vaccination.inventory.v1.BookingHoldsExpired":
      return encodeEvent(event, BookingHoldsExpiredSchema, {
        ...event.data,
        bookings: [...event.data.bookings],
        releasedAt: timestampFromDate(event.data.releasedAt),
      });
    case "vaccination.inventory.v1.BookableDosesAvailable":
      return encodeEvent(event, BookableDosesAvailableSchema, {
        ...event.data,
        cause: CAUSE.toProto(event.data.cause),
        at: timestampFromDate(event.data.at),
      });
    case "vaccination.inventory.v1.StockChanged":
      return encodeEvent(event, StockChangedSchema, {
        ...event.data,
        changedAt: timestampFromDate(event.data.changedAt),
      });
  }
}
