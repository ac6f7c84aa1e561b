/**
 * Inventory's events as it publishes them: recorded by Hospital, Vaccine, Supply and VaccineStock,
 * encoded by its outbox encoder.
 */
import { encodeInventoryEvent } from "@hexa/adapters/vaccination/inventory/events";
import {
  type AvailableDosesRegistered,
  type BookableDosesAvailable,
  type BookingHoldsExpired,
  type BookingsReleasedForDiscard,
  type DosesDiscarded,
  Hospital,
  type HospitalRegistered,
  type InventoryEvent,
  type StockChanged,
  Supply,
  Vaccine,
  type VaccineRegistered,
  VaccineStock,
} from "@hexa/core/vaccination/inventory";
import {
  AvailableDosesRegisteredSchema,
  BookableDosesAvailableSchema,
  BookingHoldsExpiredSchema,
  BookingsReleasedForDiscardSchema,
  DosesDiscardedSchema,
  HospitalRegisteredSchema,
  StockChangedSchema,
  VaccineRegisteredSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import type { PublishedEvents } from "../messages.ts";
import { last, world } from "./world.ts";

function hospital(): Hospital {
  return Hospital.register({ hospitalId: world.ids.next(), name: "St Mary's", dailyCapacity: 20 }, world);
}

function vaccine(): Vaccine {
  return Vaccine.register(
    { vaccineId: world.ids.next(), name: "Comirnaty", vials: 100, dosesRequired: 2 },
    world,
  );
}

/** A hospital's stock of a vaccine: 10 vials supplied, then `doses` doses of them registered. */
function stocked(doses: number): { supply: Supply; stock: VaccineStock } {
  const at = hospital();
  const of = vaccine();
  const stock = VaccineStock.empty(at.id, of.id);
  const supply = Supply.deliver(
    { supplyId: world.ids.next(), hospital: at.state, vaccine: of, vials: 10 },
    stock,
    world,
  );
  supply.registerAvailableDoses(doses, stock, world);
  return { supply, stock };
}

/** The last event of `type` among what an aggregate recorded. */
function lastOf<Event extends InventoryEvent>(events: readonly InventoryEvent[], type: Event["type"]): Event {
  return last(events.filter((event) => event.type === type)) as Event;
}

/** The administrator registers a hospital. */
export function hospitalRegistered(): HospitalRegistered {
  return last(hospital().pullEvents());
}

/** The administrator registers a vaccine. */
export function vaccineRegistered(): VaccineRegistered {
  return last(vaccine().pullEvents());
}

/** The vaccine manager registers the doses of a supply. */
export function availableDosesRegistered(): AvailableDosesRegistered {
  return lastOf(stocked(60).supply.pullEvents(), "vaccination.inventory.v1.AvailableDosesRegistered");
}

/** New doses make the hospital's vaccine bookable: the waitlist is alerted. */
export function bookableDosesAvailable(): BookableDosesAvailable {
  return lastOf(stocked(60).stock.pullEvents(), "vaccination.inventory.v1.BookableDosesAvailable");
}

/** A booking holds one of the hospital's doses: its stock changes. */
export function stockChanged(): StockChanged {
  const { stock } = stocked(60);
  stock.book(world);
  return lastOf(stock.pullEvents(), "vaccination.inventory.v1.StockChanged");
}

/** The vaccine manager discards doses, leaving fewer than are booked (before the releases). */
export function dosesDiscarded(): DosesDiscarded {
  const { stock } = stocked(3);
  stock.book(world);
  stock.book(world);
  stock.discard(2, "cold chain broken", world);
  return lastOf(stock.pullEvents(), "vaccination.inventory.v1.DosesDiscarded");
}

/** The discard left fewer doses than bookings: inventory releases the latest booking. */
export function bookingsReleasedForDiscard(): BookingsReleasedForDiscard {
  const { stock } = stocked(3);
  stock.book(world);
  stock.book(world);
  stock.discard(2, "cold chain broken", world);
  stock.release(undefined, world);
  stock.releasedForDiscard([{ reservationId: world.ids.next(), date: "2030-06-03" }], world);
  return lastOf(stock.pullEvents(), "vaccination.inventory.v1.BookingsReleasedForDiscard");
}

/** A booking's hold lapsed before reservation confirmed it: inventory releases it. */
export function bookingHoldsExpired(): BookingHoldsExpired {
  const { stock } = stocked(3);
  stock.book(world);
  stock.release(undefined, world);
  stock.holdsExpired([{ reservationId: world.ids.next(), date: "2030-06-03" }], world);
  return lastOf(stock.pullEvents(), "vaccination.inventory.v1.BookingHoldsExpired");
}

export const inventoryEvents: PublishedEvents = {
  [HospitalRegisteredSchema.typeName]: () => encodeInventoryEvent(hospitalRegistered()),
  [VaccineRegisteredSchema.typeName]: () => encodeInventoryEvent(vaccineRegistered()),
  [AvailableDosesRegisteredSchema.typeName]: () => encodeInventoryEvent(availableDosesRegistered()),
  [BookableDosesAvailableSchema.typeName]: () => encodeInventoryEvent(bookableDosesAvailable()),
  [StockChangedSchema.typeName]: () => encodeInventoryEvent(stockChanged()),
  [DosesDiscardedSchema.typeName]: () => encodeInventoryEvent(dosesDiscarded()),
  [BookingsReleasedForDiscardSchema.typeName]: () => encodeInventoryEvent(bookingsReleasedForDiscard()),
  [BookingHoldsExpiredSchema.typeName]: () => encodeInventoryEvent(bookingHoldsExpired()),
};
