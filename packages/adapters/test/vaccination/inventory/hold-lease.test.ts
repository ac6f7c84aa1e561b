/**
 * A booking hold's lease on the real stack: a hold reservation never confirms (its Reserve died) is
 * released by the expiry job once the lease runs out and reservation answers that it holds no such
 * reservation, by exactly one of two replicas; a confirmed hold stays; a late registration takes
 * nothing back. A lapsed hold whose reservation reservation holds is confirmed instead, and while
 * reservation cannot answer nothing is released.
 */
import { randomUUID } from "node:crypto";
import { BOOKING_HOLD_LEASE_MS } from "@hexa/core/vaccination/inventory";
import { TakeBookingSlotResponse_Outcome as Outcome } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { eventually, query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOLD_EXPIRY } from "../../../src/vaccination/inventory/module.ts";
import {
  type BookedReservation,
  bookingOf,
  emitted,
  type Inventory,
  reservationRegistered,
  startInventory,
  TOMORROW,
  takenOn,
} from "./support.ts";

let inventory: Inventory;
let replica: Inventory;
beforeAll(async () => {
  inventory = await startInventory();
  replica = await startInventory(inventory);
});
afterAll(async () => {
  await replica?.stop();
  await inventory?.stop();
});

describe("a booking hold's lease", () => {
  it("releases the holds never confirmed once the lease runs out, each once across replicas", async () => {
    const { hospital } = await inventory.client.registerHospital({ name: "Busan", dailyCapacity: 50 });
    const { vaccine } = await inventory.client.registerVaccine({
      name: "Spikevax",
      vials: 10,
      dosesRequired: 2,
    });
    const hospitalId = hospital?.hospitalId ?? "";
    const vaccineId = vaccine?.vaccineId ?? "";
    const { supply } = await inventory.client.supplyVaccine({ hospitalId, vaccineId, vials: 1 });
    await inventory.client.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses: 3 });
    const held: BookedReservation[] = [1, 2, 3].map(() => ({
      reservationId: randomUUID(),
      hospitalId,
      vaccineId,
      date: TOMORROW,
    }));
    for (const slot of held) {
      expect((await inventory.client.takeBookingSlot(slot)).outcome).toBe(Outcome.BOOKED);
    }
    const [confirmed, lapsedA, lapsedB] = held as [BookedReservation, BookedReservation, BookedReservation];
    await inventory.bus.publish(reservationRegistered(confirmed));
    await eventually(async () => expect(await holdOf(confirmed.reservationId)).toBeNull());

    // Just before the lease runs out, rounds of both replicas release nothing.
    inventory.clock.advance(BOOKING_HOLD_LEASE_MS - 1_000);
    await new Promise((resolve) => setTimeout(resolve, HOLD_EXPIRY.everyMs + 500));
    expect((await bookingOf(inventory.databaseUrl, lapsedA.reservationId))?.status).toBe("BOOKED");

    inventory.clock.advance(1_000);
    await eventually(async () => {
      expect((await bookingOf(inventory.databaseUrl, lapsedA.reservationId))?.status).toBe("RELEASED");
      expect((await bookingOf(inventory.databaseUrl, lapsedB.reservationId))?.status).toBe("RELEASED");
    }, HOLD_EXPIRY.everyMs * 3);
    expect((await bookingOf(inventory.databaseUrl, confirmed.reservationId))?.status).toBe("BOOKED");
    expect(inventory.reservation.wasAskedAbout(lapsedA.reservationId)).toBe(true);
    expect(inventory.reservation.wasAskedAbout(confirmed.reservationId)).toBe(false);
    const expiries = (await emitted(inventory.databaseUrl, hospitalId)).filter(
      (event) => event.type === "vaccination.inventory.v1.BookingHoldsExpired",
    );
    const released = expiries.flatMap((event) =>
      event.message.$typeName === "vaccination.inventory.v1.BookingHoldsExpired"
        ? event.message.bookings.map((booking) => booking.reservationId)
        : [],
    );
    expect(released.sort()).toEqual([lapsedA.reservationId, lapsedB.reservationId].sort());

    // A late registration takes nothing back, a repeated call books nothing; new people book the doses.
    await inventory.bus.publish(reservationRegistered(lapsedA));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await bookingOf(inventory.databaseUrl, lapsedA.reservationId))?.status).toBe("RELEASED");
    expect((await inventory.client.takeBookingSlot(lapsedA)).outcome).toBe(Outcome.NO_DOSES);
    for (const _ of [1, 2]) {
      const fresh = { reservationId: randomUUID(), hospitalId, vaccineId, date: TOMORROW };
      expect((await inventory.client.takeBookingSlot(fresh)).outcome).toBe(Outcome.BOOKED);
    }
    const { stocks } = await inventory.client.getHospitalStock({ hospitalId });
    expect(stocks[0]).toMatchObject({ remaining: 3, booked: 3, bookable: 0 });
    expect(await takenOn(inventory.databaseUrl, hospitalId, TOMORROW)).toBe(3);
    const [count] = await query<{ held: number }>(
      inventory.databaseUrl,
      "select count(*)::int as held from vaccination_inventory.booking where hospital_id = $1 and status = 'BOOKED'",
      [hospitalId],
    );
    expect(count?.held).toBe(3);
    expect(await inventory.bus.deadLetters.list()).toEqual([]);
    expect(await replica.bus.deadLetters.list()).toEqual([]);
  });
});

