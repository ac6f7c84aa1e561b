import { type EventContext, NotFound, requireUuid } from "../../shared/index.ts";
import {
  BOOKING_HOLD_LEASE_MS,
  Booking,
  type BookingOutcome,
  type CancellationReason,
  latestBookingFirst,
  type ReleaseCause,
  type ReleasedReservation,
  type SlotRequest,
} from "./booking.ts";
import { DateCapacity, dayOf, requireBookableDate } from "./date-capacity.ts";
import { Hospital, type HospitalState } from "./hospital.ts";
import type {
  Bookings,
  DateCapacities,
  HospitalReads,
  Hospitals,
  IdPage,
  InventoryReads,
  OutstandingReservations,
  Stocks,
  Supplies,
  VaccineReads,
  Vaccines,
} from "./ports.ts";
import { type StockState, stockId, VaccineStock } from "./stock.ts";
import { Supply, type SupplyState } from "./supply.ts";
import { Vaccine, type VaccineState } from "./vaccine.ts";

/**
 * Inventory's ports. A unit of work that locks several things locks them in one order, so two of
 * them never wait on each other: the booking (reservation id), then the vaccine or the supply, then
 * stocks in (hospital id, vaccine id) order, then the date.
 */
export interface InventoryPorts extends EventContext {
  readonly hospitals: Hospitals;
  readonly vaccines: Vaccines;
  readonly supplies: Supplies;
  readonly stocks: Stocks;
  readonly capacities: DateCapacities;
  readonly bookings: Bookings;
  /** How long a booking's hold waits for reservation's confirmation ({@link BOOKING_HOLD_LEASE_MS} by default). */
  readonly holdLeaseMs: number;
}

export interface RegisterHospital {
  readonly name: string;
  readonly dailyCapacity: number;
}

/** The administrator registers a hospital with its daily maximum of vaccinations. */
export async function registerHospital(
  ports: Pick<InventoryPorts, "hospitals" | "clock" | "ids">,
  command: RegisterHospital,
): Promise<HospitalState> {
  const hospital = Hospital.register({ ...command, hospitalId: ports.ids.next() }, ports);
  await ports.hospitals.save(hospital);
  return hospital.state;
}

export interface RegisterVaccine {
  readonly name: string;
  readonly vials: number;
  readonly dosesRequired: number;
}

/** The administrator registers a vaccine with its central stock of vials and the doses a person needs. */
export async function registerVaccine(
  ports: Pick<InventoryPorts, "vaccines" | "clock" | "ids">,
  command: RegisterVaccine,
): Promise<VaccineState> {
  const vaccine = Vaccine.register({ ...command, vaccineId: ports.ids.next() }, ports);
  await ports.vaccines.save(vaccine);
  return vaccine.state;
}

export interface SupplyVaccine {
  readonly hospitalId: string;
  readonly vaccineId: string;
  readonly vials: number;
}

/** The administrator supplies vials of a vaccine from the central stock to a hospital. */
export async function supplyVaccine(ports: InventoryPorts, command: SupplyVaccine): Promise<SupplyState> {
  const hospital = await loadHospital(ports.hospitals, command.hospitalId);
  const vaccine = await loadVaccine(ports.vaccines, command.vaccineId);
  const stock = await loadStock(ports.stocks, hospital.id, vaccine.id);
  const supply = Supply.deliver(
    { supplyId: ports.ids.next(), hospital: hospital.state, vaccine, vials: command.vials },
    stock,
    ports,
  );
  await ports.vaccines.save(vaccine);
  await ports.supplies.save(supply);
  await ports.stocks.save(stock);
  return supply.state;
}

export interface RegisterAvailableDoses {
  readonly supplyId: string;
  readonly doses: number;
}

/** The vaccine manager registers how many doses of a supply can be given; the waitlist is alerted. */
export async function registerAvailableDoses(
  ports: InventoryPorts,
  command: RegisterAvailableDoses,
): Promise<{ supply: SupplyState; stock: StockState }> {
  const supply = await ports.supplies.get(requireUuid("supplyId", command.supplyId));
  if (!supply) throw new NotFound("Supply", command.supplyId);
  const stock = await loadStock(ports.stocks, supply.state.hospitalId, supply.state.vaccineId);
  supply.registerAvailableDoses(command.doses, stock, ports);
  await ports.supplies.save(supply);
  await ports.stocks.save(stock);
  return { supply: supply.state, stock: stock.state };
}

