import { FailedPrecondition, type FixedClock, InvalidArgument, NotFound } from "@hexa/core/shared";
import {
  type AbandonedBooking,
  type AbandonedBookingState,
  type AbandonedBookings,
  acceptReservation,
  type Booking,
  type BookingSlot,
  type BookingSlots,
  cancelReservation,
  cancelReservationAsManager,
  getOutstandingReservations,
  getReservation,
  type HospitalDayQuery,
  joinWaitlist,
  listReservations,
  MAX_RESERVATIONS_ASKED,
  type PersonReservationsQuery,
  Reservation,
  type ReservationEvent,
  type ReservationPorts,
  type ReservationState,
  type Reservations,
  type ReserveAnswer,
  type ReservePorts,
  rejectReservation,
  reservationIdForKey,
  reserve,
  type SlotAnswer,
  whenBookableDosesAvailable,
  whenBookingHoldsExpired,
  whenBookingsReleasedForDiscard,
  whenVaccinationRecorded,
} from "@hexa/core/vaccination/reservation";
import { beforeEach, describe, expect, it } from "vitest";
import { testContext } from "../support.ts";

const HOSPITAL = "0197a000-0000-7000-8000-00000000a001";
const OTHER_HOSPITAL = "0197a000-0000-7000-8000-00000000a002";
const VACCINE = "0197a000-0000-7000-8000-00000000b001";
const OTHER_VACCINE = "0197a000-0000-7000-8000-00000000b002";

/** Both stores append to one log, so a test sees every event in the order it was saved. */
class ReservationsInMemory implements Reservations {
  readonly saved = new Map<string, ReservationState>();
  readonly #log: ReservationEvent[];
  constructor(log: ReservationEvent[]) {
    this.#log = log;
  }
  async get(reservationId: string) {
    const state = this.saved.get(reservationId);
    return state ? Reservation.restore(state) : undefined;
  }
  async save(reservation: Reservation) {
    this.saved.set(reservation.id, reservation.state);
    this.#log.push(...reservation.pullEvents());
  }
  async waitlistEntry(personId: string, hospitalId: string, vaccineId: string) {
    const found = this.#all().find(
      (r) =>
        r.status === "WAITLISTED" &&
        r.personId === personId &&
        r.hospitalId === hospitalId &&
        r.vaccineId === vaccineId,
    );
    return found ? Reservation.restore(found) : undefined;
  }
  async outstandingOf(personId: string, vaccineId: string) {
    const found = this.#all().find(
      (r) =>
        (r.status === "REGISTERED" || r.status === "CONFIRMED") &&
        r.personId === personId &&
        r.vaccineId === vaccineId,
    );
    return found ? Reservation.restore(found) : undefined;
  }
  async standingOf(personId: string, hospitalId: string, vaccineId: string) {
    return {
      outstanding: await this.outstandingOf(personId, vaccineId),
      waitlistEntry: await this.waitlistEntry(personId, hospitalId, vaccineId),
    };
  }
  async outstanding(hospitalId: string, vaccineId: string) {
    // Deliberately not in the discard order: choosing is the domain's job.
    return this.#all()
      .filter(
        (r) =>
          (r.status === "REGISTERED" || r.status === "CONFIRMED") &&
          r.hospitalId === hospitalId &&
          r.vaccineId === vaccineId,
      )
      .sort((a, b) => (a.reservationId < b.reservationId ? -1 : 1))
      .map((r) => Reservation.restore(r));
  }
  async waitlisted(hospitalId: string, vaccineId: string) {
    return this.#all()
      .filter((r) => r.status === "WAITLISTED" && r.hospitalId === hospitalId && r.vaccineId === vaccineId)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
      .map((r) => Reservation.restore(r));
  }
  async ofPerson(query: PersonReservationsQuery) {
    return this.#all()
      .filter((r) => r.personId === query.personId)
      .slice(0, query.limit);
  }
  async ofHospitalDay(query: HospitalDayQuery) {
    return this.#all()
      .filter((r) => r.hospitalId === query.hospitalId && r.date === query.date)
      .slice(0, query.limit);
  }
  async getAll(reservationIds: readonly string[]) {
    return this.#all()
      .filter((r) => reservationIds.includes(r.reservationId))
      .map((r) => Reservation.restore(r));
  }
  #all(): ReservationState[] {
    return [...this.saved.values()];
  }
}

class AbandonedInMemory implements AbandonedBookings {
  readonly saved = new Map<string, AbandonedBookingState>();
  readonly #log: ReservationEvent[];
  constructor(log: ReservationEvent[]) {
    this.#log = log;
  }
  async has(reservationId: string) {
    return this.saved.has(reservationId);
  }
  async save(abandoned: AbandonedBooking) {
    this.saved.set(abandoned.id, abandoned.state);
    this.#log.push(...abandoned.pullEvents());
  }
}

/**
 * Inventory's booking call, scripted: answers BOOKED unless told otherwise, remembers every slot it
 * was asked for, and can run a step while "in flight" (e.g. a concurrent repeat finishing first).
 */
class ScriptedSlots implements BookingSlots {
  readonly asked: BookingSlot[] = [];
  answer: SlotAnswer = { outcome: "BOOKED" };
  whileInFlight: (() => Promise<void>) | undefined;
  /** Set by the ports while a unit of work runs: inventory must never be called inside one. */
  inUnitOfWork = false;
  calledInsideUnitOfWork = false;
  async take(slot: BookingSlot) {
    if (this.inUnitOfWork) this.calledInsideUnitOfWork = true;
    this.asked.push(slot);
    const step = this.whileInFlight;
    this.whileInFlight = undefined;
    await step?.();
    return this.answer;
  }
}

