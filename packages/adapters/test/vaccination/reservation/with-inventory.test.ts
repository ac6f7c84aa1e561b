/**
 * Reservation with the real inventory module in the same process (as the all-in-one runs them):
 * Reserve calls inventory's TakeBookingSlot over HTTP/2 through the call policy, and each side's
 * events reach the other through the outbox and the embedded bus.
 */
import type { Client } from "@connectrpc/connect";
import { reservationIdForKey } from "@hexa/core/vaccination/reservation";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  CancellationReason,
  ReservationStatus,
  type ReserveResponse,
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { connectJsonClient, eventually, query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventoryModule } from "../../../src/vaccination/inventory/module.ts";
import { INVENTORY_CALL } from "../../../src/vaccination/reservation/module.ts";
import { dayAfter, emitted, type ReservationApp, startReservation, vaccinationRecorded } from "./support.ts";

/**
 * Deadlines no call here outlasts: this file proves capacity, not timeouts. With the production
 * deadline (2 s an attempt) a burst of 500 calls for one stock outlasts inventory's pace (it books
 * one call at a time), and the tail is abandoned and offered the waitlist: overload.test.ts shows
 * that nothing leaks then.
 */
const PATIENT_CALL = { ...INVENTORY_CALL, timeoutMs: 60_000, budgetMs: 60_000 };

let app: ReservationApp;
let inventory: Client<typeof InventoryService>;
beforeAll(async () => {
  app = await startReservation({
    alongside: [inventoryModule],
    maxInFlight: 5_000,
    inventoryCall: PATIENT_CALL,
  });
  inventory = connectJsonClient(InventoryService, app.url);
});
afterAll(async () => {
  await app?.stop();
});

/** A new hospital of `dailyCapacity` a day with `doses` bookable doses of a new vaccine. */
async function stocked(
  doses: number,
  dailyCapacity: number,
): Promise<{ hospitalId: string; vaccineId: string }> {
  const hospitalId = (await inventory.registerHospital({ name: "Seoul Central", dailyCapacity })).hospital
    ?.hospitalId;
  const vaccineId = (await inventory.registerVaccine({ name: "Comirnaty", vials: 1_000, dosesRequired: 2 }))
    .vaccine?.vaccineId;
  if (!hospitalId || !vaccineId) throw new Error("registration answered no id");
  const { supply } = await inventory.supplyVaccine({ hospitalId, vaccineId, vials: 100 });
  await inventory.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses });
  return { hospitalId, vaccineId };
}

/** The id of the reservation a Reserve booked ("" for a waitlist offer). */
function bookedId(answer: Pick<ReserveResponse, "outcome">): string {
  return answer.outcome.case === "reservation" ? answer.outcome.value.reservationId : "";
}

async function stockOf(at: { hospitalId: string; vaccineId: string }) {
  const { stocks } = await inventory.getHospitalStock({ hospitalId: at.hospitalId });
  const stock = stocks.find((s) => s.vaccineId === at.vaccineId);
  return { remaining: stock?.remaining, booked: stock?.booked, bookable: stock?.bookable };
}