export interface DiscardDoses {
  readonly hospitalId: string;
  readonly vaccineId: string;
  readonly doses: number;
  readonly reason: string;
}

/**
 * The vaccine manager discards doses at a hospital. Inventory holds the booked count, so it decides
 * what follows, in the same unit of work: when fewer doses remain than bookings hold, exactly the
 * difference is released, the latest date first, then the latest booked, then the greatest
 * reservation id ({@link latestBookingFirst}); BookingsReleasedForDiscard tells reservation which
 * to cancel. No waitlist is alerted.
 */
export async function discardDoses(ports: InventoryPorts, command: DiscardDoses): Promise<StockState> {
  const hospital = await loadHospital(ports.hospitals, command.hospitalId);
  const vaccine = await loadKnownVaccine(ports.vaccines, command.vaccineId);
  const stock = await loadStock(ports.stocks, hospital.id, vaccine);
  stock.discard(command.doses, command.reason, ports);
  const excess = stock.overbooked;
  if (excess > 0) {
    const released = (await ports.bookings.heldOf(hospital.id, vaccine))
      .sort(latestBookingFirst)
      .slice(0, excess);
    const capacities = new Map<string, DateCapacity>();
    for (const date of [...new Set(released.map((booking) => booking.state.date))].sort()) {
      capacities.set(date, await loadCapacity(ports.capacities, hospital.id, date));
    }
    for (const booking of released) {
      booking.release(
        stock,
        capacities.get(booking.state.date) as DateCapacity,
        { event: "DosesDiscarded" },
        ports,
      );
    }
    stock.releasedForDiscard(
      released.map((booking) => ({ reservationId: booking.id, date: booking.state.date })),
      ports,
    );
    for (const capacity of capacities.values()) await ports.capacities.save(capacity);
    await ports.bookings.saveAll(released);
  }
  await ports.stocks.save(stock);
  return stock.state;
}

export interface TakeBookingSlot {
  readonly reservationId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** "YYYY-MM-DD", today or later by the clock (UTC). */
  readonly date: string;
}

export interface BookingAnswer {
  readonly outcome: BookingOutcome;
  /** The hospital's bookable doses of the vaccine after the answer. */
  readonly bookable: number;
  /** The date's slots left at the hospital after the answer. */
  readonly dateSlotsLeft: number;
}

/**
 * Reservation's synchronous booking call: one dose and one slot of the date for the reservation,
 * atomically (the stock and the date are locked together). The same reservation id answers the
 * same and never takes a second dose.
 */
export async function takeBookingSlot(
  ports: InventoryPorts,
  command: TakeBookingSlot,
): Promise<BookingAnswer> {
  const [answered] = await takeBookingSlots(ports, [requireSlotRequest(command, ports)]);
  if (!answered) throw new Error("no answer for the booking call");
  return answered;
}

/**
 * Booking calls of one hospital's stock of one vaccine, in one unit of work, answered in order as
 * if one after the other: their reservation ids are locked first, then the stock and each date,
 * once for them all. So a burst of calls for one stock takes its lock once per batch, not once per
 * call. A reservation id answered before gets its first answer again and takes nothing.
 */
export async function takeBookingSlots(
  ports: InventoryPorts,
  requests: readonly SlotRequest[],
): Promise<BookingAnswer[]> {
  const [first] = requests;
  if (!first) return [];
  const { hospitalId, vaccineId } = first;
  if (requests.some((request) => request.hospitalId !== hospitalId || request.vaccineId !== vaccineId)) {
    throw new Error("booking calls of one batch must be for one hospital's stock of one vaccine");
  }
  const hospital = await loadHospital(ports.hospitals, hospitalId);
  const known = await ports.bookings.getAll(requests.map((request) => request.reservationId));
  // Only a registered vaccine is ever supplied, so only a hospital without its stock asks whether it is.
  const stock =
    (await ports.stocks.get(hospitalId, vaccineId)) ??
    VaccineStock.empty(hospitalId, await loadKnownVaccine(ports.vaccines, vaccineId));
  const capacities = new Map<string, DateCapacity>();
  for (const date of [...new Set(requests.map((request) => request.date))].sort()) {
    capacities.set(date, await loadCapacity(ports.capacities, hospitalId, date));
  }
  const answers = requests.map((request) => {
    const capacity = capacities.get(request.date) as DateCapacity;
    let booking = known.get(request.reservationId);
    if (!booking) {
      booking = Booking.take(request, hospital.state, stock, capacity, ports);
      known.set(request.reservationId, booking);
    }
    return answer(booking, hospital.state, stock, capacity);
  });
  await ports.stocks.save(stock);
  for (const capacity of capacities.values()) await ports.capacities.save(capacity);
  await ports.bookings.saveAll([...known.values()]);
  return answers;
}

