import type { Booking } from "./booking.ts";
import type { DateCapacity } from "./date-capacity.ts";
import type { Hospital, HospitalState } from "./hospital.ts";
import type { StockState, VaccineStock } from "./stock.ts";
import type { Supply } from "./supply.ts";
import type { Vaccine, VaccineState } from "./vaccine.ts";

/** A page of a list in id order (UUIDv7 ids: oldest first). */
export interface IdPage {
  /** The id the previous page ended with; undefined for the first page. */
  readonly after: string | undefined;
  readonly limit: number;
}

/** Hospitals as queries read them. */
export interface HospitalReads {
  get(hospitalId: string): Promise<Hospital | undefined>;
  list(page: IdPage): Promise<HospitalState[]>;
}

/** Where hospitals are kept. `save` also hands the hospital's recorded events to the outbox. */
export interface Hospitals extends HospitalReads {
  save(hospital: Hospital): Promise<void>;
}

/** Vaccines as queries read them. */
export interface VaccineReads {
  get(vaccineId: string): Promise<Vaccine | undefined>;
  list(page: IdPage): Promise<VaccineState[]>;
}

/** Hospitals' stocks as queries read them. */
export interface StockReads {
  /** Every vaccine's stock at the hospital, in vaccine id order. */
  ofHospital(hospitalId: string): Promise<StockState[]>;
}

/** What inventory's queries read: outside a unit of work, nothing locked. */
export interface InventoryReads {
  readonly hospitals: HospitalReads;
  readonly vaccines: VaccineReads;
  readonly stocks: StockReads;
}

/**
 * Where vaccines are kept. In a unit of work `get` locks the vaccine until commit, so concurrent
 * supplies take vials from its central stock one after the other.
 */
export interface Vaccines extends VaccineReads {
  /** Whether the vaccine is registered; locks nothing. */
  has(vaccineId: string): Promise<boolean>;
  save(vaccine: Vaccine): Promise<void>;
}

/** Where supplies are kept. In a unit of work `get` locks the supply until commit. */
export interface Supplies {
  get(supplyId: string): Promise<Supply | undefined>;
  save(supply: Supply): Promise<void>;
}

/**
 * Where hospitals' stocks of vaccines are kept. In a unit of work `get` locks the stock until
 * commit, even before it has a row, so bookings, releases, supplies and vaccinations of one stock
 * take turns. `save` writes only a changed stock and hands its recorded events to the outbox.
 * A unit of work that needs several stocks locks them in (hospital id, vaccine id) order.
 */
export interface Stocks {
  get(hospitalId: string, vaccineId: string): Promise<VaccineStock | undefined>;
  save(stock: VaccineStock): Promise<void>;
}

/**
 * Where the slots taken per hospital and date are kept. In a unit of work `get` locks the date
 * until commit, even before it has a row. `save` writes only a changed one.
 */
export interface DateCapacities {
  get(hospitalId: string, date: string): Promise<DateCapacity | undefined>;
  save(capacity: DateCapacity): Promise<void>;
}

/**
 * Where bookings are kept, one per reservation id. In a unit of work `get` locks the reservation id
 * until commit, even before a booking exists, so repeated calls and events about one reservation
 * take turns. `save` writes only a new or changed booking.
 */
export interface Bookings {
  /** Reads the booking as committed now (never a copy read earlier in the unit of work). */
  get(reservationId: string): Promise<Booking | undefined>;
  /** The bookings of several reservation ids, by id; in a unit of work every id is locked, in id order. */
  getAll(reservationIds: readonly string[]): Promise<Map<string, Booking>>;
  save(booking: Booking): Promise<void>;
  /**
   * Writes a confirmed hold (its lease only), unless the booking was released meanwhile: a discard
   * releases bookings under the stock's lock, not the booking's, and a confirmation must not write
   * its BOOKED back over that release.
   */
  saveConfirmed(booking: Booking): Promise<void>;
  /**
   * The bookings holding a dose of the hospital's stock of the vaccine. Read under the stock's lock,
   * they are all of them: every change of a booking's hold also changes the stock.
   */
  heldOf(hospitalId: string, vaccineId: string): Promise<Booking[]>;
  /**
   * Up to `limit` reservation ids of bookings whose unconfirmed hold lapsed by `now`, the earliest
   * lapsed first, read as committed (nothing locked).
   */
  lapsed(now: Date, limit: number): Promise<string[]>;
  /**
   * Claims those of `reservationIds` whose unconfirmed hold still lapsed by `now`: each is locked as
   * `get` locks it, and one another unit of work holds is skipped (so replicas running the same job
   * settle each once). Returns their reservation ids.
   */
  claimExpired(reservationIds: readonly string[], now: Date): Promise<string[]>;
  /** Writes the new or changed ones among `bookings`, in one statement. */
  saveAll(bookings: readonly Booking[]): Promise<void>;
}

/** What reservation answered about the reservations asked, or that it could not be asked. */
export type OutstandingAnswer =
  | { readonly answered: true; readonly outstanding: ReadonlySet<string> }
  | { readonly answered: false; readonly error: string };

/**
 * Reservation's synchronous answer to which reservations are outstanding there (REGISTERED or
 * CONFIRMED), asked before a lapsed hold is released. It answers within a bounded time; `answered`
 * is false when reservation cannot be reached in time (down, timing out, its breaker open).
 */
export interface OutstandingReservations {
  among(reservationIds: readonly string[]): Promise<OutstandingAnswer>;
}
