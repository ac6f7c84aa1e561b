import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  FieldViolationSchema,
  PreconditionFailureSchema,
  ResourceInfoSchema,
} from "@hexa/proto/hexa/common/v1/errors_pb";
import { BookableCause } from "@hexa/proto/vaccination/inventory/v1/events_pb";
import { TakeBookingSlotResponse_Outcome as Outcome } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { eventually, query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventEnvelope } from "../../../src/messaging/bus.ts";
import {
  type BookedReservation,
  bookingAbandoned,
  bookingOf,
  CancellationReason,
  emitted,
  type Inventory,
  reservationCancelled,
  reservationRejected,
  rowCounts,
  startInventory,
  TODAY,
  TOMORROW,
  takenOn,
  vaccinationRecorded,
} from "./support.ts";

let inventory: Inventory;
beforeAll(async () => {
  inventory = await startInventory();
});
afterAll(async () => {
  await inventory?.stop();
});

interface Stocked {
  readonly hospitalId: string;
  readonly vaccineId: string;
  readonly supplyId: string;
}

/** A new hospital of `capacity` a day, a new vaccine, a supply of 10 vials, and `doses` registered of it. */
async function stocked(doses: number, capacity = 100): Promise<Stocked> {
  const { hospital } = await inventory.client.registerHospital({
    name: "Seoul Central",
    dailyCapacity: capacity,
  });
  const { vaccine } = await inventory.client.registerVaccine({
    name: "Comirnaty",
    vials: 100,
    dosesRequired: 2,
  });
  const hospitalId = hospital?.hospitalId ?? "";
  const vaccineId = vaccine?.vaccineId ?? "";
  const { supply } = await inventory.client.supplyVaccine({ hospitalId, vaccineId, vials: 10 });
  const supplyId = supply?.supplyId ?? "";
  if (doses > 0) await inventory.client.registerAvailableDoses({ supplyId, doses });
  return { hospitalId, vaccineId, supplyId };
}

const DAY_AFTER = "2031-05-12";

function reservationAt(stock: Stocked, date = TOMORROW): BookedReservation {
  return { reservationId: randomUUID(), hospitalId: stock.hospitalId, vaccineId: stock.vaccineId, date };
}

async function take(reservation: BookedReservation): Promise<string> {
  const answer = await inventory.client.takeBookingSlot(reservation);
  return Outcome[answer.outcome];
}

async function stockOf(stock: Stocked) {
  const { stocks } = await inventory.client.getHospitalStock({ hospitalId: stock.hospitalId });
  const found = stocks.find((s) => s.vaccineId === stock.vaccineId);
  const { available, given, discarded, remaining, booked, bookable } = found ?? {};
  return { available, given, discarded, remaining, booked, bookable };
}

/** Each event about the hospital in commit order: StockChanged as its counts, the others by their key fields. */
async function history(hospitalId: string): Promise<unknown[]> {
  return (await emitted(inventory.databaseUrl, hospitalId)).map(({ message }) => {
    const type = message.$typeName.replace("vaccination.inventory.v1.", "");
    switch (message.$typeName) {
      case "vaccination.inventory.v1.StockChanged":
        return [type, message.available, message.given, message.discarded, message.booked, message.bookable];
      case "vaccination.inventory.v1.BookableDosesAvailable":
        return [type, message.bookable, BookableCause[message.cause]];
      case "vaccination.inventory.v1.DosesDiscarded":
        return [type, message.doses, message.remaining, message.booked];
      default:
        return type;
    }
  });
}

async function publish(...events: EventEnvelope[]): Promise<void> {
  for (const event of events) await inventory.bus.publish(event);
}

async function noDeadLetters(): Promise<void> {
  expect(await inventory.bus.deadLetters.list()).toEqual([]);
}

