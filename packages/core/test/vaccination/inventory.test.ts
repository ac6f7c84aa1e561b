import { FailedPrecondition, InvalidArgument, NotFound } from "@hexa/core/shared";
import {
  BOOKING_HOLD_LEASE_MS,
  Booking,
  type BookingState,
  type Bookings,
  type DateCapacities,
  DateCapacity,
  type DateCapacityState,
  discardDoses,
  getHospital,
  getHospitalStock,
  getVaccine,
  type HoldExpiryPorts,
  Hospital,
  type HospitalState,
  type Hospitals,
  type IdPage,
  type InventoryEvent,
  type InventoryPorts,
  listHospitals,
  listVaccines,
  type OutstandingAnswer,
  type OutstandingReservations,
  registerAvailableDoses,
  registerHospital,
  registerVaccine,
  type StockCounts,
  type Stocks,
  type Supplies,
  Supply,
  type SupplyState,
  settleLapsedHolds,
  stockId,
  supplyVaccine,
  takeBookingSlot,
  Vaccine,
  type VaccineState,
  VaccineStock,
  type Vaccines,
  whenBookingAbandoned,
  whenReservationCancelled,
  whenReservationRegistered,
  whenReservationRejected,
  whenVaccinationRecorded,
} from "@hexa/core/vaccination/inventory";
import { beforeEach, describe, expect, it } from "vitest";
import { refusal, testContext } from "../support.ts";

/** Every store appends to one log, so a test sees each event in the order it was saved. */
class HospitalsInMemory implements Hospitals {
  readonly saved = new Map<string, HospitalState>();
  readonly #log: InventoryEvent[];
  constructor(log: InventoryEvent[]) {
    this.#log = log;
  }
  async get(hospitalId: string) {
    const state = this.saved.get(hospitalId);
    return state ? Hospital.restore(state) : undefined;
  }
  async save(hospital: Hospital) {
    this.saved.set(hospital.id, hospital.state);
    this.#log.push(...hospital.pullEvents());
  }
  async list(page: IdPage) {
    return inPages([...this.saved.values()], (h) => h.hospitalId, page);
  }
}

class VaccinesInMemory implements Vaccines {
  readonly saved = new Map<string, VaccineState>();
  readonly #log: InventoryEvent[];
  constructor(log: InventoryEvent[]) {
    this.#log = log;
  }
  async get(vaccineId: string) {
    const state = this.saved.get(vaccineId);
    return state ? Vaccine.restore(state) : undefined;
  }
  async has(vaccineId: string) {
    return this.saved.has(vaccineId);
  }
  async save(vaccine: Vaccine) {
    this.saved.set(vaccine.id, vaccine.state);
    this.#log.push(...vaccine.pullEvents());
  }
  async list(page: IdPage) {
    return inPages([...this.saved.values()], (v) => v.vaccineId, page);
  }
}

class SuppliesInMemory implements Supplies {
  readonly saved = new Map<string, SupplyState>();
  readonly #log: InventoryEvent[];
  constructor(log: InventoryEvent[]) {
    this.#log = log;
  }
  async get(supplyId: string) {
    const state = this.saved.get(supplyId);
    return state ? Supply.restore(state) : undefined;
  }
  async save(supply: Supply) {
    this.saved.set(supply.id, supply.state);
    this.#log.push(...supply.pullEvents());
  }
}

class StocksInMemory implements Stocks {
  readonly saved = new Map<string, StockCounts>();
  readonly #log: InventoryEvent[];
  constructor(log: InventoryEvent[]) {
    this.#log = log;
  }
  async get(hospitalId: string, vaccineId: string) {
    const counts = this.saved.get(stockId(hospitalId, vaccineId));
    return counts ? VaccineStock.restore(counts) : undefined;
  }
  async find(hospitalId: string, vaccineId: string) {
    return this.get(hospitalId, vaccineId);
  }
  async save(stock: VaccineStock) {
    const events = stock.pullEvents();
    if (events.length === 0) return;
    this.saved.set(stock.id, stock.state);
    this.#log.push(...events);
  }
  async ofHospital(hospitalId: string) {
    return [...this.saved.values()]
      .filter((counts) => counts.hospitalId === hospitalId)
      .sort((a, b) => a.vaccineId.localeCompare(b.vaccineId))
      .map((counts) => VaccineStock.restore(counts).state);
  }
}

class CapacitiesInMemory implements DateCapacities {
  readonly saved = new Map<string, DateCapacityState>();
  async get(hospitalId: string, date: string) {
    const state = this.saved.get(`${hospitalId}@${date}`);
    return state ? DateCapacity.restore(state) : undefined;
  }
  async find(hospitalId: string, date: string) {
    return this.get(hospitalId, date);
  }
  async save(capacity: DateCapacity) {
    if (!capacity.changed) return;
    this.saved.set(`${capacity.state.hospitalId}@${capacity.state.date}`, capacity.state);
  }
}

class BookingsInMemory implements Bookings {
  readonly saved = new Map<string, BookingState>();
  async get(reservationId: string) {
    const state = this.saved.get(reservationId);
    return state ? Booking.restore(state) : undefined;
  }
  async getAll(reservationIds: readonly string[]) {
    const found = new Map<string, Booking>();
    for (const id of reservationIds) {
      const booking = await this.get(id);
      if (booking) found.set(id, booking);
    }
    return found;
  }
  async save(booking: Booking) {
    if (booking.changed) this.saved.set(booking.id, booking.state);
  }
  async heldOf(hospitalId: string, vaccineId: string) {
    return [...this.saved.values()]
      .filter((s) => s.hospitalId === hospitalId && s.vaccineId === vaccineId && s.status === "BOOKED")
      .map((s) => Booking.restore(s));
  }
  async saveAll(bookings: readonly Booking[]) {
    for (const booking of bookings) await this.save(booking);
  }
  async saveConfirmed(booking: Booking) {
    if (this.saved.get(booking.id)?.status === "BOOKED") this.saved.set(booking.id, booking.state);
  }
  async lapsed(now: Date, limit: number) {
    return [...this.saved.values()]
      .filter((s) => isLapsed(s, now))
      .sort((a, b) => (a.holdUntil?.getTime() ?? 0) - (b.holdUntil?.getTime() ?? 0))
      .slice(0, limit)
      .map((s) => s.reservationId);
  }
  async claimExpired(reservationIds: readonly string[], now: Date) {
    return reservationIds.filter((id) => {
      const state = this.saved.get(id);
      return state !== undefined && isLapsed(state, now);
    });
  }
}

function isLapsed(state: BookingState, now: Date): boolean {
  return state.status === "BOOKED" && state.holdUntil !== undefined && state.holdUntil <= now;
}

/**
 * Reservation's answer to which reservations it holds, scripted: those in `held`, or no answer while
 * it is `down`. It must never be asked inside a unit of work.
 */
class ReservationsAsked implements OutstandingReservations {
  readonly held = new Set<string>();
  down = false;
  readonly asked: string[][] = [];
  inUnitOfWork = false;
  askedInsideUnitOfWork = false;
  async among(reservationIds: readonly string[]): Promise<OutstandingAnswer> {
    if (this.inUnitOfWork) this.askedInsideUnitOfWork = true;
    this.asked.push([...reservationIds]);
    if (this.down) return { answered: false, error: "reservation circuit open" };
    return { answered: true, outstanding: new Set(reservationIds.filter((id) => this.held.has(id))) };
  }
}

/** The hold-expiry job's ports over the in-memory stores; a unit of work is the same stores. */
function expiryPorts(ports: Ports, reservations: ReservationsAsked): HoldExpiryPorts {
  return {
    ...ports,
    reservations,
    unitOfWork: async (work) => {
      reservations.inUnitOfWork = true;
      try {
        return await work(ports);
      } finally {
        reservations.inUnitOfWork = false;
      }
    },
  };
}