describe("booking against the real inventory", () => {
  it("books exactly 50 of 500 concurrent Reserves for 50 bookable doses; no date is booked beyond its capacity", async () => {
    const at = await stocked(50, 20);
    const dates = [1, 2, 3, 4, 5].map((days) => dayAfter(app.clock, days));
    const answers = await Promise.all(
      Array.from({ length: 500 }, (_, n) =>
        app.client.reserve({ personId: `person-${n}`, ...at, date: dates[n % dates.length] ?? "" }),
      ),
    );

    const reservations = answers.flatMap(({ outcome }) =>
      outcome.case === "reservation" ? [outcome.value] : [],
    );
    const offers = answers.flatMap(({ outcome }) =>
      outcome.case === "waitlistOffer" ? [outcome.value] : [],
    );
    expect(reservations).toHaveLength(50);
    expect(offers).toHaveLength(450);
    expect(new Set(offers.map((offer) => offer.reason))).not.toContain(
      WaitlistOffer_Reason.INVENTORY_UNAVAILABLE,
    );
    expect(reservations.every((r) => r.status === ReservationStatus.REGISTERED)).toBe(true);

    const perDate = await query<{ date: string; n: number }>(
      app.databaseUrl,
      `select appointment_date::text as date, count(*)::int as n from vaccination_reservation.reservation
        where hospital_id = $1 group by appointment_date order by appointment_date`,
      [at.hospitalId],
    );
    expect(perDate.reduce((sum, row) => sum + row.n, 0)).toBe(50);
    expect(perDate.every((row) => row.n <= 20)).toBe(true);
    const taken = await query<{ date: string; taken: number }>(
      app.databaseUrl,
      `select date::text as date, count(*)::int as taken from vaccination_inventory.booking
        where hospital_id = $1 and status = 'BOOKED' group by date order by date`,
      [at.hospitalId],
    );
    expect(taken).toEqual(perDate.map((row) => ({ date: row.date, taken: row.n })));
    expect(await stockOf(at)).toEqual({ remaining: 50, booked: 50, bookable: 0 });
    expect(await query(app.databaseUrl, "select * from vaccination_reservation.abandoned_booking")).toEqual(
      [],
    );
  }, 90_000);

  it("refuses a full date with DATE_FULL and an exhausted stock with NO_DOSES", async () => {
    const at = await stocked(3, 2);
    const date = dayAfter(app.clock, 1);
    const reasons = [];
    for (const personId of ["a", "b", "c"]) {
      const { outcome } = await app.client.reserve({ personId, ...at, date });
      reasons.push(
        outcome.case === "reservation" ? "booked" : WaitlistOffer_Reason[outcome.value?.reason ?? 0],
      );
    }
    expect(reasons).toEqual(["booked", "booked", "DATE_FULL"]);
    const other = await app.client.reserve({ personId: "d", ...at, date: dayAfter(app.clock, 2) });
    expect(other.outcome.case).toBe("reservation");
    const none = await app.client.reserve({ personId: "e", ...at, date: dayAfter(app.clock, 2) });
    expect(none.outcome).toMatchObject({
      case: "waitlistOffer",
      value: { reason: WaitlistOffer_Reason.NO_DOSES },
    });
  });

  it("takes one dose for concurrent Reserves with the same idempotency key", async () => {
    const at = await stocked(5, 10);
    const request = {
      personId: "same-key",
      ...at,
      date: dayAfter(app.clock, 1),
      idempotencyKey: "double-tap",
    };
    const answers = await Promise.all(Array.from({ length: 20 }, () => app.client.reserve(request)));
    const id = reservationIdForKey("same-key", "double-tap");
    for (const { outcome } of answers) expect(outcome.value).toMatchObject({ reservationId: id });
    expect(await stockOf(at)).toEqual({ remaining: 5, booked: 1, bookable: 4 });
  });
});