describe("hospitals and vaccines through Connect JSON", () => {
  it("registers a hospital, reads it back, and publishes HospitalRegistered", async () => {
    const { hospital } = await inventory.client.registerHospital({
      name: " Seoul Central ",
      dailyCapacity: 120,
    });
    expect(hospital).toMatchObject({ name: "Seoul Central", dailyCapacity: 120 });
    expect(hospital?.registeredAt).toBeDefined();
    const hospitalId = hospital?.hospitalId ?? "";
    expect((await inventory.client.getHospital({ hospitalId })).hospital).toEqual(hospital);
    const events = await emitted(inventory.databaseUrl, hospitalId);
    expect(events).toEqual([
      {
        type: "vaccination.inventory.v1.HospitalRegistered",
        aggregateId: hospitalId,
        message: expect.objectContaining({ hospitalId, name: "Seoul Central", dailyCapacity: 120 }),
      },
    ]);
    expect((await inventory.client.getHospitalStock({ hospitalId })).stocks).toEqual([]);
  });

  it("registers a vaccine with its central stock, and publishes VaccineRegistered with the doses required", async () => {
    const { vaccine } = await inventory.client.registerVaccine({
      name: "Comirnaty",
      vials: 40,
      dosesRequired: 2,
    });
    expect(vaccine).toMatchObject({ name: "Comirnaty", vialsInStock: 40, dosesRequired: 2 });
    const vaccineId = vaccine?.vaccineId ?? "";
    expect((await inventory.client.getVaccine({ vaccineId })).vaccine).toEqual(vaccine);
    const rows = await query<{ event_type: string; aggregate_id: string; payload: Record<string, unknown> }>(
      inventory.databaseUrl,
      "select event_type, aggregate_id, payload from vaccination_inventory.outbox where aggregate_id = $1",
      [vaccineId],
    );
    expect(rows).toEqual([
      {
        event_type: "vaccination.inventory.v1.VaccineRegistered",
        aggregate_id: vaccineId,
        payload: { vaccineId, name: "Comirnaty", dosesRequired: 2, registeredAt: expect.any(String) },
      },
    ]);
  });

  it("lists hospitals and vaccines oldest first, a page at a time", async () => {
    const ours: string[] = [];
    for (const name of ["a", "b", "c"]) {
      ours.push(
        (await inventory.client.registerHospital({ name, dailyCapacity: 1 })).hospital?.hospitalId ?? "",
      );
    }
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await inventory.client.listHospitals({ pageSize: 2, pageToken });
      expect(page.hospitals.length).toBeLessThanOrEqual(2);
      seen.push(...page.hospitals.map((h) => h.hospitalId));
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== "" && pages < 100);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => ours.includes(id))).toEqual(ours);
    expect(seen).toEqual([...seen].sort());

    const vaccines: string[] = [];
    for (const name of ["x", "y"]) {
      vaccines.push(
        (await inventory.client.registerVaccine({ name, vials: 0, dosesRequired: 1 })).vaccine?.vaccineId ??
          "",
      );
    }
    const first = await inventory.client.listVaccines({ pageSize: 1 });
    expect(first.vaccines).toHaveLength(1);
    expect(first.nextPageToken).not.toBe("");
    const all = await inventory.client.listVaccines({ pageSize: 100 });
    expect(all.vaccines.map((v) => v.vaccineId).filter((id) => vaccines.includes(id))).toEqual(vaccines);
    expect(all.nextPageToken).toBe("");
  });
});