/** A booking call's fields, checked: ids, and a date today or later by the clock (UTC). */
export function requireSlotRequest(command: TakeBookingSlot, context: EventContext): SlotRequest {
  return {
    reservationId: requireUuid("reservationId", command.reservationId),
    hospitalId: requireUuid("hospitalId", command.hospitalId),
    vaccineId: requireUuid("vaccineId", command.vaccineId),
    date: requireBookableDate("date", command.date, dayOf(context.clock.now())),
  };
}

function answer(
  booking: Booking,
  hospital: HospitalState,
  stock: VaccineStock,
  capacity: DateCapacity,
): BookingAnswer {
  return {
    outcome: booking.answer,
    bookable: stock.bookable,
    dateSlotsLeft: capacity.slotsLeft(hospital.dailyCapacity),
  };
}

export async function getHospital(
  ports: Pick<InventoryReads, "hospitals">,
  query: { hospitalId: string },
): Promise<HospitalState> {
  return (await loadHospital(ports.hospitals, query.hospitalId)).state;
}

/** Hospitals, oldest first, one page at a time. */
export function listHospitals(
  ports: Pick<InventoryReads, "hospitals">,
  page: IdPage,
): Promise<HospitalState[]> {
  return ports.hospitals.list(page);
}

export async function getVaccine(
  ports: Pick<InventoryReads, "vaccines">,
  query: { vaccineId: string },
): Promise<VaccineState> {
  return (await loadVaccine(ports.vaccines, query.vaccineId)).state;
}

/** Vaccines, oldest first, one page at a time. */
export function listVaccines(ports: Pick<InventoryReads, "vaccines">, page: IdPage): Promise<VaccineState[]> {
  return ports.vaccines.list(page);
}

/** A hospital's stock of every vaccine it was supplied, in vaccine id order. */
export async function getHospitalStock(
  ports: Pick<InventoryReads, "hospitals" | "stocks">,
  query: { hospitalId: string },
): Promise<StockState[]> {
  const hospital = await loadHospital(ports.hospitals, query.hospitalId);
  return ports.stocks.ofHospital(hospital.id);
}

/**
 * Policy: reservation cancelled a reservation, so its dose and slot are released. Only the person's
 * own cancellation alerts the waitlist.
 */
export function whenReservationCancelled(
  ports: InventoryPorts,
  cancelled: ReleasedReservation & { readonly reason: CancellationReason | undefined },
): Promise<void> {
  return release(ports, cancelled, { event: "ReservationCancelled", reason: cancelled.reason });
}

/** Policy: the reservation manager rejected a reservation, so its dose and slot are released. */
export function whenReservationRejected(ports: InventoryPorts, rejected: ReleasedReservation): Promise<void> {
  return release(ports, rejected, { event: "ReservationRejected" });
}

/**
 * Policy: a Reserve gave up on inventory after possibly reaching it, so whatever was taken for the
 * reservation id is released; when nothing was yet, a tombstone makes a late call take nothing.
 */
export function whenBookingAbandoned(ports: InventoryPorts, abandoned: ReleasedReservation): Promise<void> {
  return release(ports, abandoned, { event: "BookingAbandoned" });
}

/**
 * Policy: reservation registered a reservation, so the dose and slot its booking holds are held for
 * good: the hold's lease no longer runs. A booking already released (its hold lapsed first) stays
 * released; reservation cancels that reservation on BookingHoldsExpired.
 */
export async function whenReservationRegistered(
  ports: InventoryPorts,
  registered: { readonly reservationId: string },
): Promise<void> {
  const booking = await ports.bookings.get(requireUuid("reservationId", registered.reservationId));
  if (booking?.confirm(ports)) await ports.bookings.saveConfirmed(booking);
}

/**
 * What the hold-expiry job works with: reads outside any transaction, reservation's answer, and
 * units of work for settling. Reservation is asked outside any transaction, so a slow reservation
 * holds no database connection or lock.
 */