function inPages<T>(rows: T[], idOf: (row: T) => string, page: IdPage): T[] {
  return rows
    .sort((a, b) => idOf(a).localeCompare(idOf(b)))
    .filter((row) => page.after === undefined || idOf(row) > page.after)
    .slice(0, page.limit);
}

type Ports = InventoryPorts & {
  hospitals: HospitalsInMemory;
  vaccines: VaccinesInMemory;
  supplies: SuppliesInMemory;
  stocks: StocksInMemory;
  capacities: CapacitiesInMemory;
  bookings: BookingsInMemory;
  events: InventoryEvent[];
} & ReturnType<typeof testContext>;

function newPorts(): Ports {
  const events: InventoryEvent[] = [];
  return {
    ...testContext(),
    hospitals: new HospitalsInMemory(events),
    vaccines: new VaccinesInMemory(events),
    supplies: new SuppliesInMemory(events),
    stocks: new StocksInMemory(events),
    capacities: new CapacitiesInMemory(),
    bookings: new BookingsInMemory(),
    holdLeaseMs: BOOKING_HOLD_LEASE_MS,
    events,
  };
}

const AT = new Date("2026-03-01T09:00:00.000Z");
const TODAY = "2026-03-01";
const TOMORROW = "2026-03-02";
const DAY_AFTER = "2026-03-03";
const UNKNOWN = "0196b000-0000-7000-8000-00000000ffff";

function id(n: number): string {
  return `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`;
}

/** A reservation id of reservation's making. */
function reservation(n: number): string {
  return `0196c000-0000-7000-8000-${String(n).padStart(12, "0")}`;
}

/** The events recorded since the last call: short type, aggregate id and data. */
function drain(ports: Ports): Array<[string, string, unknown]> {
  const events = ports.events.splice(0);
  return events.map((event) => [
    event.type.replace("vaccination.inventory.v1.", ""),
    event.aggregateId,
    event.data,
  ]);
}

interface Counts {
  suppliedVials?: number;
  available: number;
  given: number;
  discarded: number;
  booked: number;
}

/** StockChanged's data for these counts, with remaining and bookable derived as the proto says. */
function stockChanged(hospitalId: string, vaccineId: string, counts: Counts, at = AT) {
  const remaining = counts.available - counts.given - counts.discarded;
  return {
    hospitalId,
    vaccineId,
    suppliedVials: counts.suppliedVials ?? 10,
    available: counts.available,
    given: counts.given,
    discarded: counts.discarded,
    remaining,
    booked: counts.booked,
    bookable: Math.max(0, remaining - counts.booked),
    changedAt: at,
  };
}

interface Setup {
  hospitalId: string;
  vaccineId: string;
  supplyId: string;
}

/** A hospital of `capacity` a day, a vaccine, a supply of 10 vials and `doses` available doses of it. */
async function stocked(ports: Ports, doses: number, capacity = 100): Promise<Setup> {
  const { hospitalId } = await registerHospital(ports, { name: "Seoul Central", dailyCapacity: capacity });
  const { vaccineId } = await registerVaccine(ports, { name: "Comirnaty", vials: 1_000, dosesRequired: 2 });
  const { supplyId } = await supplyVaccine(ports, { hospitalId, vaccineId, vials: 10 });
  if (doses > 0) await registerAvailableDoses(ports, { supplyId, doses });
  ports.events.length = 0;
  return { hospitalId, vaccineId, supplyId };
}

function slot(setup: Setup, n: number, date = TOMORROW) {
  return { reservationId: reservation(n), hospitalId: setup.hospitalId, vaccineId: setup.vaccineId, date };
}

function released(setup: Setup, n: number, date = TOMORROW) {
  return { reservationId: reservation(n), hospitalId: setup.hospitalId, vaccineId: setup.vaccineId, date };
}

async function stockOf(ports: Ports, setup: Setup) {
  const [stock] = (await getHospitalStock(ports, setup)).filter((s) => s.vaccineId === setup.vaccineId);
  return stock;
}

function takenOn(ports: Ports, setup: Setup, date = TOMORROW): number {
  return ports.capacities.saved.get(`${setup.hospitalId}@${date}`)?.taken ?? 0;
}

describe("hospitals", () => {
  let ports: Ports;
  beforeEach(() => {
    ports = newPorts();
  });

  it("registers a hospital with its daily capacity and records HospitalRegistered", async () => {
    const hospital = await registerHospital(ports, { name: "  Seoul Central  ", dailyCapacity: 120 });
    expect(hospital).toEqual({
      hospitalId: id(1),
      name: "Seoul Central",
      dailyCapacity: 120,
      registeredAt: AT,
    });
    expect(ports.events).toEqual([
      {
        id: id(2),
        type: "vaccination.inventory.v1.HospitalRegistered",
        aggregateId: id(1),
        occurredAt: AT,
        data: { hospitalId: id(1), name: "Seoul Central", dailyCapacity: 120, registeredAt: AT },
      },
    ]);
    expect(await getHospital(ports, { hospitalId: id(1) })).toEqual(hospital);
  });

  it.each([
    [{ name: "", dailyCapacity: 1 }, "name", "is required"],
    [{ name: "   ", dailyCapacity: 1 }, "name", "is required"],
    [{ name: "h".repeat(201), dailyCapacity: 1 }, "name", "must be at most 200 characters"],
    [{ name: "h", dailyCapacity: 0 }, "dailyCapacity", "must be a whole number from 1 to 100000"],
    [{ name: "h", dailyCapacity: 100_001 }, "dailyCapacity", "must be a whole number from 1 to 100000"],
    [{ name: "h", dailyCapacity: 2.5 }, "dailyCapacity", "must be a whole number from 1 to 100000"],
  ])("refuses the hospital %j naming %s, and writes nothing", async (command, field, description) => {
    const error = await refusal(registerHospital(ports, command));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field, description });
    expect(ports.hospitals.saved.size).toBe(0);
    expect(ports.events).toEqual([]);
  });

  it("accepts the bounds: a 200-character name, capacities 1 and 100000", async () => {
    await registerHospital(ports, { name: "h".repeat(200), dailyCapacity: 1 });
    await registerHospital(ports, { name: "h", dailyCapacity: 100_000 });
    expect(ports.hospitals.saved.size).toBe(2);
  });

  it("answers NotFound for an unknown hospital and InvalidArgument for a malformed id", async () => {
    const missing = await refusal(getHospital(ports, { hospitalId: UNKNOWN }));
    expect(missing).toBeInstanceOf(NotFound);
    expect(missing).toMatchObject({ resourceType: "Hospital", resourceId: UNKNOWN });
    await expect(getHospital(ports, { hospitalId: "h-1" })).rejects.toMatchObject({
      field: "hospitalId",
      description: "must be a UUID",
    });
    await expect(getHospitalStock(ports, { hospitalId: UNKNOWN })).rejects.toBeInstanceOf(NotFound);
  });

  it("lists hospitals oldest first, a page at a time", async () => {
    for (const name of ["a", "b", "c"]) await registerHospital(ports, { name, dailyCapacity: 1 });
    const first = await listHospitals(ports, { after: undefined, limit: 2 });
    expect(first.map((h) => h.name)).toEqual(["a", "b"]);
    const second = await listHospitals(ports, { after: first[1]?.hospitalId, limit: 2 });
    expect(second.map((h) => h.name)).toEqual(["c"]);
  });
});