describe("supplies, available doses and discards", () => {
  it("supplies vials from the central stock and registers their doses once, alerting the waitlist", async () => {
    const { hospital } = await inventory.client.registerHospital({ name: "Busan", dailyCapacity: 50 });
    const { vaccine } = await inventory.client.registerVaccine({
      name: "Spikevax",
      vials: 25,
      dosesRequired: 2,
    });
    const hospitalId = hospital?.hospitalId ?? "";
    const vaccineId = vaccine?.vaccineId ?? "";

    const { supply } = await inventory.client.supplyVaccine({ hospitalId, vaccineId, vials: 10 });
    expect(supply).toMatchObject({ hospitalId, vaccineId, vials: 10, availableDoses: 0 });
    expect((await inventory.client.getVaccine({ vaccineId })).vaccine?.vialsInStock).toBe(15);

    const registered = await inventory.client.registerAvailableDoses({
      supplyId: supply?.supplyId ?? "",
      doses: 60,
    });
    expect(registered.supply).toMatchObject({ supplyId: supply?.supplyId, availableDoses: 60 });
    expect(registered.stock).toMatchObject({
      hospitalId,
      vaccineId,
      suppliedVials: 10,
      available: 60,
      given: 0,
      discarded: 0,
      remaining: 60,
      booked: 0,
      bookable: 60,
    });
    const again = await inventory.client
      .registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses: 5 })
      .then(() => undefined, ConnectError.from);
    expect(again?.code).toBe(Code.FailedPrecondition);
    expect(again?.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "doses-already-registered" }),
    ]);

    const events = await emitted(inventory.databaseUrl, hospitalId);
    const stockKey = `${hospitalId}/${vaccineId}`;
    expect(
      events.map((event) => [event.type.replace("vaccination.inventory.v1.", ""), event.aggregateId]),
    ).toEqual([
      ["HospitalRegistered", hospitalId],
      ["VaccineSupplied", supply?.supplyId],
      ["StockChanged", stockKey],
      ["AvailableDosesRegistered", supply?.supplyId],
      ["StockChanged", stockKey],
      ["BookableDosesAvailable", stockKey],
    ]);
    expect(await history(hospitalId)).toEqual([
      "HospitalRegistered",
      "VaccineSupplied",
      ["StockChanged", 0, 0, 0, 0, 0],
      "AvailableDosesRegistered",
      ["StockChanged", 60, 0, 0, 0, 60],
      ["BookableDosesAvailable", 60, "NEW_DOSES"],
    ]);
    expect(events[3]?.message).toMatchObject({
      supplyId: supply?.supplyId,
      hospitalId,
      vaccineId,
      doses: 60,
    });
  });

  it("refuses more vials than the central stock holds (rule vials-must-be-in-stock)", async () => {
    const stock = await stocked(0);
    const before = await rowCounts(inventory.databaseUrl);
    const error = await inventory.client
      .supplyVaccine({ hospitalId: stock.hospitalId, vaccineId: stock.vaccineId, vials: 91 })
      .then(() => undefined, ConnectError.from);
    expect(error?.code).toBe(Code.FailedPrecondition);
    expect(error?.rawMessage).toContain("vials-must-be-in-stock");
    expect((await inventory.client.getVaccine({ vaccineId: stock.vaccineId })).vaccine?.vialsInStock).toBe(
      90,
    );
    expect(await rowCounts(inventory.databaseUrl)).toEqual(before);
  });

  it("discards doses and, in the same transaction, releases the bookings beyond the doses remaining", async () => {
    const stock = await stocked(10);
    const earlier = reservationAt(stock);
    const later = reservationAt(stock, DAY_AFTER);
    expect(await take(earlier)).toBe("BOOKED");
    expect(await take(later)).toBe("BOOKED");
    const { stock: after } = await inventory.client.discardDoses({
      hospitalId: stock.hospitalId,
      vaccineId: stock.vaccineId,
      doses: 9,
      reason: "expired",
    });
    expect(after).toMatchObject({ available: 10, discarded: 9, remaining: 1, booked: 1, bookable: 0 });
    const events = await emitted(inventory.databaseUrl, stock.hospitalId);
    expect(events.slice(-4).map((event) => event.message)).toEqual([
      expect.objectContaining({ doses: 9, reason: "expired", remaining: 1, booked: 2 }),
      expect.objectContaining({ available: 10, discarded: 9, remaining: 1, booked: 2, bookable: 0 }),
      expect.objectContaining({ available: 10, discarded: 9, remaining: 1, booked: 1, bookable: 0 }),
      expect.objectContaining({
        hospitalId: stock.hospitalId,
        vaccineId: stock.vaccineId,
        bookings: [expect.objectContaining({ reservationId: later.reservationId, date: DAY_AFTER })],
      }),
    ]);
    expect((await history(stock.hospitalId)).slice(-4)).toEqual([
      ["DosesDiscarded", 9, 1, 2],
      ["StockChanged", 10, 0, 9, 2, 0],
      ["StockChanged", 10, 0, 9, 1, 0],
      "BookingsReleasedForDiscard",
    ]);
    expect(await bookingOf(inventory.databaseUrl, later.reservationId)).toEqual({
      status: "RELEASED",
      outcome: "BOOKED",
    });
    expect(await takenOn(inventory.databaseUrl, stock.hospitalId, DAY_AFTER)).toBe(0);
    const more = await inventory.client
      .discardDoses({ hospitalId: stock.hospitalId, vaccineId: stock.vaccineId, doses: 2, reason: "" })
      .then(() => undefined, ConnectError.from);
    expect(more?.code).toBe(Code.FailedPrecondition);
    expect(more?.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "discard-must-not-exceed-remaining" }),
    ]);
  });
});