describe("the waitlist and cancellations across both services", () => {
  it("alerts the waitlist after a person's own cancellation (through inventory), not after a manager's", async () => {
    const at = await stocked(2, 10);
    const date = dayAfter(app.clock, 1);
    const first = await app.client.reserve({ personId: "first", ...at, date });
    const second = await app.client.reserve({ personId: "second", ...at, date });
    const offered = await app.client.reserve({ personId: "waiting", ...at, date });
    expect(offered.outcome).toMatchObject({
      case: "waitlistOffer",
      value: { reason: WaitlistOffer_Reason.NO_DOSES },
    });
    const entry = (await app.client.joinWaitlist({ personId: "waiting", ...at })).reservation;
    const entryId = entry?.reservationId ?? "";
    const alerts = async () =>
      (await emitted(app.databaseUrl, [entryId])).filter(
        (e) => e.type === "vaccination.reservation.v1.WaitlistAlerted",
      );

    // A manager's cancellation gives the dose back without alerting anyone.
    await app.client.cancelReservationAsManager({
      reservationId: bookedId(first),
      note: "Clinic closed that day",
    });
    await eventually(async () => expect(await stockOf(at)).toEqual({ remaining: 2, booked: 1, bookable: 1 }));
    // Inventory's answer to a manager's cancellation is a StockChanged only; give it time to be wrong.
    await new Promise((done) => setTimeout(done, 200));
    expect(await alerts()).toEqual([]);

    // The person's own cancellation: inventory announces the bookable dose, reservation alerts the waitlist.
    await app.client.cancelReservation({ reservationId: bookedId(second) });
    await eventually(async () => expect(await alerts()).toHaveLength(1));
    expect((await alerts())[0]?.message).toMatchObject({ bookable: 2 });
    expect((await app.client.getReservation({ reservationId: entryId })).reservation?.status).toBe(
      ReservationStatus.WAITLISTED,
    );

    // Booking now closes the entry.
    const booked = await app.client.reserve({ personId: "waiting", ...at, date });
    expect(booked.outcome.case).toBe("reservation");
    expect((await app.client.getReservation({ reservationId: entryId })).reservation).toMatchObject({
      status: ReservationStatus.CANCELLED,
      cancellationReason: CancellationReason.BOOKED,
    });
    expect(await stockOf(at)).toEqual({ remaining: 2, booked: 1, bookable: 1 });
  });

  it("cancels the latest-dated bookings when a discard leaves fewer doses than bookings; inventory releases them, nobody is alerted", async () => {
    const at = await stocked(5, 10);
    const byDay = new Map<number, string>();
    for (const days of [3, 1, 5, 2, 4]) {
      const { outcome } = await app.client.reserve({
        personId: `p-${days}`,
        ...at,
        date: dayAfter(app.clock, days),
      });
      byDay.set(days, bookedId({ outcome }));
    }
    const entry = (await app.client.joinWaitlist({ personId: "waiting", ...at })).reservation;

    await inventory.discardDoses({ ...at, doses: 2, reason: "cold chain broken" });

    const status = async (days: number) =>
      (await app.client.getReservation({ reservationId: byDay.get(days) ?? "" })).reservation;
    await eventually(async () => {
      for (const days of [5, 4]) {
        expect(await status(days)).toMatchObject({
          status: ReservationStatus.CANCELLED,
          cancellationReason: CancellationReason.DISCARD,
        });
      }
    });
    for (const days of [1, 2, 3]) expect((await status(days))?.status).toBe(ReservationStatus.REGISTERED);
    await eventually(async () => expect(await stockOf(at)).toEqual({ remaining: 3, booked: 3, bookable: 0 }));
    await new Promise((done) => setTimeout(done, 200));
    const alerts = (await emitted(app.databaseUrl, [entry?.reservationId ?? ""])).filter(
      (e) => e.type === "vaccination.reservation.v1.WaitlistAlerted",
    );
    expect(alerts).toEqual([]);
    expect(await app.bus.deadLetters.list()).toEqual([]);
  });

  it("marks a booking VACCINATED when vaccination records it", async () => {
    // Vaccination's event, as its outbox would publish it; inventory counts the dose as given.
    const at = await stocked(2, 10);
    const { outcome } = await app.client.reserve({
      personId: "to-vaccinate",
      ...at,
      date: dayAfter(app.clock, 0),
    });
    const reservationId = bookedId({ outcome });
    await app.bus.publish(vaccinationRecorded({ personId: "to-vaccinate", ...at }, reservationId));
    expect((await app.client.getReservation({ reservationId })).reservation?.status).toBe(
      ReservationStatus.VACCINATED,
    );
    expect(await stockOf(at)).toEqual({ remaining: 1, booked: 0, bookable: 1 });
  });
});