describe("vaccines", () => {
  let ports: Ports;
  beforeEach(() => {
    ports = newPorts();
  });

  it("registers a vaccine with its central stock and records VaccineRegistered (without the vials)", async () => {
    const vaccine = await registerVaccine(ports, { name: "Comirnaty", vials: 500, dosesRequired: 2 });
    expect(vaccine).toEqual({
      vaccineId: id(1),
      name: "Comirnaty",
      vialsInStock: 500,
      dosesRequired: 2,
      registeredAt: AT,
    });
    expect(drain(ports)).toEqual([
      [
        "VaccineRegistered",
        id(1),
        { vaccineId: id(1), name: "Comirnaty", dosesRequired: 2, registeredAt: AT },
      ],
    ]);
    expect(await getVaccine(ports, { vaccineId: id(1) })).toEqual(vaccine);
    expect((await listVaccines(ports, { after: undefined, limit: 20 })).map((v) => v.vaccineId)).toEqual([
      id(1),
    ]);
  });

  it.each([
    [{ name: "", vials: 0, dosesRequired: 1 }, "name"],
    [{ name: "v".repeat(201), vials: 0, dosesRequired: 1 }, "name"],
    [{ name: "v", vials: -1, dosesRequired: 1 }, "vials"],
    [{ name: "v", vials: 10_000_001, dosesRequired: 1 }, "vials"],
    [{ name: "v", vials: 0, dosesRequired: 0 }, "dosesRequired"],
    [{ name: "v", vials: 0, dosesRequired: 6 }, "dosesRequired"],
  ])("refuses the vaccine %j naming %s, and writes nothing", async (command, field) => {
    const error = await refusal(registerVaccine(ports, command));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field });
    expect(ports.vaccines.saved.size).toBe(0);
    expect(ports.events).toEqual([]);
  });

  it("accepts the bounds: 0 and 10000000 vials, 1 and 5 doses required", async () => {
    await registerVaccine(ports, { name: "v", vials: 0, dosesRequired: 1 });
    await registerVaccine(ports, { name: "v", vials: 10_000_000, dosesRequired: 5 });
    expect(ports.vaccines.saved.size).toBe(2);
  });

  it("answers NotFound for an unknown vaccine", async () => {
    await expect(getVaccine(ports, { vaccineId: UNKNOWN })).rejects.toMatchObject({
      kind: "NotFound",
      resourceType: "Vaccine",
    });
    await expect(getVaccine(ports, { vaccineId: "" })).rejects.toMatchObject({ field: "vaccineId" });
  });
});

describe("supplies and available doses", () => {
  let ports: Ports;
  let hospitalId: string;
  let vaccineId: string;
  beforeEach(async () => {
    ports = newPorts();
    hospitalId = (await registerHospital(ports, { name: "Seoul Central", dailyCapacity: 100 })).hospitalId;
    vaccineId = (await registerVaccine(ports, { name: "Comirnaty", vials: 30, dosesRequired: 2 })).vaccineId;
    ports.events.length = 0;
  });

  it("takes the vials from the central stock into the hospital's stock: VaccineSupplied, then StockChanged", async () => {
    const supply = await supplyVaccine(ports, { hospitalId, vaccineId, vials: 10 });
    expect(supply).toEqual({
      supplyId: id(5),
      hospitalId,
      vaccineId,
      vials: 10,
      availableDoses: 0,
      suppliedAt: AT,
    });
    expect((await getVaccine(ports, { vaccineId })).vialsInStock).toBe(20);
    expect(drain(ports)).toEqual([
      ["VaccineSupplied", id(5), { supplyId: id(5), hospitalId, vaccineId, vials: 10, suppliedAt: AT }],
      [
        "StockChanged",
        stockId(hospitalId, vaccineId),
        stockChanged(hospitalId, vaccineId, { available: 0, given: 0, discarded: 0, booked: 0 }),
      ],
    ]);
    await supplyVaccine(ports, { hospitalId, vaccineId, vials: 20 });
    expect((await getVaccine(ports, { vaccineId })).vialsInStock).toBe(0);
    expect(await getHospitalStock(ports, { hospitalId })).toEqual([
      expect.objectContaining({ suppliedVials: 30, available: 0, remaining: 0, bookable: 0 }),
    ]);
  });

  it("refuses more vials than the central stock holds (rule vials-must-be-in-stock), changing nothing", async () => {
    const error = await refusal(supplyVaccine(ports, { hospitalId, vaccineId, vials: 31 }));
    expect(error).toBeInstanceOf(FailedPrecondition);
    expect(error).toMatchObject({ rule: "vials-must-be-in-stock" });
    expect((await getVaccine(ports, { vaccineId })).vialsInStock).toBe(30);
    expect(ports.supplies.saved.size).toBe(0);
    expect(ports.stocks.saved.size).toBe(0);
    expect(ports.events).toEqual([]);
  });

  it("refuses bad supplies naming the field, or NotFound, and writes nothing", async () => {
    const cases: Array<[Parameters<typeof supplyVaccine>[1], Record<string, string>]> = [
      [{ hospitalId, vaccineId, vials: 0 }, { field: "vials" }],
      [{ hospitalId, vaccineId, vials: -2 }, { field: "vials" }],
      [{ hospitalId: "", vaccineId, vials: 1 }, { field: "hospitalId" }],
      [{ hospitalId, vaccineId: "x", vials: 1 }, { field: "vaccineId" }],
      [
        { hospitalId: UNKNOWN, vaccineId, vials: 1 },
        { kind: "NotFound", resourceType: "Hospital" },
      ],
      [
        { hospitalId, vaccineId: UNKNOWN, vials: 1 },
        { kind: "NotFound", resourceType: "Vaccine" },
      ],
    ];
    for (const [command, expected] of cases) {
      expect(await refusal(supplyVaccine(ports, command))).toMatchObject(expected);
    }
    expect(ports.supplies.saved.size).toBe(0);
    expect((await getVaccine(ports, { vaccineId })).vialsInStock).toBe(30);
    expect(ports.events).toEqual([]);
  });

  it("registers a supply's doses once: AvailableDosesRegistered, StockChanged, BookableDosesAvailable(NEW_DOSES)", async () => {
    const { supplyId } = await supplyVaccine(ports, { hospitalId, vaccineId, vials: 10 });
    ports.events.length = 0;
    const { supply, stock } = await registerAvailableDoses(ports, { supplyId, doses: 60 });
    expect(supply).toMatchObject({ supplyId, availableDoses: 60, dosesRegisteredAt: AT });
    expect(stock).toEqual({
      hospitalId,
      vaccineId,
      suppliedVials: 10,
      available: 60,
      given: 0,
      discarded: 0,
      remaining: 60,
      booked: 0,
      bookable: 60,
      updatedAt: AT,
    });
    const stockKey = stockId(hospitalId, vaccineId);
    expect(drain(ports)).toEqual([
      [
        "AvailableDosesRegistered",
        supplyId,
        { supplyId, hospitalId, vaccineId, doses: 60, registeredAt: AT },
      ],
      [
        "StockChanged",
        stockKey,
        stockChanged(hospitalId, vaccineId, { available: 60, given: 0, discarded: 0, booked: 0 }),
      ],
      [
        "BookableDosesAvailable",
        stockKey,
        { hospitalId, vaccineId, bookable: 60, cause: "NEW_DOSES", at: AT },
      ],
    ]);

    const again = await refusal(registerAvailableDoses(ports, { supplyId, doses: 5 }));
    expect(again).toBeInstanceOf(FailedPrecondition);
    expect(again).toMatchObject({ rule: "doses-already-registered" });
    expect(ports.events).toEqual([]);
    expect((await getHospitalStock(ports, { hospitalId }))[0]?.available).toBe(60);
  });

  it("adds each supply's doses to the same stock", async () => {
    const first = await supplyVaccine(ports, { hospitalId, vaccineId, vials: 5 });
    const second = await supplyVaccine(ports, { hospitalId, vaccineId, vials: 5 });
    await registerAvailableDoses(ports, { supplyId: first.supplyId, doses: 30 });
    const { stock } = await registerAvailableDoses(ports, { supplyId: second.supplyId, doses: 25 });
    expect(stock).toMatchObject({ suppliedVials: 10, available: 55, remaining: 55, bookable: 55 });
  });

  it("refuses bad dose registrations naming the field, or NotFound, and writes nothing", async () => {
    const { supplyId } = await supplyVaccine(ports, { hospitalId, vaccineId, vials: 10 });
    ports.events.length = 0;
    const cases: Array<[Parameters<typeof registerAvailableDoses>[1], Record<string, string>]> = [
      [
        { supplyId, doses: 0 },
        { field: "doses", description: "must be a whole number from 1 to 1000000" },
      ],
      [{ supplyId, doses: 1_000_001 }, { field: "doses" }],
      [{ supplyId: "s-1", doses: 1 }, { field: "supplyId" }],
      [
        { supplyId: UNKNOWN, doses: 1 },
        { kind: "NotFound", resourceType: "Supply", resourceId: UNKNOWN },
      ],
    ];
    for (const [command, expected] of cases) {
      expect(await refusal(registerAvailableDoses(ports, command))).toMatchObject(expected);
    }
    expect(ports.supplies.saved.get(supplyId)?.availableDoses).toBe(0);
    expect(ports.events).toEqual([]);
    expect((await registerAvailableDoses(ports, { supplyId, doses: 1_000_000 })).stock.available).toBe(
      1_000_000,
    );
  });
});