describe("TakeBookingSlot through Connect JSON", () => {
  it("books a dose and a slot, answering the counts after it, and emits StockChanged", async () => {
    const stock = await stocked(2, 3);
    const reservation = reservationAt(stock);
    const answer = await inventory.client.takeBookingSlot(reservation);
    expect(answer).toMatchObject({ outcome: Outcome.BOOKED, bookable: 1, dateSlotsLeft: 2 });
    expect(await bookingOf(inventory.databaseUrl, reservation.reservationId)).toEqual({
      status: "BOOKED",
      outcome: "BOOKED",
    });
    expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(1);
    expect((await history(stock.hospitalId)).at(-1)).toEqual(["StockChanged", 2, 0, 0, 1, 1]);
  });

  it("answers NO_DOSES (checked first) and DATE_FULL, taking nothing and keeping the refusal", async () => {
    const stock = await stocked(3, 2);
    expect(await take(reservationAt(stock))).toBe("BOOKED");
    expect(await take(reservationAt(stock))).toBe("BOOKED");
    const full = reservationAt(stock);
    const answer = await inventory.client.takeBookingSlot(full);
    expect(answer).toMatchObject({ outcome: Outcome.DATE_FULL, bookable: 1, dateSlotsLeft: 0 });
    expect(await bookingOf(inventory.databaseUrl, full.reservationId)).toEqual({
      status: "REFUSED",
      outcome: "DATE_FULL",
    });
    expect(await take(reservationAt(stock, "2031-05-12"))).toBe("BOOKED");
    const noDose = reservationAt(stock);
    expect(await take(noDose)).toBe("NO_DOSES");
    expect(await bookingOf(inventory.databaseUrl, noDose.reservationId)).toEqual({
      status: "REFUSED",
      outcome: "NO_DOSES",
    });
    expect(await stockOf(stock)).toMatchObject({ booked: 3, bookable: 0 });
    expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(2);
  });

  it("books today, the clock's UTC day", async () => {
    const stock = await stocked(1);
    expect(await take(reservationAt(stock, TODAY))).toBe("BOOKED");
  });

  it("is idempotent: the same reservation id gets the same answer and never a second dose", async () => {
    const stock = await stocked(1);
    const booked = reservationAt(stock);
    const refused = reservationAt(stock);
    const first = await inventory.client.takeBookingSlot(booked);
    const second = await inventory.client.takeBookingSlot(refused);
    const eventsBefore = (await emitted(inventory.databaseUrl, stock.hospitalId)).length;
    for (let i = 0; i < 3; i++) {
      expect(await inventory.client.takeBookingSlot(booked)).toEqual(first);
      expect(await inventory.client.takeBookingSlot(refused)).toEqual(second);
    }
    expect(first.outcome).toBe(Outcome.BOOKED);
    expect(second.outcome).toBe(Outcome.NO_DOSES);
    expect(await stockOf(stock)).toMatchObject({ booked: 1, bookable: 0 });
    expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(1);
    expect(await emitted(inventory.databaseUrl, stock.hospitalId)).toHaveLength(eventsBefore);
  });
});