export interface HoldExpiryPorts extends EventContext {
  readonly bookings: Pick<Bookings, "lapsed">;
  readonly reservations: OutstandingReservations;
  /** Runs `work` in one transaction, with ports bound to it; commits when it returns. */
  unitOfWork<T>(work: (ports: InventoryPorts) => Promise<T>): Promise<T>;
}

/** One round of the hold-expiry job. */
export type HoldExpiryRound =
  /** Reservation answered: of the `lapsed` holds found, these were confirmed and released. */
  | { readonly lapsed: number; readonly confirmed: number; readonly released: number }
  /** Reservation could not be asked: nothing was settled, the next round asks again. */
  | { readonly lapsed: number; readonly unanswered: string };

/**
 * Job: settles up to `limit` bookings whose hold lapsed unconfirmed. Reservation is asked first, once
 * for all of them, which of their reservations it holds: those holds are confirmed (their
 * ReservationRegistered is late, e.g. the bus was down longer than the lease), the others released
 * (their Reserve died before registering). When reservation cannot answer, nothing is released: a
 * hold whose reservation may exist is never taken from it. The settling is one unit of work: the
 * bookings are claimed first, then their stocks and dates locked in order; BookingHoldsExpired tells
 * reservation, per stock, which were released. No waitlist is alerted.
 */
export async function settleLapsedHolds(ports: HoldExpiryPorts, limit: number): Promise<HoldExpiryRound> {
  const lapsed = await ports.bookings.lapsed(ports.clock.now(), limit);
  if (lapsed.length === 0) return { lapsed: 0, confirmed: 0, released: 0 };
  const answer = await ports.reservations.among(lapsed);
  if (!answer.answered) return { lapsed: lapsed.length, unanswered: answer.error };
  const settled = await ports.unitOfWork((work) => settleHolds(work, lapsed, answer.outstanding));
  return { lapsed: lapsed.length, ...settled };
}

async function settleHolds(
  ports: InventoryPorts,
  lapsed: readonly string[],
  outstanding: ReadonlySet<string>,
): Promise<{ confirmed: number; released: number }> {
  const claimed = await ports.bookings.claimExpired(lapsed, ports.clock.now());
  if (claimed.length === 0) return { confirmed: 0, released: 0 };
  const claimedBookings = [...(await ports.bookings.getAll(claimed)).values()];
  const stocks = await loadStocks(
    ports.stocks,
    claimedBookings.map((booking) => booking.state),
  );
  const capacities = new Map<string, DateCapacity>();
  const dates = [...new Set(claimedBookings.map(({ state }) => `${state.hospitalId}/${state.date}`))].sort();
  for (const key of dates) {
    const [hospitalId = "", date = ""] = key.split("/");
    capacities.set(key, await loadCapacity(ports.capacities, hospitalId, date));
  }
  // Read again under the stocks' locks: a discard may have released some meanwhile.
  const bookings = [...(await ports.bookings.getAll(claimed)).values()];
  const released = new Map<string, Booking[]>();
  let confirmed = 0;
  for (const booking of bookings) {
    const { hospitalId, vaccineId, date } = booking.state;
    const stock = stocks.get(stockId(hospitalId, vaccineId)) as VaccineStock;
    const capacity = capacities.get(`${hospitalId}/${date}`) as DateCapacity;
    const settled = booking.settleLapse(outstanding.has(booking.id), stock, capacity, ports);
    if (settled === "CONFIRMED") confirmed += 1;
    if (settled === "RELEASED") released.set(stock.id, [...(released.get(stock.id) ?? []), booking]);
  }
  for (const [id, ofStock] of released) {
    const held = ofStock.map((booking) => ({ reservationId: booking.id, date: booking.state.date }));
    (stocks.get(id) as VaccineStock).holdsExpired(held, ports);
  }
  for (const stock of stocks.values()) await ports.stocks.save(stock);
  for (const capacity of capacities.values()) await ports.capacities.save(capacity);
  await ports.bookings.saveAll(bookings);
  const releasedCount = [...released.values()].reduce((sum, ofStock) => sum + ofStock.length, 0);
  return { confirmed, released: releasedCount };
}

export interface RecordedVaccination {
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** The reservation the dose was booked with; empty for a walk-in. */
  readonly reservationId: string;
}

/**
 * Policy: vaccination recorded a dose given at a hospital: it counts as given, and no longer as
 * booked when the reservation held it. Never refused: the vaccination happened.
 */