describe("the quantities: remaining = available - given - discarded, bookable = remaining - booked", () => {
  it("holds after each step of a stock's life", async () => {
    const ports = newPorts();
    const setup = await stocked(ports, 10);
    const steps: Array<[string, () => Promise<unknown>, Counts]> = [
      [
        "three bookings",
        async () => {
          for (const n of [1, 2, 3]) await takeBookingSlot(ports, slot(setup, n));
        },
        { available: 10, given: 0, discarded: 0, booked: 3 },
      ],
      [
        "one booked person vaccinated",
        () => whenVaccinationRecorded(ports, { ...setup, reservationId: reservation(1) }),
        { available: 10, given: 1, discarded: 0, booked: 2 },
      ],
      [
        "one walk-in vaccinated",
        () => whenVaccinationRecorded(ports, { ...setup, reservationId: "" }),
        { available: 10, given: 2, discarded: 0, booked: 2 },
      ],
      [
        "two doses discarded",
        () => discardDoses(ports, { ...setup, doses: 2, reason: "expired" }),
        { available: 10, given: 2, discarded: 2, booked: 2 },
      ],
      [
        "one booking cancelled by its person",
        () => whenReservationCancelled(ports, { ...released(setup, 2), reason: "PERSON" }),
        { available: 10, given: 2, discarded: 2, booked: 1 },
      ],
      [
        "six doses discarded, leaving fewer doses than bookings: inventory releases the difference",
        () => discardDoses(ports, { ...setup, doses: 6, reason: "broken cold chain" }),
        { available: 10, given: 2, discarded: 8, booked: 0 },
      ],
    ];
    for (const [step, act, counts] of steps) {
      await act();
      const remaining = counts.available - counts.given - counts.discarded;
      expect(await stockOf(ports, setup), step).toMatchObject({
        ...counts,
        remaining,
        bookable: Math.max(0, remaining - counts.booked),
      });
    }
    expect(await stockOf(ports, setup)).toMatchObject({ remaining: 0, booked: 0, bookable: 0 });
  });

  it("reports bookable as 0, never below, when fewer doses remain than are booked", () => {
    const stock = VaccineStock.restore({
      hospitalId: "h",
      vaccineId: "v",
      suppliedVials: 1,
      available: 5,
      given: 2,
      discarded: 1,
      booked: 4,
    });
    expect(stock.state).toMatchObject({ remaining: 2, booked: 4, bookable: 0 });
  });
});

describe("DiscardDoses", () => {
  let ports: Ports;
  let setup: Setup;
  beforeEach(async () => {
    ports = newPorts();
    setup = await stocked(ports, 10);
    await takeBookingSlot(ports, slot(setup, 1));
    await takeBookingSlot(ports, slot(setup, 2));
    ports.events.length = 0;
  });

  it("records DosesDiscarded, then releases the bookings beyond the doses remaining by the tie rule", async () => {
    const stock = await discardDoses(ports, { ...setup, doses: 9, reason: "  expired  " });
    expect(stock).toMatchObject({ available: 10, discarded: 9, remaining: 1, booked: 1, bookable: 0 });
    const { hospitalId, vaccineId } = setup;
    const key = stockId(hospitalId, vaccineId);
    // Both booked for the same date at the same instant: the greater reservation id goes.
    expect(drain(ports)).toEqual([
      [
        "DosesDiscarded",
        key,
        { hospitalId, vaccineId, doses: 9, reason: "expired", remaining: 1, booked: 2, discardedAt: AT },
      ],
      [
        "StockChanged",
        key,
        stockChanged(hospitalId, vaccineId, { available: 10, given: 0, discarded: 9, booked: 2 }),
      ],
      [
        "StockChanged",
        key,
        stockChanged(hospitalId, vaccineId, { available: 10, given: 0, discarded: 9, booked: 1 }),
      ],
      [
        "BookingsReleasedForDiscard",
        key,
        {
          hospitalId,
          vaccineId,
          bookings: [{ reservationId: reservation(2), date: TOMORROW }],
          releasedAt: AT,
        },
      ],
    ]);
    expect(ports.bookings.saved.get(reservation(2))).toMatchObject({ status: "RELEASED" });
    expect(ports.bookings.saved.get(reservation(1))).toMatchObject({ status: "BOOKED" });
    expect(takenOn(ports, setup)).toBe(1);
  });

  it("chooses the latest date first, then the latest booked, then the greatest reservation id", async () => {
    await takeBookingSlot(ports, slot(setup, 3, DAY_AFTER));
    ports.clock.advance(60_000);
    await takeBookingSlot(ports, slot(setup, 4));
    await takeBookingSlot(ports, slot(setup, 5));
    // Booked: 1, 2 (tomorrow, at AT), 4, 5 (tomorrow, a minute later), 3 (the day after, at AT).
    await discardDoses(ports, { ...setup, doses: 9, reason: "expired" });
    const releases = drain(ports).filter(([type]) => type === "BookingsReleasedForDiscard");
    expect(releases.map(([, , data]) => (data as { bookings: unknown }).bookings)).toEqual([
      [
        { reservationId: reservation(3), date: DAY_AFTER },
        { reservationId: reservation(5), date: TOMORROW },
        { reservationId: reservation(4), date: TOMORROW },
        { reservationId: reservation(2), date: TOMORROW },
      ],
    ]);
    expect(await stockOf(ports, setup)).toMatchObject({ remaining: 1, booked: 1 });
  });

  it("discards exactly the remaining doses, and refuses one more (rule discard-must-not-exceed-remaining)", async () => {
    const error = await refusal(discardDoses(ports, { ...setup, doses: 11, reason: "" }));
    expect(error).toBeInstanceOf(FailedPrecondition);
    expect(error).toMatchObject({ rule: "discard-must-not-exceed-remaining" });
    expect(ports.events).toEqual([]);
    expect(await discardDoses(ports, { ...setup, doses: 10, reason: "" })).toMatchObject({ remaining: 0 });
    await expect(discardDoses(ports, { ...setup, doses: 1, reason: "" })).rejects.toMatchObject({
      rule: "discard-must-not-exceed-remaining",
    });
  });

  it("refuses a discard of a vaccine never supplied to the hospital (nothing remains)", async () => {
    const other = await registerVaccine(ports, { name: "Spikevax", vials: 5, dosesRequired: 2 });
    ports.events.length = 0;
    await expect(
      discardDoses(ports, { hospitalId: setup.hospitalId, vaccineId: other.vaccineId, doses: 1, reason: "" }),
    ).rejects.toMatchObject({ rule: "discard-must-not-exceed-remaining" });
    expect(ports.stocks.saved.has(stockId(setup.hospitalId, other.vaccineId))).toBe(false);
    expect(ports.events).toEqual([]);
  });

  it("refuses bad discards naming the field, or NotFound, and writes nothing", async () => {
    const before = await stockOf(ports, setup);
    const cases: Array<[Parameters<typeof discardDoses>[1], Record<string, string>]> = [
      [{ ...setup, doses: 0, reason: "" }, { field: "doses" }],
      [{ ...setup, doses: 1.5, reason: "" }, { field: "doses" }],
      [
        { ...setup, doses: 1, reason: "r".repeat(501) },
        { field: "reason", description: "must be at most 500 characters" },
      ],
      [{ ...setup, hospitalId: "nope", doses: 1, reason: "" }, { field: "hospitalId" }],
      [{ ...setup, vaccineId: "", doses: 1, reason: "" }, { field: "vaccineId" }],
      [{ ...setup, hospitalId: UNKNOWN, doses: 1, reason: "" }, { resourceType: "Hospital" }],
      [{ ...setup, vaccineId: UNKNOWN, doses: 1, reason: "" }, { resourceType: "Vaccine" }],
    ];
    for (const [command, expected] of cases) {
      expect(await refusal(discardDoses(ports, command))).toMatchObject(expected);
    }
    expect(await stockOf(ports, setup)).toEqual(before);
    expect(ports.events).toEqual([]);
    expect(await discardDoses(ports, { ...setup, doses: 1, reason: "r".repeat(500) })).toMatchObject({
      discarded: 1,
    });
  });
});