describe("releases and vaccinations fed through the embedded bus", () => {
  it("a person's cancellation releases the dose and slot and alerts the waitlist, once", async () => {
    const stock = await stocked(2);
    const reservation = reservationAt(stock);
    await take(reservation);
    await take(reservationAt(stock));
    const cancelled = reservationCancelled(reservation, CancellationReason.PERSON);
    await publish(cancelled, cancelled, reservationCancelled(reservation, CancellationReason.PERSON));
    await noDeadLetters();
    expect(await bookingOf(inventory.databaseUrl, reservation.reservationId)).toMatchObject({
      status: "RELEASED",
    });
    expect(await stockOf(stock)).toMatchObject({ booked: 1, bookable: 1 });
    expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(1);
    expect((await history(stock.hospitalId)).slice(-4)).toEqual([
      ["StockChanged", 2, 0, 0, 1, 1],
      ["StockChanged", 2, 0, 0, 2, 0],
      ["StockChanged", 2, 0, 0, 1, 1],
      ["BookableDosesAvailable", 1, "PERSON_CANCELLED"],
    ]);
  });

  it.each([
    [
      "a manager's cancellation",
      (r: BookedReservation) => reservationCancelled(r, CancellationReason.MANAGER),
    ],
    [
      "a cancellation after a discard",
      (r: BookedReservation) => reservationCancelled(r, CancellationReason.DISCARD),
    ],
    ["a rejection", reservationRejected],
    ["an abandoned booking", bookingAbandoned],
  ])("%s releases the dose and slot without alerting the waitlist", async (_, event) => {
    const stock = await stocked(2);
    const reservation = reservationAt(stock);
    await take(reservation);
    await publish(event(reservation));
    await noDeadLetters();
    expect(await bookingOf(inventory.databaseUrl, reservation.reservationId)).toMatchObject({
      status: "RELEASED",
    });
    expect(await stockOf(stock)).toMatchObject({ booked: 0, bookable: 2 });
    expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(0);
    expect((await history(stock.hospitalId)).slice(-2)).toEqual([
      ["StockChanged", 2, 0, 0, 1, 1],
      ["StockChanged", 2, 0, 0, 0, 2],
    ]);
  });

  it("ignores the cancellation of a waitlist entry: it never held a dose", async () => {
    const stock = await stocked(2);
    const waitlisted = { ...reservationAt(stock), date: "" };
    const before = await rowCounts(inventory.databaseUrl);
    await publish(
      reservationCancelled(waitlisted, CancellationReason.BOOKED),
      reservationRejected(waitlisted),
    );
    await noDeadLetters();
    expect(await bookingOf(inventory.databaseUrl, waitlisted.reservationId)).toBeUndefined();
    expect(await rowCounts(inventory.databaseUrl)).toEqual(before);
  });

  it("leaves a tombstone for a booking abandoned before it was taken: the late call takes nothing", async () => {
    const stock = await stocked(2);
    const reservation = reservationAt(stock);
    await publish(bookingAbandoned(reservation));
    await noDeadLetters();
    expect(await bookingOf(inventory.databaseUrl, reservation.reservationId)).toEqual({
      status: "RELEASED",
      outcome: "NO_DOSES",
    });
    const late = await inventory.client.takeBookingSlot(reservation);
    expect(late).toMatchObject({ outcome: Outcome.NO_DOSES, bookable: 2, dateSlotsLeft: 100 });
    expect(await stockOf(stock)).toMatchObject({ booked: 0, bookable: 2 });
    expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(0);
  });

  it("counts a booked vaccination as given and no longer booked; the slot stays taken", async () => {
    const stock = await stocked(3);
    const reservation = reservationAt(stock);
    await take(reservation);
    const recorded = vaccinationRecorded({ ...stock, reservationId: reservation.reservationId });
    await publish(recorded, recorded);
    await noDeadLetters();
    expect(await bookingOf(inventory.databaseUrl, reservation.reservationId)).toMatchObject({
      status: "VACCINATED",
    });
    expect(await stockOf(stock)).toEqual({
      available: 3,
      given: 1,
      discarded: 0,
      remaining: 2,
      booked: 0,
      bookable: 2,
    });
    expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(1);
    // A cancellation after the vaccination finds nothing held.
    await publish(reservationCancelled(reservation, CancellationReason.PERSON));
    expect(await stockOf(stock)).toMatchObject({ given: 1, booked: 0 });
    expect((await history(stock.hospitalId)).slice(-2)).toEqual([
      ["StockChanged", 3, 0, 0, 1, 2],
      ["StockChanged", 3, 1, 0, 0, 2],
    ]);
  });

  it("counts a walk-in as given only, and never refuses one, even past the remaining doses", async () => {
    const stock = await stocked(1);
    const reservation = reservationAt(stock);
    await take(reservation);
    await publish(vaccinationRecorded({ ...stock, reservationId: "" }));
    expect(await stockOf(stock)).toEqual({
      available: 1,
      given: 1,
      discarded: 0,
      remaining: 0,
      booked: 1,
      bookable: 0,
    });
    await publish(vaccinationRecorded({ ...stock, reservationId: "" }));
    await noDeadLetters();
    expect(await stockOf(stock)).toMatchObject({ given: 2, remaining: -1, booked: 1, bookable: 0 });
  });

  it("dead-letters a malformed event, changing nothing", async () => {
    const stock = await stocked(1);
    const before = await rowCounts(inventory.databaseUrl);
    const bad = bookingAbandoned({ ...reservationAt(stock), reservationId: "not-a-uuid" });
    await publish(bad);
    const letters = await inventory.bus.deadLetters.list();
    expect(letters.filter((letter) => letter.event.id === bad.id)).toEqual([
      expect.objectContaining({
        consumer: "inventory-booking-abandoned",
        error: expect.stringContaining("reservationId: must be a UUID"),
      }),
    ]);
    expect(await rowCounts(inventory.databaseUrl)).toEqual(before);
  });

  it("publishes its events on the bus through the outbox", async () => {
    const seen: EventEnvelope[] = [];
    const subscription = await inventory.bus.subscribe({
      name: "test-bookable-doses",
      eventType: "vaccination.inventory.v1.BookableDosesAvailable",
      handle: async (event) => {
        seen.push(event);
      },
    });
    try {
      const stock = await stocked(4);
      await eventually(async () => {
        expect(
          seen.filter((event) => event.aggregateId === `${stock.hospitalId}/${stock.vaccineId}`),
        ).toHaveLength(1);
      });
      const published = seen.find((event) => event.aggregateId === `${stock.hospitalId}/${stock.vaccineId}`);
      expect(JSON.parse(published?.payload ?? "{}")).toMatchObject({
        hospitalId: stock.hospitalId,
        vaccineId: stock.vaccineId,
        bookable: 4,
        cause: "BOOKABLE_CAUSE_NEW_DOSES",
      });
    } finally {
      await subscription.stop();
    }
  });
});