interface TestPorts extends ReservePorts {
  readonly clock: FixedClock;
  readonly reservations: ReservationsInMemory;
  readonly abandonedBookings: AbandonedInMemory;
  readonly slots: ScriptedSlots;
  readonly events: ReservationEvent[];
}

function testPorts(start?: string): TestPorts {
  const events: ReservationEvent[] = [];
  const context = testContext(start);
  const slots = new ScriptedSlots();
  const ports: TestPorts = {
    ...context,
    reservations: new ReservationsInMemory(events),
    abandonedBookings: new AbandonedInMemory(events),
    slots,
    events,
    unitOfWork: async <T>(work: (p: ReservationPorts) => Promise<T>) => {
      slots.inUnitOfWork = true;
      try {
        return await work(ports);
      } finally {
        slots.inUnitOfWork = false;
      }
    },
  };
  return ports;
}

/** Puts a reservation in the store as it stands, without events. */
function given(ports: TestPorts, state: Partial<ReservationState> & { reservationId: string }): void {
  const at = ports.clock.now();
  ports.reservations.saved.set(state.reservationId, {
    personId: "person-1",
    hospitalId: HOSPITAL,
    vaccineId: VACCINE,
    date: "2026-03-10",
    status: "REGISTERED",
    createdAt: at,
    updatedAt: at,
    ...state,
  });
}