describe("TakeBookingSlot", () => {
  let ports: Ports;

  beforeEach(() => {
    ports = newPorts();
  });

  it("books a dose and a slot of the date: booked and taken grow by 1, StockChanged", async () => {
    const setup = await stocked(ports, 2, 5);
    const answer = await takeBookingSlot(ports, slot(setup, 1));
    expect(answer).toEqual({ outcome: "BOOKED", bookable: 1, dateSlotsLeft: 4 });
    const { hospitalId, vaccineId } = setup;
    expect(drain(ports)).toEqual([
      [
        "StockChanged",
        stockId(hospitalId, vaccineId),
        stockChanged(hospitalId, vaccineId, { available: 2, given: 0, discarded: 0, booked: 1 }),
      ],
    ]);
    expect(ports.bookings.saved.get(reservation(1))).toEqual({
      reservationId: reservation(1),
      hospitalId,
      vaccineId,
      date: TOMORROW,
      outcome: "BOOKED",
      status: "BOOKED",
      holdUntil: new Date(AT.getTime() + BOOKING_HOLD_LEASE_MS),
      createdAt: AT,
      updatedAt: AT,
    });
    expect(takenOn(ports, setup)).toBe(1);
  });

  it("answers NO_DOSES once the bookable doses are taken, and keeps the refusal", async () => {
    const setup = await stocked(ports, 2);
    expect((await takeBookingSlot(ports, slot(setup, 1))).outcome).toBe("BOOKED");
    expect((await takeBookingSlot(ports, slot(setup, 2))).outcome).toBe("BOOKED");
    ports.events.length = 0;
    expect(await takeBookingSlot(ports, slot(setup, 3))).toEqual({
      outcome: "NO_DOSES",
      bookable: 0,
      dateSlotsLeft: 98,
    });
    expect(ports.events).toEqual([]);
    expect(ports.bookings.saved.get(reservation(3))).toMatchObject({
      outcome: "NO_DOSES",
      status: "REFUSED",
    });
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 2, bookable: 0 });
    expect(takenOn(ports, setup)).toBe(2);
  });

  it("answers DATE_FULL once the date's capacity is taken, while other dates still book", async () => {
    const setup = await stocked(ports, 10, 2);
    await takeBookingSlot(ports, slot(setup, 1));
    await takeBookingSlot(ports, slot(setup, 2));
    expect(await takeBookingSlot(ports, slot(setup, 3))).toEqual({
      outcome: "DATE_FULL",
      bookable: 8,
      dateSlotsLeft: 0,
    });
    expect(ports.bookings.saved.get(reservation(3))).toMatchObject({
      outcome: "DATE_FULL",
      status: "REFUSED",
    });
    expect(await takeBookingSlot(ports, slot(setup, 4, "2026-03-03"))).toEqual({
      outcome: "BOOKED",
      bookable: 7,
      dateSlotsLeft: 1,
    });
  });

  it("checks the doses first: no dose and a full date answer NO_DOSES", async () => {
    const setup = await stocked(ports, 1, 1);
    await takeBookingSlot(ports, slot(setup, 1));
    expect((await takeBookingSlot(ports, slot(setup, 2))).outcome).toBe("NO_DOSES");
  });

  it("answers NO_DOSES for a vaccine the hospital was never supplied, writing no stock", async () => {
    const setup = await stocked(ports, 5);
    const other = await registerVaccine(ports, { name: "Spikevax", vials: 5, dosesRequired: 2 });
    ports.events.length = 0;
    const answer = await takeBookingSlot(ports, { ...slot(setup, 1), vaccineId: other.vaccineId });
    expect(answer).toEqual({ outcome: "NO_DOSES", bookable: 0, dateSlotsLeft: 100 });
    expect(ports.stocks.saved.has(stockId(setup.hospitalId, other.vaccineId))).toBe(false);
    expect(ports.events).toEqual([]);
  });

  it("is idempotent: the same reservation id answers the stored outcome and never takes a second dose", async () => {
    const setup = await stocked(ports, 1);
    const booked = await takeBookingSlot(ports, slot(setup, 1));
    const refused = await takeBookingSlot(ports, slot(setup, 2));
    ports.events.length = 0;
    ports.clock.advance(60_000);
    expect(await takeBookingSlot(ports, slot(setup, 1))).toEqual(booked);
    expect(await takeBookingSlot(ports, slot(setup, 2))).toEqual(refused);
    // New doses do not turn a stored refusal into a booking.
    const more = await supplyVaccine(ports, { ...setup, vials: 1 });
    await registerAvailableDoses(ports, { supplyId: more.supplyId, doses: 3 });
    ports.events.length = 0;
    expect((await takeBookingSlot(ports, slot(setup, 2))).outcome).toBe("NO_DOSES");
    expect((await takeBookingSlot(ports, slot(setup, 1))).outcome).toBe("BOOKED");
    expect(ports.events).toEqual([]);
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 1, bookable: 3 });
    expect(takenOn(ports, setup)).toBe(1);
    expect(ports.bookings.saved.get(reservation(1))?.updatedAt).toEqual(AT);
  });

  it("books today, and refuses a past or malformed date naming the field", async () => {
    const setup = await stocked(ports, 5);
    expect((await takeBookingSlot(ports, slot(setup, 1, TODAY))).outcome).toBe("BOOKED");
    ports.events.length = 0;
    const cases: Array<[string, string]> = [
      ["2026-02-28", "must be today or later (today is 2026-03-01, UTC)"],
      ["2025-12-31", "must be today or later (today is 2026-03-01, UTC)"],
      ["", 'must be a calendar day written "YYYY-MM-DD"'],
      ["2026-3-02", 'must be a calendar day written "YYYY-MM-DD"'],
      ["2026-02-30", 'must be a calendar day written "YYYY-MM-DD"'],
      ["2026-13-01", 'must be a calendar day written "YYYY-MM-DD"'],
      ["02/03/2026", 'must be a calendar day written "YYYY-MM-DD"'],
      ["2026-03-02T00:00:00Z", 'must be a calendar day written "YYYY-MM-DD"'],
    ];
    for (const [date, description] of cases) {
      const error = await refusal(takeBookingSlot(ports, slot(setup, 2, date)));
      expect(error, date).toBeInstanceOf(InvalidArgument);
      expect(error, date).toMatchObject({ field: "date", description });
    }
    expect(ports.bookings.saved.has(reservation(2))).toBe(false);
    expect(ports.events).toEqual([]);
  });

  it("follows the clock's UTC day: at 23:59 UTC the next day is bookable, the current one too", async () => {
    const setup = await stocked(ports, 5);
    ports.clock.advance(14 * 3_600_000 + 59 * 60_000); // 2026-03-01T23:59Z
    expect((await takeBookingSlot(ports, slot(setup, 1, TODAY))).outcome).toBe("BOOKED");
    ports.clock.advance(60_000); // 2026-03-02T00:00Z
    await expect(takeBookingSlot(ports, slot(setup, 2, TODAY))).rejects.toMatchObject({ field: "date" });
    expect((await takeBookingSlot(ports, slot(setup, 2, TOMORROW))).outcome).toBe("BOOKED");
  });

  it("refuses bad ids naming the field, or NotFound, and writes nothing", async () => {
    const setup = await stocked(ports, 5);
    const cases: Array<[Parameters<typeof takeBookingSlot>[1], Record<string, string>]> = [
      [
        { ...slot(setup, 1), reservationId: "" },
        { field: "reservationId", description: "is required" },
      ],
      [
        { ...slot(setup, 1), reservationId: "r-1" },
        { field: "reservationId", description: "must be a UUID" },
      ],
      [{ ...slot(setup, 1), hospitalId: "h" }, { field: "hospitalId" }],
      [{ ...slot(setup, 1), vaccineId: "v" }, { field: "vaccineId" }],
      [
        { ...slot(setup, 1), hospitalId: UNKNOWN },
        { kind: "NotFound", resourceType: "Hospital" },
      ],
      [
        { ...slot(setup, 1), vaccineId: UNKNOWN },
        { kind: "NotFound", resourceType: "Vaccine" },
      ],
    ];
    for (const [command, expected] of cases) {
      expect(await refusal(takeBookingSlot(ports, command))).toMatchObject(expected);
    }
    expect(ports.bookings.saved.size).toBe(0);
    expect(ports.capacities.saved.size).toBe(0);
    expect(ports.events).toEqual([]);
  });

  it("guards the stock and the date themselves: no booking past bookable doses or the capacity", () => {
    const context = testContext();
    const stock = VaccineStock.restore({
      hospitalId: "h",
      vaccineId: "v",
      suppliedVials: 1,
      available: 3,
      given: 1,
      discarded: 1,
      booked: 1,
    });
    expect(() => stock.book(context)).toThrow(expect.objectContaining({ rule: "doses-must-be-bookable" }));
    const capacity = DateCapacity.restore({ hospitalId: "h", date: TOMORROW, taken: 2 });
    expect(() => capacity.take(2)).toThrow(expect.objectContaining({ rule: "date-must-have-a-slot" }));
    expect(capacity.changed).toBe(false);
    expect(() => DateCapacity.empty("h", TOMORROW).release()).toThrow(
      expect.objectContaining({ rule: "slots-never-negative" }),
    );
    expect(() => VaccineStock.empty("h", "v").release(undefined, context)).toThrow(
      expect.objectContaining({ rule: "stock-never-negative" }),
    );
    expect(stock.pullEvents()).toEqual([]);
  });
});