describe("bad input", () => {
  const UNKNOWN = "0196c000-0000-7000-8000-00000000ffff";

  it("names the field of every missing, malformed or out-of-range value on every RPC, and writes nothing", async () => {
    const stock = await stocked(5);
    const before = await rowCounts(inventory.databaseUrl);
    const c = inventory.client;
    const { hospitalId, vaccineId, supplyId } = stock;
    const slot = { reservationId: randomUUID(), hospitalId, vaccineId, date: TOMORROW };
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => c.registerHospital({ dailyCapacity: 1 }), "name"],
      [() => c.registerHospital({ name: "h".repeat(201), dailyCapacity: 1 }), "name"],
      [() => c.registerHospital({ name: "h" }), "dailyCapacity"],
      [() => c.registerHospital({ name: "h", dailyCapacity: 100_001 }), "dailyCapacity"],
      [() => c.registerVaccine({ vials: 1, dosesRequired: 1 }), "name"],
      [() => c.registerVaccine({ name: "v", vials: -1, dosesRequired: 1 }), "vials"],
      [() => c.registerVaccine({ name: "v", vials: 10_000_001, dosesRequired: 1 }), "vials"],
      [() => c.registerVaccine({ name: "v", vials: 1 }), "dosesRequired"],
      [() => c.registerVaccine({ name: "v", vials: 1, dosesRequired: 6 }), "dosesRequired"],
      [() => c.supplyVaccine({ vaccineId, vials: 1 }), "hospitalId"],
      [() => c.supplyVaccine({ hospitalId: "h-1", vaccineId, vials: 1 }), "hospitalId"],
      [() => c.supplyVaccine({ hospitalId, vials: 1 }), "vaccineId"],
      [() => c.supplyVaccine({ hospitalId, vaccineId }), "vials"],
      [() => c.supplyVaccine({ hospitalId, vaccineId, vials: -5 }), "vials"],
      [() => c.registerAvailableDoses({ doses: 1 }), "supplyId"],
      [() => c.registerAvailableDoses({ supplyId }), "doses"],
      [() => c.registerAvailableDoses({ supplyId, doses: 1_000_001 }), "doses"],
      [() => c.discardDoses({ vaccineId, doses: 1 }), "hospitalId"],
      [() => c.discardDoses({ hospitalId, doses: 1 }), "vaccineId"],
      [() => c.discardDoses({ hospitalId, vaccineId }), "doses"],
      [() => c.discardDoses({ hospitalId, vaccineId, doses: 1, reason: "r".repeat(501) }), "reason"],
      [() => c.takeBookingSlot({ ...slot, reservationId: "" }), "reservationId"],
      [() => c.takeBookingSlot({ ...slot, reservationId: "r-1" }), "reservationId"],
      [() => c.takeBookingSlot({ ...slot, hospitalId: "" }), "hospitalId"],
      [() => c.takeBookingSlot({ ...slot, vaccineId: "v" }), "vaccineId"],
      [() => c.takeBookingSlot({ ...slot, date: "" }), "date"],
      [() => c.takeBookingSlot({ ...slot, date: "2031-5-11" }), "date"],
      [() => c.takeBookingSlot({ ...slot, date: "2031-02-29" }), "date"],
      [() => c.takeBookingSlot({ ...slot, date: "2031-05-09" }), "date"],
      [() => c.getHospital({}), "hospitalId"],
      [() => c.getVaccine({ vaccineId: "v" }), "vaccineId"],
      [() => c.getHospitalStock({ hospitalId: "x" }), "hospitalId"],
      [() => c.listHospitals({ pageSize: 101 }), "pageSize"],
      [() => c.listHospitals({ pageSize: -1 }), "pageSize"],
      [() => c.listHospitals({ pageToken: "not-a-token" }), "pageToken"],
      [() => c.listVaccines({ pageToken: Buffer.from("42").toString("base64url") }), "pageToken"],
      [() => c.listVaccines({ pageToken: Buffer.from('"v-1"').toString("base64url") }), "pageToken"],
    ];
    for (const [call, field] of cases) {
      const error = await call().then(
        () => undefined,
        (caught: unknown) => ConnectError.from(caught),
      );
      expect(error?.code, field).toBe(Code.InvalidArgument);
      expect(error?.rawMessage, field).toContain(field);
      expect(error?.findDetails(FieldViolationSchema), field).toEqual([expect.objectContaining({ field })]);
    }
    const past = await c
      .takeBookingSlot({ ...slot, date: "2031-05-09" })
      .then(() => undefined, ConnectError.from);
    expect(past?.rawMessage).toContain("must be today or later");
    expect(await rowCounts(inventory.databaseUrl)).toEqual(before);
  });

  it("answers NotFound naming the resource for unknown hospitals, vaccines and supplies, and writes nothing", async () => {
    const stock = await stocked(5);
    const before = await rowCounts(inventory.databaseUrl);
    const c = inventory.client;
    const { hospitalId, vaccineId } = stock;
    const slot = { reservationId: randomUUID(), hospitalId, vaccineId, date: TOMORROW };
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => c.supplyVaccine({ hospitalId: UNKNOWN, vaccineId, vials: 1 }), "Hospital"],
      [() => c.supplyVaccine({ hospitalId, vaccineId: UNKNOWN, vials: 1 }), "Vaccine"],
      [() => c.registerAvailableDoses({ supplyId: UNKNOWN, doses: 1 }), "Supply"],
      [() => c.discardDoses({ hospitalId: UNKNOWN, vaccineId, doses: 1 }), "Hospital"],
      [() => c.discardDoses({ hospitalId, vaccineId: UNKNOWN, doses: 1 }), "Vaccine"],
      [() => c.takeBookingSlot({ ...slot, hospitalId: UNKNOWN }), "Hospital"],
      [() => c.takeBookingSlot({ ...slot, vaccineId: UNKNOWN }), "Vaccine"],
      [() => c.getHospital({ hospitalId: UNKNOWN }), "Hospital"],
      [() => c.getVaccine({ vaccineId: UNKNOWN }), "Vaccine"],
      [() => c.getHospitalStock({ hospitalId: UNKNOWN }), "Hospital"],
    ];
    for (const [call, resourceType] of cases) {
      const error = await call().then(() => undefined, ConnectError.from);
      expect(error?.code, resourceType).toBe(Code.NotFound);
      expect(error?.findDetails(ResourceInfoSchema), resourceType).toEqual([
        expect.objectContaining({ resourceType, resourceId: UNKNOWN }),
      ]);
    }
    expect(await rowCounts(inventory.databaseUrl)).toEqual(before);
  });

  it("answers FailedPrecondition naming the rule, and writes nothing", async () => {
    const stock = await stocked(5);
    const before = await rowCounts(inventory.databaseUrl);
    const c = inventory.client;
    const { hospitalId, vaccineId, supplyId } = stock;
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => c.supplyVaccine({ hospitalId, vaccineId, vials: 91 }), "vials-must-be-in-stock"],
      [() => c.registerAvailableDoses({ supplyId, doses: 1 }), "doses-already-registered"],
      [() => c.discardDoses({ hospitalId, vaccineId, doses: 6 }), "discard-must-not-exceed-remaining"],
    ];
    for (const [call, rule] of cases) {
      const error = await call().then(() => undefined, ConnectError.from);
      expect(error?.code, rule).toBe(Code.FailedPrecondition);
      expect(error?.rawMessage, rule).toContain(rule);
      expect(error?.findDetails(PreconditionFailureSchema), rule).toEqual([
        expect.objectContaining({ rule }),
      ]);
    }
    expect(await rowCounts(inventory.databaseUrl)).toEqual(before);
  });

  it("has CHECK constraints behind the counts: none goes below 0", async () => {
    const stock = await stocked(2);
    expect(await take(reservationAt(stock))).toBe("BOOKED");
    for (const column of ["available", "given", "discarded", "booked", "supplied_vials"]) {
      const statement = `update vaccination_inventory.stock set ${column} = -1 where hospital_id = $1`;
      await expect(query(inventory.databaseUrl, statement, [stock.hospitalId]), column).rejects.toThrow(
        /check constraint/,
      );
    }
    await expect(
      query(
        inventory.databaseUrl,
        "update vaccination_inventory.date_capacity set taken = -1 where hospital_id = $1",
        [stock.hospitalId],
      ),
    ).rejects.toThrow(/check constraint/);
    expect(await stockOf(stock)).toMatchObject({ available: 2, booked: 1, bookable: 1 });
  });
});