export async function whenVaccinationRecorded(
  ports: InventoryPorts,
  recorded: RecordedVaccination,
): Promise<void> {
  const hospitalId = requireUuid("hospitalId", recorded.hospitalId);
  const vaccineId = requireUuid("vaccineId", recorded.vaccineId);
  const reservationId =
    recorded.reservationId === "" ? undefined : requireUuid("reservationId", recorded.reservationId);
  const found = reservationId === undefined ? undefined : await ports.bookings.get(reservationId);
  const given = { hospitalId, vaccineId };
  // The stock the booking holds its dose from, when it holds one: usually the same one.
  const held = found?.holdsDose ? found.state : given;
  const stocks = await loadStocks(ports.stocks, [given, held]);
  // Read again under the stocks' locks: a discard may have released it meanwhile.
  const booking = reservationId === undefined || !found ? found : await ports.bookings.get(reservationId);
  const stockAt = (key: StockKey) => stocks.get(stockId(key.hospitalId, key.vaccineId)) as VaccineStock;
  if (booking) {
    booking.vaccinate(stockAt(given), stockAt(held), ports);
    await ports.bookings.save(booking);
  } else {
    stockAt(given).recordVaccination(false, ports);
  }
  for (const stock of stocks.values()) await ports.stocks.save(stock);
}

async function release(
  ports: InventoryPorts,
  released: ReleasedReservation,
  cause: ReleaseCause,
): Promise<void> {
  const reservationId = requireUuid("reservationId", released.reservationId);
  const found = await ports.bookings.get(reservationId);
  if (found?.holdsDose) {
    const { hospitalId, vaccineId, date } = found.state;
    const stock = await loadStock(ports.stocks, hospitalId, vaccineId);
    const capacity = await loadCapacity(ports.capacities, hospitalId, date);
    // Read again under the stock's lock: a discard may have released it meanwhile.
    const booking = await ports.bookings.get(reservationId);
    if (!booking) throw new Error(`booking ${reservationId} vanished`);
    booking.release(stock, capacity, cause, ports);
    await ports.stocks.save(stock);
    await ports.capacities.save(capacity);
    await ports.bookings.save(booking);
    return;
  }
  const booking = found ?? Booking.tombstone({ ...released, reservationId }, ports);
  if (booking) await ports.bookings.save(booking);
}

async function loadHospital(hospitals: HospitalReads, hospitalId: string): Promise<Hospital> {
  const hospital = await hospitals.get(requireUuid("hospitalId", hospitalId));
  if (!hospital) throw new NotFound("Hospital", hospitalId);
  return hospital;
}

async function loadVaccine(vaccines: VaccineReads, vaccineId: string): Promise<Vaccine> {
  const vaccine = await vaccines.get(requireUuid("vaccineId", vaccineId));
  if (!vaccine) throw new NotFound("Vaccine", vaccineId);
  return vaccine;
}

/** Checks the vaccine is registered, without locking it: only supplies change a vaccine. */
async function loadKnownVaccine(vaccines: Vaccines, vaccineId: string): Promise<string> {
  if (!(await vaccines.has(requireUuid("vaccineId", vaccineId)))) throw new NotFound("Vaccine", vaccineId);
  return vaccineId;
}

async function loadStock(stocks: Stocks, hospitalId: string, vaccineId: string): Promise<VaccineStock> {
  return (await stocks.get(hospitalId, vaccineId)) ?? VaccineStock.empty(hospitalId, vaccineId);
}

interface StockKey {
  readonly hospitalId: string;
  readonly vaccineId: string;
}

/** Several stocks, each once, locked in (hospital id, vaccine id) order; keyed by stock id. */
async function loadStocks(stocks: Stocks, keys: readonly StockKey[]): Promise<Map<string, VaccineStock>> {
  const sorted = [...keys].sort((a, b) =>
    a.hospitalId === b.hospitalId ? compare(a.vaccineId, b.vaccineId) : compare(a.hospitalId, b.hospitalId),
  );
  const loaded = new Map<string, VaccineStock>();
  for (const { hospitalId, vaccineId } of sorted) {
    const id = stockId(hospitalId, vaccineId);
    if (!loaded.has(id)) loaded.set(id, await loadStock(stocks, hospitalId, vaccineId));
  }
  return loaded;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function loadCapacity(
  capacities: DateCapacities,
  hospitalId: string,
  date: string,
): Promise<DateCapacity> {
  return (await capacities.get(hospitalId, date)) ?? DateCapacity.empty(hospitalId, date);
}