describe("releases from reservation's events", () => {
  let ports: Ports;
  let setup: Setup;
  let key: string;
  beforeEach(async () => {
    ports = newPorts();
    setup = await stocked(ports, 3, 10);
    key = stockId(setup.hospitalId, setup.vaccineId);
    await takeBookingSlot(ports, slot(setup, 1));
    await takeBookingSlot(ports, slot(setup, 2));
    ports.events.length = 0;
  });

  function counts(booked: number) {
    return stockChanged(setup.hospitalId, setup.vaccineId, { available: 3, given: 0, discarded: 0, booked });
  }

  it("a person's own cancellation releases the dose and slot and alerts the waitlist (PERSON_CANCELLED)", async () => {
    await whenReservationCancelled(ports, { ...released(setup, 1), reason: "PERSON" });
    expect(drain(ports)).toEqual([
      ["StockChanged", key, counts(1)],
      [
        "BookableDosesAvailable",
        key,
        {
          hospitalId: setup.hospitalId,
          vaccineId: setup.vaccineId,
          bookable: 2,
          cause: "PERSON_CANCELLED",
          at: AT,
        },
      ],
    ]);
    expect(ports.bookings.saved.get(reservation(1))).toMatchObject({ status: "RELEASED", outcome: "BOOKED" });
    expect(takenOn(ports, setup)).toBe(1);
  });

  it.each(["MANAGER", "DISCARD", undefined] as const)(
    "a cancellation with reason %s releases without alerting the waitlist",
    async (reason) => {
      await whenReservationCancelled(ports, { ...released(setup, 1), reason });
      expect(drain(ports)).toEqual([["StockChanged", key, counts(1)]]);
      expect(takenOn(ports, setup)).toBe(1);
    },
  );

  it("a rejection releases without alerting the waitlist", async () => {
    await whenReservationRejected(ports, released(setup, 2));
    expect(drain(ports)).toEqual([["StockChanged", key, counts(1)]]);
    expect(ports.bookings.saved.get(reservation(2))?.status).toBe("RELEASED");
    expect(takenOn(ports, setup)).toBe(1);
  });

  it("an abandoned booking releases without alerting the waitlist", async () => {
    await whenBookingAbandoned(ports, released(setup, 2));
    expect(drain(ports)).toEqual([["StockChanged", key, counts(1)]]);
    expect(takenOn(ports, setup)).toBe(1);
  });

  it("releases once: repeated or following releases change nothing, a released booking answers NO_DOSES", async () => {
    await whenReservationCancelled(ports, { ...released(setup, 1), reason: "PERSON" });
    ports.events.length = 0;
    await whenReservationCancelled(ports, { ...released(setup, 1), reason: "PERSON" });
    await whenReservationRejected(ports, released(setup, 1));
    await whenBookingAbandoned(ports, released(setup, 1));
    expect(ports.events).toEqual([]);
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 1, bookable: 2 });
    expect(takenOn(ports, setup)).toBe(1);
    expect(await takeBookingSlot(ports, slot(setup, 1))).toEqual({
      outcome: "NO_DOSES",
      bookable: 2,
      dateSlotsLeft: 9,
    });
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 1 });
  });

  it("does not alert the waitlist on a person's cancellation when no dose is bookable after it", async () => {
    await takeBookingSlot(ports, slot(setup, 3));
    // Two walk-ins given while every dose is booked: remaining 1, booked 3.
    for (let n = 0; n < 2; n++) {
      await whenVaccinationRecorded(ports, { ...setup, reservationId: "" });
    }
    ports.events.length = 0;
    await whenReservationCancelled(ports, { ...released(setup, 1), reason: "PERSON" });
    expect(drain(ports)).toEqual([
      [
        "StockChanged",
        key,
        stockChanged(setup.hospitalId, setup.vaccineId, { available: 3, given: 2, discarded: 0, booked: 2 }),
      ],
    ]);
  });

  it("leaves nothing for a waitlist entry (no date, never booked)", async () => {
    await whenReservationCancelled(ports, { ...released(setup, 9), date: "", reason: "BOOKED" });
    await whenReservationCancelled(ports, { ...released(setup, 9), date: "", reason: "PERSON" });
    await whenReservationRejected(ports, { ...released(setup, 9), date: "" });
    expect(ports.bookings.saved.has(reservation(9))).toBe(false);
    expect(ports.events).toEqual([]);
  });

  it("leaves nothing to release for a refused booking", async () => {
    const full = await stocked(ports, 0, 1);
    expect((await takeBookingSlot(ports, slot(full, 5))).outcome).toBe("NO_DOSES");
    await whenReservationCancelled(ports, { ...released(full, 5), reason: "PERSON" });
    expect(ports.bookings.saved.get(reservation(5))).toMatchObject({ status: "REFUSED" });
    expect(ports.events).toEqual([]);
  });

  it("leaves a RELEASED tombstone for an abandoned booking not taken yet: the late call books nothing", async () => {
    ports.clock.advance(60_000);
    await whenBookingAbandoned(ports, released(setup, 7));
    expect(ports.bookings.saved.get(reservation(7))).toMatchObject({
      status: "RELEASED",
      outcome: "NO_DOSES",
    });
    expect(ports.events).toEqual([]);
    expect(await takeBookingSlot(ports, slot(setup, 7))).toEqual({
      outcome: "NO_DOSES",
      bookable: 1,
      dateSlotsLeft: 8,
    });
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 2, bookable: 1 });
    expect(takenOn(ports, setup)).toBe(2);
    expect(ports.events).toEqual([]);
  });

  it("leaves a tombstone for a cancelled or rejected reservation with a date it never booked", async () => {
    await whenReservationRejected(ports, released(setup, 8));
    await whenReservationCancelled(ports, { ...released(setup, 9), reason: "MANAGER" });
    for (const n of [8, 9]) {
      expect(ports.bookings.saved.get(reservation(n))).toMatchObject({
        status: "RELEASED",
        outcome: "NO_DOSES",
      });
      expect((await takeBookingSlot(ports, slot(setup, n))).outcome).toBe("NO_DOSES");
    }
    expect(ports.events).toEqual([]);
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 2, bookable: 1 });
  });

  it("refuses a release event whose reservation id is not a UUID, changing nothing", async () => {
    await expect(
      whenBookingAbandoned(ports, { ...released(setup, 1), reservationId: "r-1" }),
    ).rejects.toMatchObject({
      field: "reservationId",
    });
    expect(ports.events).toEqual([]);
  });
});

