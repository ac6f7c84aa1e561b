/**
 * A discard racing new bookings, with the real inventory in the same process: inventory holds the
 * booked count, so it alone decides which bookings a discard releases, in the discard's transaction,
 * and reservation follows. Each round fires the discard at another point of a burst of Reserves;
 * after every round the books balance: bookings held by inventory = reservations outstanding at
 * reservation <= doses remaining, and on every date the slots taken = the reservations outstanding
 * then <= the daily capacity.
 */
import type { Client } from "@connectrpc/connect";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { connectJsonClient, eventually, query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventoryModule } from "../../../src/vaccination/inventory/module.ts";
import { INVENTORY_CALL } from "../../../src/vaccination/reservation/module.ts";
import { dayAfter, type ReservationApp, startReservation } from "./support.ts";

/** This file proves capacity, not timeouts: no booking call here outlasts its deadline. */
const PATIENT_CALL = { ...INVENTORY_CALL, timeoutMs: 60_000, budgetMs: 60_000 };
const DAILY_CAPACITY = 12;

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

interface Stock {
  readonly hospitalId: string;
  readonly vaccineId: string;
}

async function stocked(doses: number): Promise<Stock> {
  const { hospital } = await inventory.registerHospital({
    name: "Busan General",
    dailyCapacity: DAILY_CAPACITY,
  });
  const { vaccine } = await inventory.registerVaccine({ name: "Novavax", vials: 1_000, dosesRequired: 2 });
  const at = { hospitalId: hospital?.hospitalId ?? "", vaccineId: vaccine?.vaccineId ?? "" };
  const { supply } = await inventory.supplyVaccine({ ...at, vials: 100 });
  await inventory.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses });
  return at;
}

/** The invariant of capacity, once the events in flight have arrived. */
async function expectBooksBalance(at: Stock): Promise<void> {
  await eventually(async () => {
    const { stocks } = await inventory.getHospitalStock({ hospitalId: at.hospitalId });
    const stock = stocks.find((s) => s.vaccineId === at.vaccineId);
    const outstanding = await query<{ date: string; n: number }>(
      app.databaseUrl,
      `select appointment_date::text as date, count(*)::int as n from vaccination_reservation.reservation
        where hospital_id = $1 and vaccine_id = $2 and status in ('REGISTERED', 'CONFIRMED')
        group by appointment_date order by appointment_date`,
      [at.hospitalId, at.vaccineId],
    );
    const taken = await query<{ date: string; n: number }>(
      app.databaseUrl,
      `select date, taken as n from vaccination_inventory.date_capacity
        where hospital_id = $1 and taken > 0 order by date`,
      [at.hospitalId],
    );
    const total = outstanding.reduce((sum, row) => sum + row.n, 0);
    expect(stock?.booked).toBe(total);
    expect(total).toBeLessThanOrEqual(stock?.remaining ?? 0);
    expect(taken).toEqual(outstanding);
    expect(taken.every((row) => row.n <= DAILY_CAPACITY)).toBe(true);
  }, 20_000);
}

describe("a discard racing bookings", () => {
  // Where in a burst of 20 Reserves the discard is fired: before any answer, after 5, 10, 15, all.
  for (const answeredBefore of [0, 5, 10, 15, 20]) {
    it(`never leaves more bookings than doses, fired after ${answeredBefore} of 20 answers`, async () => {
      const at = await stocked(30);
      const dates = [1, 2, 3].map((days) => dayAfter(app.clock, days));
      const reserve = (person: string, n: number) =>
        app.client.reserve({ personId: person, ...at, date: dates[n % dates.length] ?? "" });
      const first = await Promise.all(
        Array.from({ length: 30 }, (_, n) => reserve(`first-${n}-${answeredBefore}`, n)),
      );
      const booked = first.flatMap(({ outcome }) => (outcome.case === "reservation" ? [outcome.value] : []));
      expect(booked).toHaveLength(30);
      for (const reservation of booked.slice(0, 15)) {
        await app.client.cancelReservation({ reservationId: reservation.reservationId });
      }
      await expectBooksBalance(at);

      let answered = 0;
      let fire: () => void = () => undefined;
      const fired = new Promise<void>((done) => {
        fire = done;
      });
      if (answeredBefore === 0) fire();
      const burst = Promise.all(
        Array.from({ length: 20 }, (_, n) =>
          reserve(`second-${n}-${answeredBefore}`, n).then((answer) => {
            answered += 1;
            if (answered === answeredBefore) fire();
            return answer;
          }),
        ),
      );
      const discard = fired.then(() =>
        inventory.discardDoses({ ...at, doses: 5, reason: "freezer failure" }),
      );
      await Promise.all([burst, discard]);
      await expectBooksBalance(at);
      const { stocks } = await inventory.getHospitalStock({ hospitalId: at.hospitalId });
      expect(stocks.find((s) => s.vaccineId === at.vaccineId)).toMatchObject({ remaining: 25 });
    });
  }
});
