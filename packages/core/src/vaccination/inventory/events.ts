import type { DomainEvent } from "../../shared/index.ts";

/** A hospital can now be supplied and booked, up to its daily capacity. Aggregate: the hospital. */
export type HospitalRegistered = DomainEvent<
  "vaccination.inventory.v1.HospitalRegistered",
  { hospitalId: string; name: string; dailyCapacity: number; registeredAt: Date }
>;

/** A vaccine can now be supplied; vaccination keeps the doses required. Aggregate: the vaccine. */
export type VaccineRegistered = DomainEvent<
  "vaccination.inventory.v1.VaccineRegistered",
  { vaccineId: string; name: string; dosesRequired: number; registeredAt: Date }
>;

/** Vials left the central stock for a hospital. Aggregate: the supply. */
export type VaccineSupplied = DomainEvent<
  "vaccination.inventory.v1.VaccineSupplied",
  { supplyId: string; hospitalId: string; vaccineId: string; vials: number; suppliedAt: Date }
>;

/** The vaccine manager registered how many doses of a supply can be given. Aggregate: the supply. */
export type AvailableDosesRegistered = DomainEvent<
  "vaccination.inventory.v1.AvailableDosesRegistered",
  { supplyId: string; hospitalId: string; vaccineId: string; doses: number; registeredAt: Date }
>;

/**
 * Doses were discarded at a hospital; `remaining` is the count after it, `booked` before the
 * bookings it released (BookingsReleasedForDiscard). Aggregate: the stock.
 */
export type DosesDiscarded = DomainEvent<
  "vaccination.inventory.v1.DosesDiscarded",
  {
    hospitalId: string;
    vaccineId: string;
    doses: number;
    reason: string;
    remaining: number;
    booked: number;
    discardedAt: Date;
  }
>;

/**
 * A discard left fewer doses than bookings: inventory released exactly the difference, chosen by
 * the latest date, then the latest booked, then the greatest reservation id. Reservation cancels
 * them (reason DISCARD). Aggregate: the stock.
 */
export type BookingsReleasedForDiscard = DomainEvent<
  "vaccination.inventory.v1.BookingsReleasedForDiscard",
  {
    hospitalId: string;
    vaccineId: string;
    bookings: ReadonlyArray<{ reservationId: string; date: string }>;
    releasedAt: Date;
  }
>;

/**
 * Bookings whose hold lapsed unconfirmed (the Reserve that took them never registered its
 * reservation in time): inventory released them. Reservation cancels any of them it registered
 * after all (reason HOLD_EXPIRED) and never registers the others. Aggregate: the stock.
 */
export type BookingHoldsExpired = DomainEvent<
  "vaccination.inventory.v1.BookingHoldsExpired",
  {
    hospitalId: string;
    vaccineId: string;
    bookings: ReadonlyArray<{ reservationId: string; date: string }>;
    releasedAt: Date;
  }
>;

/**
 * Why doses became bookable again: new doses registered, or a person's own cancellation. A manager's
 * cancellation, a rejection, an abandoned booking or a discard never alerts the waitlist.
 */
export const BOOKABLE_CAUSES = ["NEW_DOSES", "PERSON_CANCELLED"] as const;
export type BookableCause = (typeof BOOKABLE_CAUSES)[number];

/** The hospital has bookable doses of the vaccine again; reservation alerts its waitlist. Aggregate: the stock. */
export type BookableDosesAvailable = DomainEvent<
  "vaccination.inventory.v1.BookableDosesAvailable",
  { hospitalId: string; vaccineId: string; bookable: number; cause: BookableCause; at: Date }
>;

/** A hospital's stock of a vaccine after any change, with all its counts. Aggregate: the stock. */
export type StockChanged = DomainEvent<
  "vaccination.inventory.v1.StockChanged",
  {
    hospitalId: string;
    vaccineId: string;
    suppliedVials: number;
    available: number;
    given: number;
    discarded: number;
    remaining: number;
    booked: number;
    bookable: number;
    changedAt: Date;
  }
>;

export type HospitalEvent = HospitalRegistered;
export type VaccineEvent = VaccineRegistered;
export type SupplyEvent = VaccineSupplied | AvailableDosesRegistered;
export type StockEvent =
  | DosesDiscarded
  | BookingsReleasedForDiscard
  | BookingHoldsExpired
  | BookableDosesAvailable
  | StockChanged;

export type InventoryEvent = HospitalEvent | VaccineEvent | SupplyEvent | StockEvent;