describe("a lapsed hold's reservation, asked of reservation", () => {
  /** A new hospital with `doses` doses of a new vaccine, and `count` holds taken for tomorrow. */
  async function held(doses: number, count: number): Promise<BookedReservation[]> {
    const { hospital } = await inventory.client.registerHospital({ name: "Daegu", dailyCapacity: 50 });
    const { vaccine } = await inventory.client.registerVaccine({
      name: "Nuvaxovid",
      vials: 10,
      dosesRequired: 2,
    });
    const hospitalId = hospital?.hospitalId ?? "";
    const vaccineId = vaccine?.vaccineId ?? "";
    const { supply } = await inventory.client.supplyVaccine({ hospitalId, vaccineId, vials: 1 });
    await inventory.client.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses });
    const holds = Array.from({ length: count }, () => ({
      reservationId: randomUUID(),
      hospitalId,
      vaccineId,
      date: TOMORROW,
    }));
    for (const slot of holds) {
      expect((await inventory.client.takeBookingSlot(slot)).outcome).toBe(Outcome.BOOKED);
    }
    return holds;
  }

  async function expiriesAt(hospitalId: string): Promise<string[]> {
    return (await emitted(inventory.databaseUrl, hospitalId)).flatMap((event) =>
      event.message.$typeName === "vaccination.inventory.v1.BookingHoldsExpired"
        ? event.message.bookings.map((booking) => booking.reservationId)
        : [],
    );
  }

  it("confirms the hold of a reservation reservation holds, though its ReservationRegistered never came", async () => {
    const [registered, dead] = (await held(3, 2)) as [BookedReservation, BookedReservation];
    inventory.reservation.outstanding.add(registered.reservationId);
    inventory.clock.advance(BOOKING_HOLD_LEASE_MS);
    await eventually(async () => {
      expect((await bookingOf(inventory.databaseUrl, dead.reservationId))?.status).toBe("RELEASED");
      expect(await holdOf(registered.reservationId)).toBeNull();
    }, HOLD_EXPIRY.everyMs * 3);
    expect((await bookingOf(inventory.databaseUrl, registered.reservationId))?.status).toBe("BOOKED");
    expect(await expiriesAt(registered.hospitalId)).toEqual([dead.reservationId]);
    const { stocks } = await inventory.client.getHospitalStock({ hospitalId: registered.hospitalId });
    expect(stocks[0]).toMatchObject({ remaining: 3, booked: 1, bookable: 2 });
    expect(await takenOn(inventory.databaseUrl, registered.hospitalId, TOMORROW)).toBe(1);
  });

  it("releases nothing while reservation cannot answer, and settles the holds once it does", async () => {
    const holds = await held(3, 2);
    const [kept, dead] = holds as [BookedReservation, BookedReservation];
    inventory.reservation.down = true;
    inventory.reservation.outstanding.add(kept.reservationId);
    inventory.clock.advance(BOOKING_HOLD_LEASE_MS * 3);
    // Rounds of both replicas ask, get no answer, and release nothing.
    await eventually(async () => {
      expect(
        inventory.reservation.asked.filter((ids) => ids.includes(dead.reservationId)).length,
      ).toBeGreaterThan(1);
    }, HOLD_EXPIRY.everyMs * 4);
    for (const hold of holds) {
      expect((await bookingOf(inventory.databaseUrl, hold.reservationId))?.status).toBe("BOOKED");
    }
    expect(await expiriesAt(kept.hospitalId)).toEqual([]);
    const before = await inventory.client.getHospitalStock({ hospitalId: kept.hospitalId });
    expect(before.stocks[0]).toMatchObject({ booked: 2, bookable: 1 });

    inventory.reservation.down = false;
    await eventually(async () => {
      expect((await bookingOf(inventory.databaseUrl, dead.reservationId))?.status).toBe("RELEASED");
    }, HOLD_EXPIRY.everyMs * 3);
    expect(await holdOf(kept.reservationId)).toBeNull();
    expect(await expiriesAt(kept.hospitalId)).toEqual([dead.reservationId]);
    const after = await inventory.client.getHospitalStock({ hospitalId: kept.hospitalId });
    expect(after.stocks[0]).toMatchObject({ booked: 1, bookable: 2 });
    expect(await takenOn(inventory.databaseUrl, kept.hospitalId, TOMORROW)).toBe(1);
  });
});

async function holdOf(reservationId: string): Promise<Date | null | undefined> {
  const [row] = await query<{ hold_until: Date | null }>(
    inventory.databaseUrl,
    "select hold_until from vaccination_inventory.booking where reservation_id = $1",
    [reservationId],
  );
  return row?.hold_until;
}