describe("the hold's lease", () => {
  let ports: Ports;
  let reservations: ReservationsAsked;
  let setup: Setup;
  let key: string;
  const settle = (limit = 10) => settleLapsedHolds(expiryPorts(ports, reservations), limit);
  beforeEach(async () => {
    ports = newPorts();
    reservations = new ReservationsAsked();
    setup = await stocked(ports, 3, 10);
    key = stockId(setup.hospitalId, setup.vaccineId);
    await takeBookingSlot(ports, slot(setup, 1));
    await takeBookingSlot(ports, slot(setup, 2));
    ports.events.length = 0;
  });

  it("keeps an unconfirmed hold until its lease runs out, then releases it once reservation holds no such reservation: BookingHoldsExpired, no alert", async () => {
    ports.clock.advance(BOOKING_HOLD_LEASE_MS - 1);
    expect(await settle()).toEqual({ lapsed: 0, confirmed: 0, released: 0 });
    expect(reservations.asked).toEqual([]);
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 2 });
    ports.clock.advance(1);
    const at = ports.clock.now();
    expect(await settle()).toEqual({ lapsed: 2, confirmed: 0, released: 2 });
    expect(reservations.asked).toEqual([[reservation(1), reservation(2)]]);
    expect(reservations.askedInsideUnitOfWork).toBe(false);
    const counts = (booked: number) =>
      stockChanged(setup.hospitalId, setup.vaccineId, { available: 3, given: 0, discarded: 0, booked }, at);
    expect(drain(ports)).toEqual([
      ["StockChanged", key, counts(1)],
      ["StockChanged", key, counts(0)],
      [
        "BookingHoldsExpired",
        key,
        {
          hospitalId: setup.hospitalId,
          vaccineId: setup.vaccineId,
          bookings: [
            { reservationId: reservation(1), date: TOMORROW },
            { reservationId: reservation(2), date: TOMORROW },
          ],
          releasedAt: at,
        },
      ],
    ]);
    expect(ports.bookings.saved.get(reservation(1))).toMatchObject({
      status: "RELEASED",
      holdUntil: undefined,
    });
    expect(takenOn(ports, setup)).toBe(0);
  });

  it("confirms a lapsed hold whose reservation reservation holds (its ReservationRegistered is late), releasing the other", async () => {
    reservations.held.add(reservation(1));
    ports.clock.advance(BOOKING_HOLD_LEASE_MS);
    expect(await settle()).toEqual({ lapsed: 2, confirmed: 1, released: 1 });
    expect(ports.bookings.saved.get(reservation(1))).toMatchObject({
      status: "BOOKED",
      holdUntil: undefined,
    });
    expect(ports.bookings.saved.get(reservation(2))?.status).toBe("RELEASED");
    expect(drain(ports).map(([type, , data]) => [type, (data as { bookings?: unknown }).bookings])).toEqual([
      ["StockChanged", undefined],
      ["BookingHoldsExpired", [{ reservationId: reservation(2), date: TOMORROW }]],
    ]);
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 1, bookable: 2 });
    expect(takenOn(ports, setup)).toBe(1);

    // Confirmed for good: later rounds find nothing, and the late event changes nothing.
    ports.clock.advance(BOOKING_HOLD_LEASE_MS * 10);
    expect(await settle()).toEqual({ lapsed: 0, confirmed: 0, released: 0 });
    await whenReservationRegistered(ports, { reservationId: reservation(1) });
    expect(ports.bookings.saved.get(reservation(1))?.status).toBe("BOOKED");
    expect(ports.events).toEqual([]);
  });

  it("releases nothing while reservation cannot answer, and settles once it does", async () => {
    reservations.down = true;
    ports.clock.advance(BOOKING_HOLD_LEASE_MS * 3);
    expect(await settle()).toEqual({ lapsed: 2, unanswered: "reservation circuit open" });
    expect(await settle()).toEqual({ lapsed: 2, unanswered: "reservation circuit open" });
    expect(ports.events).toEqual([]);
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 2 });
    expect(ports.bookings.saved.get(reservation(1))?.status).toBe("BOOKED");

    reservations.down = false;
    reservations.held.add(reservation(2));
    expect(await settle()).toEqual({ lapsed: 2, confirmed: 1, released: 1 });
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 1 });
  });

  it("never releases a hold reservation confirmed (ReservationRegistered), and does not ask about it", async () => {
    await whenReservationRegistered(ports, { reservationId: reservation(1) });
    expect(ports.bookings.saved.get(reservation(1))).toMatchObject({
      status: "BOOKED",
      holdUntil: undefined,
    });
    ports.clock.advance(BOOKING_HOLD_LEASE_MS * 10);
    expect(await settle()).toEqual({ lapsed: 1, confirmed: 0, released: 1 });
    expect(reservations.asked).toEqual([[reservation(2)]]);
    expect(ports.bookings.saved.get(reservation(1))?.status).toBe("BOOKED");
    expect(ports.bookings.saved.get(reservation(2))?.status).toBe("RELEASED");
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 1, bookable: 2 });
    expect(takenOn(ports, setup)).toBe(1);
  });

  it("leaves a hold confirmed between reservation's answer and the settling", async () => {
    ports.clock.advance(BOOKING_HOLD_LEASE_MS);
    const answering = reservations.among.bind(reservations);
    reservations.among = async (ids) => {
      const answer = await answering(ids);
      // ReservationRegistered arrives while the job waits for the answer (which says: not held).
      await whenReservationRegistered(ports, { reservationId: reservation(1) });
      return answer;
    };
    expect(await settle()).toEqual({ lapsed: 2, confirmed: 0, released: 1 });
    expect(ports.bookings.saved.get(reservation(1))).toMatchObject({
      status: "BOOKED",
      holdUntil: undefined,
    });
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 1 });
  });

  it("releases once, and neither a late registration nor a repeated call takes the dose again", async () => {
    ports.clock.advance(BOOKING_HOLD_LEASE_MS);
    await settle();
    ports.events.length = 0;
    expect(await settle()).toEqual({ lapsed: 0, confirmed: 0, released: 0 });
    await whenReservationRegistered(ports, { reservationId: reservation(1) });
    expect(ports.bookings.saved.get(reservation(1))?.status).toBe("RELEASED");
    expect((await takeBookingSlot(ports, slot(setup, 1))).outcome).toBe("NO_DOSES");
    expect(ports.events).toEqual([]);
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 0, bookable: 3 });
  });

  it("settles at most `limit` a round, the earliest lapsed first", async () => {
    ports.clock.advance(1_000);
    await takeBookingSlot(ports, slot(setup, 3));
    ports.clock.advance(BOOKING_HOLD_LEASE_MS);
    expect(await settle(1)).toEqual({ lapsed: 1, confirmed: 0, released: 1 });
    expect(ports.bookings.saved.get(reservation(1))?.status).toBe("RELEASED");
    expect(ports.bookings.saved.get(reservation(2))?.status).toBe("BOOKED");
    expect(await settle(5)).toEqual({ lapsed: 2, confirmed: 0, released: 2 });
    expect(await stockOf(ports, setup)).toMatchObject({ booked: 0 });
  });

  it("leaves a hold a discard released meanwhile, and a registration for a reservation never booked", async () => {
    await discardDoses(ports, { ...setup, doses: 2, reason: "fridge" });
    await whenReservationRegistered(ports, { reservationId: reservation(9) });
    expect(ports.bookings.saved.has(reservation(9))).toBe(false);
    ports.clock.advance(BOOKING_HOLD_LEASE_MS);
    expect(await settle()).toEqual({ lapsed: 1, confirmed: 0, released: 1 });
    expect(await stockOf(ports, setup)).toMatchObject({ remaining: 1, booked: 0, bookable: 1 });
  });

  it("refuses a registration whose reservation id is not a UUID", async () => {
    await expect(whenReservationRegistered(ports, { reservationId: "r-1" })).rejects.toThrow(InvalidArgument);
  });
});