const T0 = new Date("2026-03-01T09:00:00.000Z");
const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`;

function booking(overrides: Partial<Booking> = {}): Booking {
  return { personId: "person-1", hospitalId: HOSPITAL, vaccineId: VACCINE, date: "2026-03-10", ...overrides };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
}

describe("one outstanding reservation per person and vaccine", () => {
  let ports: TestPorts;
  beforeEach(() => {
    ports = testPorts();
  });

  it("refuses a second booking of the vaccine, at any hospital, before asking inventory", async () => {
    given(ports, { reservationId: id(90), status: "CONFIRMED" });
    const error = await failure(reserve(ports, booking({ hospitalId: OTHER_HOSPITAL, date: "2026-03-12" })));
    expect(error).toBeInstanceOf(FailedPrecondition);
    expect(error).toMatchObject({ rule: "one-outstanding-reservation-per-vaccine" });
    expect((error as Error).message).toContain(id(90));
    expect(ports.slots.asked).toEqual([]);
    expect(ports.events).toEqual([]);
  });

  it("books again once the held one is no longer outstanding, and another vaccine meanwhile", async () => {
    given(ports, { reservationId: id(90), status: "VACCINATED" });
    given(ports, { reservationId: id(91), status: "REGISTERED", vaccineId: OTHER_HOSPITAL });
    expect((await reserve(ports, booking())).reservation?.status).toBe("REGISTERED");
  });

  it("gives back the dose of a booking that lost the race to another of the same person, and refuses it", async () => {
    ports.slots.whileInFlight = async () => given(ports, { reservationId: id(90), status: "REGISTERED" });
    const error = await failure(reserve(ports, booking()));
    expect(error).toMatchObject({ rule: "one-outstanding-reservation-per-vaccine" });
    expect(ports.reservations.saved.has(id(1))).toBe(false);
    expect(ports.abandonedBookings.saved.has(id(1))).toBe(true);
    expect(ports.events.map((event) => event.type)).toEqual(["vaccination.reservation.v1.BookingAbandoned"]);
  });
});

describe("Reserve", () => {
  let ports: TestPorts;
  beforeEach(() => {
    ports = testPorts();
  });

  it("registers the booking inventory took, recording ReservationRegistered with the whole reservation", async () => {
    const answer = await reserve(ports, booking());
    const reservation: ReservationState = {
      reservationId: id(1),
      personId: "person-1",
      hospitalId: HOSPITAL,
      vaccineId: VACCINE,
      date: "2026-03-10",
      status: "REGISTERED",
      createdAt: T0,
      updatedAt: T0,
    };
    expect(answer).toEqual({ reservation });
    expect(ports.slots.asked).toEqual([
      { reservationId: id(1), hospitalId: HOSPITAL, vaccineId: VACCINE, date: "2026-03-10" },
    ]);
    expect(ports.events).toEqual([
      {
        id: id(2),
        type: "vaccination.reservation.v1.ReservationRegistered",
        aggregateId: id(1),
        occurredAt: T0,
        data: { reservation },
      },
    ]);
    expect(ports.slots.calledInsideUnitOfWork).toBe(false);
  });

  it("closes the person's waitlist entry at that hospital for that vaccine (CANCELLED, reason BOOKED), and no other", async () => {
    const entry = await joinWaitlist(ports, {
      personId: "person-1",
      hospitalId: HOSPITAL,
      vaccineId: VACCINE,
    });
    const elsewhere = await joinWaitlist(ports, {
      personId: "person-1",
      hospitalId: OTHER_HOSPITAL,
      vaccineId: VACCINE,
    });
    const otherVaccine = await joinWaitlist(ports, {
      personId: "person-1",
      hospitalId: HOSPITAL,
      vaccineId: OTHER_VACCINE,
    });
    const someoneElse = await joinWaitlist(ports, {
      personId: "person-2",
      hospitalId: HOSPITAL,
      vaccineId: VACCINE,
    });
    ports.events.length = 0;
    ports.clock.advance(60_000);
    const answer = await reserve(ports, booking());
    const later = new Date(T0.getTime() + 60_000);
    expect(answer.reservation?.status).toBe("REGISTERED");
    const closed: ReservationState = {
      ...entry,
      status: "CANCELLED",
      cancellationReason: "BOOKED",
      updatedAt: later,
    };
    expect(ports.events.map((event) => [event.type, event.aggregateId])).toEqual([
      ["vaccination.reservation.v1.ReservationRegistered", answer.reservation?.reservationId],
      ["vaccination.reservation.v1.ReservationCancelled", entry.reservationId],
    ]);
    expect(ports.events[1]?.data).toEqual({ reservation: closed });
    expect(ports.reservations.saved.get(entry.reservationId)).toEqual(closed);
    for (const untouched of [elsewhere, otherVaccine, someoneElse]) {
      expect(ports.reservations.saved.get(untouched.reservationId)).toEqual(untouched);
    }
  });

  it.each([
    ["NO_DOSES", "The hospital has no bookable dose of this vaccine."],
    ["DATE_FULL", "2026-03-10 is fully booked at the hospital."],
  ] as const)("offers the waitlist when inventory answers %s, storing nothing", async (outcome, text) => {
    ports.slots.answer = { outcome };
    const answer = await reserve(ports, booking());
    expect(answer).toEqual({
      waitlistOffer: { reason: outcome, message: expect.stringContaining(text) },
    });
    expect(answer.waitlistOffer?.message).toContain(
      `JoinWaitlist with hospital ${HOSPITAL} and vaccine ${VACCINE}`,
    );
    expect(ports.events).toEqual([]);
    expect(ports.reservations.saved.size).toBe(0);
    expect(ports.abandonedBookings.saved.size).toBe(0);
  });

  it("offers the waitlist and records BookingAbandoned when inventory may have been reached but did not answer", async () => {
    ports.slots.answer = {
      outcome: "UNAVAILABLE",
      mayHaveReached: true,
      error: "inventory timed out after 2000 ms",
    };
    const answer = await reserve(ports, booking());
    expect(answer).toEqual({
      waitlistOffer: {
        reason: "INVENTORY_UNAVAILABLE",
        message: expect.stringContaining("Bookings cannot be taken right now"),
      },
    });
    expect(ports.events).toEqual([
      {
        id: id(2),
        type: "vaccination.reservation.v1.BookingAbandoned",
        aggregateId: id(1),
        occurredAt: T0,
        data: {
          reservationId: id(1),
          hospitalId: HOSPITAL,
          vaccineId: VACCINE,
          date: "2026-03-10",
          abandonedAt: T0,
        },
      },
    ]);
    expect(ports.reservations.saved.size).toBe(0);
    expect([...ports.abandonedBookings.saved.keys()]).toEqual([id(1)]);
    expect(ports.slots.calledInsideUnitOfWork).toBe(false);
  });

  it("offers the waitlist and records nothing when no request left for inventory (its breaker was open)", async () => {
    ports.slots.answer = { outcome: "UNAVAILABLE", mayHaveReached: false, error: "inventory circuit open" };
    const answer = await reserve(ports, booking());
    expect(answer.waitlistOffer?.reason).toBe("INVENTORY_UNAVAILABLE");
    expect(ports.events).toEqual([]);
    expect(ports.abandonedBookings.saved.size).toBe(0);
  });

  it("lets inventory's own refusal through, storing nothing", async () => {
    const refusal = new NotFound("Hospital", HOSPITAL);
    ports.slots.take = async () => {
      throw refusal;
    };
    expect(await failure(reserve(ports, booking()))).toBe(refusal);
    expect(ports.events).toEqual([]);
  });

  it("accepts today's date (UTC) and refuses yesterday's", async () => {
    const today = await reserve(ports, booking({ date: "2026-03-01" }));
    expect(today.reservation?.date).toBe("2026-03-01");
    const error = await failure(reserve(ports, booking({ date: "2026-02-28" })));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field: "date", description: "must be today (2026-03-01) or later" });
  });

  it("reads today in UTC: late evening west of Greenwich is already tomorrow", async () => {
    const late = testPorts("2026-03-01T23:30:00.000-05:00");
    const error = await failure(reserve(late, booking({ date: "2026-03-01" })));
    expect(error).toMatchObject({ field: "date", description: "must be today (2026-03-02) or later" });
    expect((await reserve(late, booking({ date: "2026-03-02" }))).reservation?.status).toBe("REGISTERED");
  });

  it.each([
    [{ personId: "" }, "personId", "is required"],
    [{ personId: "   " }, "personId", "is required"],
    [{ personId: "p".repeat(65) }, "personId", "must be at most 64 characters"],
    [{ hospitalId: "" }, "hospitalId", "is required"],
    [{ hospitalId: "hospital-1" }, "hospitalId", "must be a UUID"],
    [{ vaccineId: "" }, "vaccineId", "is required"],
    [{ vaccineId: "pfizer" }, "vaccineId", "must be a UUID"],
    [{ date: "" }, "date", "is required"],
    [{ date: "10/03/2026" }, "date", 'must be a calendar day "YYYY-MM-DD"'],
    [{ date: "2026-02-30" }, "date", 'must be a calendar day "YYYY-MM-DD"'],
    [{ date: "2026-3-10" }, "date", 'must be a calendar day "YYYY-MM-DD"'],
    [{ date: "2025-12-31" }, "date", "must be today (2026-03-01) or later"],
    [{ idempotencyKey: "k".repeat(101) }, "idempotencyKey", "must be at most 100 characters"],
  ])("refuses %j naming the field %s, asking inventory nothing", async (overrides, field, description) => {
    const error = await failure(reserve(ports, booking(overrides)));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field, description });
    expect(ports.slots.asked).toEqual([]);
    expect(ports.events).toEqual([]);
  });
});

describe("Reserve with an idempotency key", () => {
  let ports: TestPorts;
  beforeEach(() => {
    ports = testPorts();
  });

  it("derives the reservation id from the person and the key: a name-based UUID (version 5)", () => {
    const first = reservationIdForKey("person-1", "key-1");
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(reservationIdForKey("person-1", "key-1")).toBe(first);
    expect(reservationIdForKey("person-2", "key-1")).not.toBe(first);
    expect(reservationIdForKey("person-1", "key-2")).not.toBe(first);
    // The pair is encoded unambiguously: shifting characters between person and key changes the id.
    expect(reservationIdForKey("person-1k", "ey-1")).not.toBe(first);
  });

  it("answers a repeat with the first reservation, asking inventory once", async () => {
    const key = { idempotencyKey: "booking-42" };
    const first = await reserve(ports, booking(key));
    ports.clock.advance(5_000);
    const again = await reserve(ports, booking(key));
    expect(first.reservation?.reservationId).toBe(reservationIdForKey("person-1", "booking-42"));
    expect(again).toEqual(first);
    expect(ports.slots.asked).toHaveLength(1);
    expect(ports.events.map((event) => event.type)).toEqual([
      "vaccination.reservation.v1.ReservationRegistered",
    ]);
  });

  it("answers the first reservation even when the repeat asks for something else", async () => {
    const first = await reserve(ports, booking({ idempotencyKey: "k" }));
    const again = await reserve(ports, booking({ idempotencyKey: "k", date: "2026-04-01" }));
    expect(again).toEqual(first);
    expect(ports.slots.asked).toHaveLength(1);
  });

  it("converges when a concurrent repeat registers first: one reservation, the repeat's answer", async () => {
    const key = { idempotencyKey: "twice" };
    let concurrent: ReserveAnswer | undefined;
    // While the first call waits for inventory, the repeat runs from start to end.
    ports.slots.whileInFlight = async () => {
      concurrent = await reserve(ports, booking(key));
    };
    const answer = await reserve(ports, booking(key));
    expect(concurrent?.reservation?.status).toBe("REGISTERED");
    expect(answer).toEqual(concurrent);
    expect(ports.reservations.saved.size).toBe(1);
    expect(ports.events.map((event) => event.type)).toEqual([
      "vaccination.reservation.v1.ReservationRegistered",
    ]);
    // Both asked inventory for the same reservation id, which inventory books once.
    expect(new Set(ports.slots.asked.map((slot) => slot.reservationId)).size).toBe(1);
  });

  it("does not abandon a booking a concurrent repeat registered: the reservation is the answer", async () => {
    const key = { idempotencyKey: "slow-then-fast" };
    ports.slots.whileInFlight = async () => {
      ports.slots.answer = { outcome: "BOOKED" };
      await reserve(ports, booking(key));
      ports.slots.answer = { outcome: "UNAVAILABLE", mayHaveReached: true, error: "timed out" };
    };
    const answer = await reserve(ports, booking(key));
    expect(answer.reservation?.status).toBe("REGISTERED");
    expect(ports.events.map((event) => event.type)).toEqual([
      "vaccination.reservation.v1.ReservationRegistered",
    ]);
    expect(ports.abandonedBookings.saved.size).toBe(0);
  });

  it("never registers an abandoned attempt, even when inventory's answer to a concurrent repeat is BOOKED", async () => {
    const key = { idempotencyKey: "abandoned-first" };
    ports.slots.answer = { outcome: "BOOKED" };
    ports.slots.whileInFlight = async () => {
      ports.slots.answer = { outcome: "UNAVAILABLE", mayHaveReached: true, error: "timed out" };
      await reserve(ports, booking(key));
      ports.slots.answer = { outcome: "BOOKED" };
    };
    const answer = await reserve(ports, booking(key));
    expect(answer.waitlistOffer?.reason).toBe("INVENTORY_UNAVAILABLE");
    expect(ports.reservations.saved.size).toBe(0);
    expect(ports.events.map((event) => event.type)).toEqual(["vaccination.reservation.v1.BookingAbandoned"]);
  });

  it("answers a repeat of an abandoned attempt with the waitlist offer again, without asking inventory", async () => {
    const key = { idempotencyKey: "gave-up" };
    ports.slots.answer = { outcome: "UNAVAILABLE", mayHaveReached: true, error: "timed out" };
    await reserve(ports, booking(key));
    ports.slots.answer = { outcome: "BOOKED" };
    const again = await reserve(ports, booking(key));
    expect(again).toEqual({
      waitlistOffer: {
        reason: "INVENTORY_UNAVAILABLE",
        message: expect.stringContaining("new idempotency key"),
      },
    });
    expect(ports.slots.asked).toHaveLength(1);
    expect(ports.events.map((event) => event.type)).toEqual(["vaccination.reservation.v1.BookingAbandoned"]);
    // A new key books.
    expect((await reserve(ports, booking({ idempotencyKey: "gave-up-2" }))).reservation?.status).toBe(
      "REGISTERED",
    );
  });

  it("asks inventory again on a repeat after NO_DOSES: nothing was stored", async () => {
    const key = { idempotencyKey: "no-doses-then" };
    ports.slots.answer = { outcome: "NO_DOSES" };
    await reserve(ports, booking(key));
    ports.slots.answer = { outcome: "BOOKED" };
    const again = await reserve(ports, booking(key));
    expect(again.reservation?.reservationId).toBe(reservationIdForKey("person-1", "no-doses-then"));
    expect(ports.slots.asked).toHaveLength(2);
  });
});

describe("JoinWaitlist", () => {
  let ports: TestPorts;
  beforeEach(() => {
    ports = testPorts();
  });

  it("puts the person on the waitlist: WAITLISTED without a date, and WaitlistJoined", async () => {
    const entry = await joinWaitlist(ports, {
      personId: " person-1 ",
      hospitalId: HOSPITAL,
      vaccineId: VACCINE,
    });
    const expected: ReservationState = {
      reservationId: id(1),
      personId: "person-1",
      hospitalId: HOSPITAL,
      vaccineId: VACCINE,
      status: "WAITLISTED",
      createdAt: T0,
      updatedAt: T0,
    };
    expect(entry).toEqual(expected);
    expect(ports.events).toEqual([
      {
        id: id(2),
        type: "vaccination.reservation.v1.WaitlistJoined",
        aggregateId: id(1),
        occurredAt: T0,
        data: { reservation: expected },
      },
    ]);
  });

  it("answers a repeat with the person's entry, recording nothing; once it is closed, a new one can be joined", async () => {
    const command = { personId: "person-1", hospitalId: HOSPITAL, vaccineId: VACCINE };
    const entry = await joinWaitlist(ports, command);
    expect(await joinWaitlist(ports, command)).toEqual(entry);
    expect(ports.events).toHaveLength(1);
    await cancelReservation(ports, { reservationId: entry.reservationId });
    const next = await joinWaitlist(ports, command);
    expect(next.reservationId).not.toBe(entry.reservationId);
    expect(next.status).toBe("WAITLISTED");
  });

  it.each([
    [{ personId: "" }, "personId"],
    [{ personId: "p".repeat(65) }, "personId"],
    [{ hospitalId: "h" }, "hospitalId"],
    [{ vaccineId: "" }, "vaccineId"],
  ])("refuses %j naming the field %s", async (overrides, field) => {
    const command = { personId: "person-1", hospitalId: HOSPITAL, vaccineId: VACCINE, ...overrides };
    const error = await failure(joinWaitlist(ports, command));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field });
    expect(ports.events).toEqual([]);
  });
});

describe("the reservation manager and the person change a reservation", () => {
  let ports: TestPorts;
  const R = id(100);
  const later = new Date(T0.getTime() + 60_000);
  beforeEach(() => {
    ports = testPorts();
  });

  function stored(
    status: ReservationState["status"],
    extra: Partial<ReservationState> = {},
  ): ReservationState {
    given(ports, { reservationId: R, status, ...extra });
    ports.clock.advance(60_000);
    return ports.reservations.saved.get(R) as ReservationState;
  }

  function onlyEvent(type: string, reservation: ReservationState) {
    expect(ports.events).toEqual([
      { id: id(1), type, aggregateId: R, occurredAt: later, data: { reservation } },
    ]);
  }

  it("accepts a REGISTERED booking: CONFIRMED, ReservationConfirmed", async () => {
    const before = stored("REGISTERED");
    const after = await acceptReservation(ports, { reservationId: R });
    expect(after).toEqual({ ...before, status: "CONFIRMED", updatedAt: later });
    onlyEvent("vaccination.reservation.v1.ReservationConfirmed", after);
  });

  it("rejects a REGISTERED booking with the manager's note: REJECTED, ReservationRejected", async () => {
    const before = stored("REGISTERED");
    const after = await rejectReservation(ports, { reservationId: R, note: " No second dose stock " });
    expect(after).toEqual({ ...before, status: "REJECTED", note: "No second dose stock", updatedAt: later });
    onlyEvent("vaccination.reservation.v1.ReservationRejected", after);
  });

  it.each(["REGISTERED", "CONFIRMED", "WAITLISTED"] as const)(
    "lets the person cancel a %s reservation: CANCELLED, reason PERSON, ReservationCancelled",
    async (status) => {
      const before = stored(status, status === "WAITLISTED" ? { date: undefined } : {});
      const after = await cancelReservation(ports, { reservationId: R });
      expect(after).toEqual({
        ...before,
        status: "CANCELLED",
        cancellationReason: "PERSON",
        updatedAt: later,
      });
      onlyEvent("vaccination.reservation.v1.ReservationCancelled", after);
    },
  );

  it.each(["REGISTERED", "CONFIRMED"] as const)(
    "lets a manager cancel a %s booking with a note: CANCELLED, reason MANAGER, ReservationCancelled",
    async (status) => {
      const before = stored(status);
      const after = await cancelReservationAsManager(ports, { reservationId: R, note: "Hospital closed" });
      expect(after).toEqual({
        ...before,
        status: "CANCELLED",
        cancellationReason: "MANAGER",
        note: "Hospital closed",
        updatedAt: later,
      });
      onlyEvent("vaccination.reservation.v1.ReservationCancelled", after);
    },
  );

  type Act = (p: TestPorts) => Promise<unknown>;
  const accept: Act = (p) => acceptReservation(p, { reservationId: R });
  const reject: Act = (p) => rejectReservation(p, { reservationId: R, note: "n" });
  const cancel: Act = (p) => cancelReservation(p, { reservationId: R });
  const cancelAsManager: Act = (p) => cancelReservationAsManager(p, { reservationId: R, note: "n" });
  const refusals: Array<[string, ReservationState["status"], string, Act]> = [];
  for (const status of ["WAITLISTED", "CONFIRMED", "REJECTED", "CANCELLED", "VACCINATED"] as const) {
    refusals.push(["accept", status, "reservation-must-be-registered", accept]);
    refusals.push(["reject", status, "reservation-must-be-registered", reject]);
  }
  for (const status of ["REJECTED", "CANCELLED", "VACCINATED"] as const) {
    refusals.push(["cancel", status, "reservation-must-be-open", cancel]);
  }
  for (const status of ["WAITLISTED", "REJECTED", "CANCELLED", "VACCINATED"] as const) {
    refusals.push(["cancel as manager", status, "reservation-must-be-booked", cancelAsManager]);
  }
  it.each(refusals)(
    "refuses to %s a %s reservation (rule %s), changing nothing",
    async (_, status, rule, act) => {
      const before = stored(status);
      const error = await failure(act(ports));
      expect(error).toBeInstanceOf(FailedPrecondition);
      expect(error).toMatchObject({ rule });
      expect(ports.reservations.saved.get(R)).toEqual(before);
      expect(ports.events).toEqual([]);
    },
  );

  it("answers NotFound for a reservation it does not have, and names the field of a malformed id or note", async () => {
    const missing = await failure(acceptReservation(ports, { reservationId: R }));
    expect(missing).toBeInstanceOf(NotFound);
    expect(missing).toMatchObject({ resourceType: "Reservation", resourceId: R });
    expect(await failure(getReservation(ports, { reservationId: R }))).toBeInstanceOf(NotFound);
    stored("REGISTERED");
    const noFilter = { personId: "", hospitalId: "", date: "" };
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => acceptReservation(ports, { reservationId: "" }), "reservationId"],
      [() => rejectReservation(ports, { reservationId: "r-1", note: "n" }), "reservationId"],
      [() => rejectReservation(ports, { reservationId: R, note: " " }), "note"],
      [() => rejectReservation(ports, { reservationId: R, note: "n".repeat(501) }), "note"],
      [() => cancelReservation(ports, { reservationId: "x" }), "reservationId"],
      [() => cancelReservationAsManager(ports, { reservationId: R, note: "" }), "note"],
      [() => getReservation(ports, { reservationId: "nope" }), "reservationId"],
      [() => listReservations(ports, { ...noFilter, limit: 20 }), "personId"],
      [
        () => listReservations(ports, { ...noFilter, hospitalId: "h-1", date: "2030-01-02", limit: 20 }),
        "hospitalId",
      ],
      [() => listReservations(ports, { ...noFilter, hospitalId: HOSPITAL, limit: 20 }), "date"],
      [
        () => listReservations(ports, { ...noFilter, hospitalId: HOSPITAL, date: "2030-02-30", limit: 20 }),
        "date",
      ],
      [() => listReservations(ports, { ...noFilter, date: "2030-01-02", limit: 20 }), "hospitalId"],
      [
        () =>
          listReservations(ports, { personId: "p-1", hospitalId: HOSPITAL, date: "2030-01-02", limit: 20 }),
        "hospitalId",
      ],
    ];
    for (const [act, field] of cases) {
      const error = await failure(act());
      expect(error, field).toBeInstanceOf(InvalidArgument);
      expect(error, field).toMatchObject({ field });
    }
    expect(ports.reservations.saved.get(R)?.status).toBe("REGISTERED");
    expect(ports.events).toEqual([]);
  });
});

describe("policy: VaccinationRecorded", () => {
  let ports: TestPorts;
  const R = id(100);
  beforeEach(() => {
    ports = testPorts();
  });

  it.each(["REGISTERED", "CONFIRMED"] as const)(
    "marks a %s booking VACCINATED, recording ReservationVaccinated",
    async (status) => {
      given(ports, { reservationId: R, status });
      ports.clock.advance(1_000);
      const outcome = await whenVaccinationRecorded(ports, { reservationId: R });
      const after = { ...(ports.reservations.saved.get(R) as ReservationState) };
      expect(after.status).toBe("VACCINATED");
      expect(after.updatedAt).toEqual(new Date(T0.getTime() + 1_000));
      expect(outcome).toEqual({ effect: "vaccinated", reservation: after });
      expect(ports.events).toEqual([
        {
          id: id(1),
          type: "vaccination.reservation.v1.ReservationVaccinated",
          aggregateId: R,
          occurredAt: after.updatedAt,
          data: { reservation: after },
        },
      ]);
    },
  );

  it.each(["WAITLISTED", "REJECTED", "CANCELLED", "VACCINATED"] as const)(
    "leaves a %s reservation as it is",
    async (status) => {
      given(ports, { reservationId: R, status });
      const before = ports.reservations.saved.get(R);
      const outcome = await whenVaccinationRecorded(ports, { reservationId: R });
      expect(outcome).toEqual({ effect: "unchanged", reservation: before });
      expect(ports.reservations.saved.get(R)).toEqual(before);
      expect(ports.events).toEqual([]);
    },
  );

  it("ignores a reservation id it never had, a malformed one, and a walk-in without one", async () => {
    expect(await whenVaccinationRecorded(ports, { reservationId: R })).toEqual({
      effect: "unknown-reservation",
      reservationId: R,
    });
    expect(await whenVaccinationRecorded(ports, { reservationId: "walk-in-7" })).toEqual({
      effect: "unknown-reservation",
      reservationId: "walk-in-7",
    });
    expect(await whenVaccinationRecorded(ports, { reservationId: "" })).toEqual({ effect: "none" });
    expect(ports.events).toEqual([]);
  });
});

describe("policy: BookingsReleasedForDiscard cancels the bookings inventory released", () => {
  let ports: TestPorts;
  beforeEach(() => {
    ports = testPorts();
  });

  const released = (...reservationIds: string[]) => ({
    hospitalId: HOSPITAL,
    vaccineId: VACCINE,
    bookings: reservationIds.map((reservationId) => ({ reservationId, date: "2026-03-20" })),
  });

  it("cancels exactly the named outstanding reservations, reason DISCARD, in the order named", async () => {
    given(ports, { reservationId: id(11) });
    given(ports, { reservationId: id(12), status: "CONFIRMED" });
    given(ports, { reservationId: id(13) });
    const cancelled = await whenBookingsReleasedForDiscard(ports, released(id(12), id(11)));
    expect(cancelled.map((r) => [r.reservationId, r.status, r.cancellationReason])).toEqual([
      [id(12), "CANCELLED", "DISCARD"],
      [id(11), "CANCELLED", "DISCARD"],
    ]);
    expect(ports.events.map((event) => [event.type, event.aggregateId])).toEqual([
      ["vaccination.reservation.v1.ReservationCancelled", id(12)],
      ["vaccination.reservation.v1.ReservationCancelled", id(11)],
    ]);
    expect(ports.reservations.saved.get(id(13))?.status).toBe("REGISTERED");
  });

  it("leaves a reservation no longer outstanding as it is, and a repeated event changes nothing", async () => {
    given(ports, { reservationId: id(11), status: "VACCINATED" });
    given(ports, { reservationId: id(12) });
    await whenBookingsReleasedForDiscard(ports, released(id(11), id(12)));
    ports.events.length = 0;
    expect(await whenBookingsReleasedForDiscard(ports, released(id(11), id(12)))).toEqual([]);
    expect(ports.events).toEqual([]);
    expect(ports.reservations.saved.get(id(11))?.status).toBe("VACCINATED");
  });

  it("tombstones a booking whose Reserve has not registered yet, so it never registers", async () => {
    // Inventory answers BOOKED, and releases it for a discard before reservation registers it.
    ports.slots.whileInFlight = async () => {
      const taken = ports.slots.asked[0]?.reservationId ?? "";
      await whenBookingsReleasedForDiscard(ports, released(taken));
    };
    const answer = await reserve(ports, booking());
    const taken = ports.slots.asked[0]?.reservationId ?? "";
    expect(ports.abandonedBookings.saved.has(taken)).toBe(true);
    expect(answer.waitlistOffer?.reason).toBe("INVENTORY_UNAVAILABLE");
    expect(ports.reservations.saved.has(taken)).toBe(false);
  });

  it("alerts no waitlist: it records cancellations only", async () => {
    given(ports, { reservationId: id(11) });
    await joinWaitlist(ports, { personId: "waiting", hospitalId: HOSPITAL, vaccineId: VACCINE });
    ports.events.length = 0;
    await whenBookingsReleasedForDiscard(ports, released(id(11)));
    expect(ports.events.map((event) => event.type)).toEqual([
      "vaccination.reservation.v1.ReservationCancelled",
    ]);
  });

  it("refuses a malformed event (it is dead-lettered)", async () => {
    for (const [event, field] of [
      [{ ...released(id(11)), hospitalId: "h" }, "hospitalId"],
      [{ ...released(id(11)), vaccineId: "" }, "vaccineId"],
      [released("not-an-id"), "reservationId"],
    ] as const) {
      expect(await failure(whenBookingsReleasedForDiscard(ports, event))).toMatchObject({ field });
    }
  });
});

describe("policy: BookingHoldsExpired cancels a reservation registered after its hold was released", () => {
  let ports: TestPorts;
  beforeEach(() => {
    ports = testPorts();
  });

  const expired = (...reservationIds: string[]) => ({
    hospitalId: HOSPITAL,
    vaccineId: VACCINE,
    bookings: reservationIds.map((reservationId) => ({ reservationId, date: "2026-03-20" })),
  });

  it("cancels a named outstanding reservation, reason HOLD_EXPIRED; a repeated event changes nothing", async () => {
    given(ports, { reservationId: id(11) });
    given(ports, { reservationId: id(12), status: "VACCINATED" });
    const cancelled = await whenBookingHoldsExpired(ports, expired(id(11), id(12)));
    expect(cancelled.map((r) => [r.reservationId, r.status, r.cancellationReason])).toEqual([
      [id(11), "CANCELLED", "HOLD_EXPIRED"],
    ]);
    ports.events.length = 0;
    expect(await whenBookingHoldsExpired(ports, expired(id(11), id(12)))).toEqual([]);
    expect(ports.events).toEqual([]);
  });

  it("tombstones a hold whose Reserve has not registered, so a late registration never happens", async () => {
    ports.slots.whileInFlight = async () => {
      await whenBookingHoldsExpired(ports, expired(ports.slots.asked[0]?.reservationId ?? ""));
    };
    const answer = await reserve(ports, booking());
    const taken = ports.slots.asked[0]?.reservationId ?? "";
    expect(ports.abandonedBookings.saved.has(taken)).toBe(true);
    expect(answer.waitlistOffer?.reason).toBe("INVENTORY_UNAVAILABLE");
    expect(ports.reservations.saved.has(taken)).toBe(false);
  });

  it("refuses a malformed event (it is dead-lettered)", async () => {
    expect(await failure(whenBookingHoldsExpired(ports, expired("not-an-id")))).toMatchObject({
      field: "reservationId",
    });
  });
});

describe("policy: BookableDosesAvailable alerts the waitlist", () => {
  let ports: TestPorts;
  beforeEach(() => {
    ports = testPorts();
  });

  it("records one WaitlistAlerted per WAITLISTED reservation of that hospital and vaccine, first joined first; nobody is booked", async () => {
    const first = await joinWaitlist(ports, { personId: "p-1", hospitalId: HOSPITAL, vaccineId: VACCINE });
    ports.clock.advance(1_000);
    const second = await joinWaitlist(ports, { personId: "p-2", hospitalId: HOSPITAL, vaccineId: VACCINE });
    await joinWaitlist(ports, { personId: "p-3", hospitalId: OTHER_HOSPITAL, vaccineId: VACCINE });
    await joinWaitlist(ports, { personId: "p-4", hospitalId: HOSPITAL, vaccineId: OTHER_VACCINE });
    const left = await joinWaitlist(ports, { personId: "p-5", hospitalId: HOSPITAL, vaccineId: VACCINE });
    await cancelReservation(ports, { reservationId: left.reservationId });
    given(ports, { reservationId: id(90), status: "REGISTERED" });
    ports.events.length = 0;
    ports.clock.advance(60_000);
    const alertedAt = ports.clock.now();

    const alerted = await whenBookableDosesAvailable(ports, {
      hospitalId: HOSPITAL,
      vaccineId: VACCINE,
      bookable: 3,
    });

    expect(alerted).toEqual([first, second]);
    expect(ports.events).toEqual([
      {
        id: expect.any(String),
        type: "vaccination.reservation.v1.WaitlistAlerted",
        aggregateId: first.reservationId,
        occurredAt: alertedAt,
        data: { reservation: first, bookable: 3, alertedAt },
      },
      {
        id: expect.any(String),
        type: "vaccination.reservation.v1.WaitlistAlerted",
        aggregateId: second.reservationId,
        occurredAt: alertedAt,
        data: { reservation: second, bookable: 3, alertedAt },
      },
    ]);
    expect(ports.reservations.saved.get(first.reservationId)).toEqual(first);
    expect(ports.reservations.saved.get(second.reservationId)).toEqual(second);
  });

  it("alerts the waitlist after a person's own cancellation only through inventory's BookableDosesAvailable", async () => {
    const waiting = await joinWaitlist(ports, {
      personId: "waiting",
      hospitalId: HOSPITAL,
      vaccineId: VACCINE,
    });
    const booked = await reserve(ports, booking({ personId: "booked" }));
    ports.events.length = 0;

    // The cancellation itself alerts nobody: inventory releases the dose and announces it.
    await cancelReservation(ports, { reservationId: booked.reservation?.reservationId ?? "" });
    expect(ports.events.map((event) => event.type)).toEqual([
      "vaccination.reservation.v1.ReservationCancelled",
    ]);
    expect(ports.events[0]?.data).toMatchObject({ reservation: { cancellationReason: "PERSON" } });

    await whenBookableDosesAvailable(ports, { hospitalId: HOSPITAL, vaccineId: VACCINE, bookable: 1 });
    expect(ports.events.slice(1).map((event) => [event.type, event.aggregateId])).toEqual([
      ["vaccination.reservation.v1.WaitlistAlerted", waiting.reservationId],
    ]);
    expect(ports.reservations.saved.get(waiting.reservationId)?.status).toBe("WAITLISTED");
  });

  it("alerts nobody when nobody waits there", async () => {
    given(ports, { reservationId: id(90), status: "REGISTERED" });
    expect(
      await whenBookableDosesAvailable(ports, { hospitalId: HOSPITAL, vaccineId: VACCINE, bookable: 5 }),
    ).toEqual([]);
    expect(ports.events).toEqual([]);
  });
});

describe("GetOutstandingReservations: inventory asks before it releases lapsed holds", () => {
  it("answers the REGISTERED and CONFIRMED ones among the ids asked, in the order asked", async () => {
    const ports = testPorts();
    given(ports, { reservationId: id(1), status: "REGISTERED" });
    given(ports, { reservationId: id(2), status: "CONFIRMED" });
    given(ports, { reservationId: id(3), status: "CANCELLED", cancellationReason: "PERSON" });
    given(ports, { reservationId: id(4), status: "VACCINATED" });
    given(ports, { reservationId: id(5), status: "WAITLISTED", date: undefined });
    given(ports, { reservationId: id(6), status: "REJECTED" });
    const asked = [id(2), id(9), id(6), id(1), id(3), id(4), id(5)];
    expect(await getOutstandingReservations(ports, { reservationIds: asked })).toEqual([id(2), id(1)]);
    expect(await getOutstandingReservations(ports, { reservationIds: [id(9)] })).toEqual([]);
    expect(ports.events).toEqual([]);
  });

  it.each([
    { why: "no id", reservationIds: [] },
    {
      why: `more than ${MAX_RESERVATIONS_ASKED} ids`,
      reservationIds: Array.from({ length: MAX_RESERVATIONS_ASKED + 1 }, (_, n) => id(n + 1)),
    },
    { why: "an id not a UUID", reservationIds: [id(1), "reservation-2"] },
    { why: "an empty id", reservationIds: [""] },
  ])("refuses $why, naming reservationIds", async ({ reservationIds }) => {
    const error = await failure(getOutstandingReservations(testPorts(), { reservationIds }));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field: "reservationIds" });
  });
});