describe("VaccinationRecorded", () => {
  let ports: Ports;
  let setup: Setup;
  let key: string;
  beforeEach(async () => {
    ports = newPorts();
    setup = await stocked(ports, 3, 10);
    key = stockId(setup.hospitalId, setup.vaccineId);
    await takeBookingSlot(ports, slot(setup, 1));
    await takeBookingSlot(ports, slot(setup, 2));
    ports.events.length = 0;
  });

  it("counts a booked person's dose as given and no longer booked; the booking is VACCINATED, the slot stays taken", async () => {
    await whenVaccinationRecorded(ports, { ...setup, reservationId: reservation(1) });
    expect(drain(ports)).toEqual([
      [
        "StockChanged",
        key,
        stockChanged(setup.hospitalId, setup.vaccineId, { available: 3, given: 1, discarded: 0, booked: 1 }),
      ],
    ]);
    expect(ports.bookings.saved.get(reservation(1))).toMatchObject({ status: "VACCINATED" });
    expect(takenOn(ports, setup)).toBe(2);
    // Later releases of a vaccinated reservation change nothing; a repeated booking call still answers BOOKED.
    await whenReservationCancelled(ports, { ...released(setup, 1), reason: "PERSON" });
    expect(ports.events).toEqual([]);
    expect((await takeBookingSlot(ports, slot(setup, 1))).outcome).toBe("BOOKED");
    expect(await stockOf(ports, setup)).toMatchObject({ given: 1, booked: 1, remaining: 2, bookable: 1 });
  });

  it("counts a walk-in (no reservation) as given only", async () => {
    await whenVaccinationRecorded(ports, { ...setup, reservationId: "" });
    expect(drain(ports)).toEqual([
      [
        "StockChanged",
        key,
        stockChanged(setup.hospitalId, setup.vaccineId, { available: 3, given: 1, discarded: 0, booked: 2 }),
      ],
    ]);
    expect(await stockOf(ports, setup)).toMatchObject({ remaining: 2, booked: 2, bookable: 0 });
  });

  it("never refuses a walk-in: past the bookable doses remaining drops below booked, past the remaining ones below 0", async () => {
    for (let i = 0; i < 2; i++) await whenVaccinationRecorded(ports, { ...setup, reservationId: "" });
    expect(await stockOf(ports, setup)).toMatchObject({ given: 2, remaining: 1, booked: 2, bookable: 0 });
    for (let i = 0; i < 2; i++) await whenVaccinationRecorded(ports, { ...setup, reservationId: "" });
    expect(await stockOf(ports, setup)).toMatchObject({ given: 4, remaining: -1, booked: 2, bookable: 0 });
    expect((await takeBookingSlot(ports, slot(setup, 3))).outcome).toBe("NO_DOSES");
    await expect(discardDoses(ports, { ...setup, doses: 1, reason: "" })).rejects.toMatchObject({
      rule: "discard-must-not-exceed-remaining",
    });
  });

  it("counts a dose for a released, refused or unknown reservation as a walk-in's", async () => {
    await whenReservationRejected(ports, released(setup, 1));
    ports.events.length = 0;
    await whenVaccinationRecorded(ports, { ...setup, reservationId: reservation(1) });
    await whenVaccinationRecorded(ports, { ...setup, reservationId: reservation(42) });
    expect(ports.bookings.saved.get(reservation(1))?.status).toBe("RELEASED");
    expect(ports.bookings.saved.has(reservation(42))).toBe(false);
    expect(await stockOf(ports, setup)).toMatchObject({ given: 2, booked: 1 });
  });

  it("counts the dose where it was given and frees the one held at the booked hospital", async () => {
    const { hospitalId: elsewhere } = await registerHospital(ports, { name: "Busan", dailyCapacity: 10 });
    ports.events.length = 0;
    await whenVaccinationRecorded(ports, {
      hospitalId: elsewhere,
      vaccineId: setup.vaccineId,
      reservationId: reservation(2),
    });
    expect(ports.bookings.saved.get(reservation(2))?.status).toBe("VACCINATED");
    expect(await stockOf(ports, setup)).toMatchObject({ given: 0, booked: 1, bookable: 2 });
    expect(await getHospitalStock(ports, { hospitalId: elsewhere })).toEqual([
      expect.objectContaining({
        suppliedVials: 0,
        available: 0,
        given: 1,
        remaining: -1,
        booked: 0,
        bookable: 0,
      }),
    ]);
    const types = drain(ports).map(([type, aggregate]) => [type, aggregate]);
    expect(types).toHaveLength(2);
    expect(types).toEqual(
      expect.arrayContaining([
        ["StockChanged", key],
        ["StockChanged", stockId(elsewhere, setup.vaccineId)],
      ]),
    );
  });

  it("refuses a record whose ids are not UUIDs, changing nothing", async () => {
    for (const recorded of [
      { ...setup, hospitalId: "" },
      { ...setup, vaccineId: "v" },
      { ...setup, reservationId: "r-1" },
    ]) {
      await expect(whenVaccinationRecorded(ports, { reservationId: "", ...recorded })).rejects.toBeInstanceOf(
        InvalidArgument,
      );
    }
    expect(ports.events).toEqual([]);
  });
});
