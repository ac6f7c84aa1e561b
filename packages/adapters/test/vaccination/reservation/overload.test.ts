/**
 * A burst of Reserves larger than inventory can answer within the deadlines, against the real
 * inventory module: many calls time out or meet the open breaker and get the waitlist offer. What
 * must hold all the same: every answer comes within the budget, no date and no stock is booked beyond
 * its capacity, and once the abandoned attempts are released, inventory holds exactly one dose for
 * each REGISTERED reservation (none leaked, none held twice).
 */
import type { Client } from "@connectrpc/connect";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { connectJsonClient, eventually, query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventoryModule } from "../../../src/vaccination/inventory/module.ts";
import { dayAfter, FAST_CALL, type ReservationApp, startReservation } from "./support.ts";

/**
 * 60 ms an attempt, 100 ms in all: far less than inventory needs to work through 150 calls for one
 * stock (it takes them one at a time, a few milliseconds each), so most calls are abandoned, some
 * perhaps answered in time.
 */
const BURST_CALL = { ...FAST_CALL, timeoutMs: 60, budgetMs: 100 };

let app: ReservationApp;
let inventory: Client<typeof InventoryService>;
beforeAll(async () => {
  app = await startReservation({
    alongside: [inventoryModule],
    maxInFlight: 5_000,
    inventoryCall: BURST_CALL,
  });
  inventory = connectJsonClient(InventoryService, app.url);
});
afterAll(async () => {
  await app?.stop();
});

describe("a burst beyond what inventory answers in time", () => {
  it("answers every call within the budget and leaves inventory holding exactly the registered bookings", async () => {
    const hospitalId = (await inventory.registerHospital({ name: "Busan East", dailyCapacity: 8 })).hospital
      ?.hospitalId as string;
    const vaccineId = (await inventory.registerVaccine({ name: "Spikevax", vials: 100, dosesRequired: 2 }))
      .vaccine?.vaccineId as string;
    const { supply } = await inventory.supplyVaccine({ hospitalId, vaccineId, vials: 10 });
    await inventory.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses: 20 });
    const dates = [1, 2, 3, 4, 5].map((days) => dayAfter(app.clock, days));

    const answers = await Promise.all(
      Array.from({ length: 150 }, async (_, n) => {
        const started = performance.now();
        const { outcome } = await app.client.reserve({
          personId: `burst-${n}`,
          hospitalId,
          vaccineId,
          date: dates[n % dates.length] ?? "",
        });
        return { outcome, ms: performance.now() - started };
      }),
    );
    // Bounded by the budget; the slack is this one process serving 150 callers and inventory at once.
    for (const { ms } of answers) expect(ms).toBeLessThan(BURST_CALL.budgetMs + 3_000);
    const registered = answers.filter(({ outcome }) => outcome.case === "reservation").length;
    expect(registered).toBeLessThanOrEqual(20);
    const abandoned = await query(
      app.databaseUrl,
      "select 1 from vaccination_reservation.abandoned_booking where hospital_id::text = $1",
      [hospitalId],
    );
    // The burst did outlast the deadlines: attempts were abandoned.
    expect(abandoned.length).toBeGreaterThan(0);

    // Inventory works through the calls it received, late ones included, and releases every abandoned one.
    await eventually(
      async () => {
        const [state] = await query<{
          registered: number;
          held: number;
          abandoned_held: number;
          pending: number;
        }>(
          app.databaseUrl,
          `select
             (select count(*)::int from vaccination_reservation.reservation
               where hospital_id::text = $1 and status = 'REGISTERED') as registered,
             (select count(*)::int from vaccination_inventory.booking
               where hospital_id::text = $1 and status = 'BOOKED') as held,
             (select count(*)::int from vaccination_reservation.abandoned_booking a
                join vaccination_inventory.booking b on b.reservation_id::text = a.reservation_id::text
               where a.hospital_id::text = $1 and b.status = 'BOOKED') as abandoned_held,
             (select count(*)::int from vaccination_reservation.abandoned_booking a
               where a.hospital_id::text = $1 and not exists (
                 select 1 from vaccination_inventory.booking b
                  where b.reservation_id::text = a.reservation_id::text)) as pending`,
          [hospitalId],
        );
        expect(state).toEqual({ registered, held: registered, abandoned_held: 0, pending: 0 });
      },
      20_000,
      200,
    );

    const registeredIds = await query<{ reservation_id: string }>(
      app.databaseUrl,
      `select r.reservation_id from vaccination_reservation.reservation r
         join vaccination_inventory.booking b on b.reservation_id::text = r.reservation_id::text
        where r.hospital_id::text = $1 and b.status = 'BOOKED'`,
      [hospitalId],
    );
    expect(registeredIds).toHaveLength(registered);
    const perDate = await query<{ n: number }>(
      app.databaseUrl,
      `select count(*)::int as n from vaccination_inventory.booking
        where hospital_id::text = $1 and status = 'BOOKED' group by date`,
      [hospitalId],
    );
    expect(perDate.every((row) => row.n <= 8)).toBe(true);
    const { stocks } = await inventory.getHospitalStock({ hospitalId });
    expect(stocks[0]).toMatchObject({ remaining: 20, booked: registered, bookable: 20 - registered });
    expect(await app.bus.deadLetters.list()).toEqual([]);
  }, 60_000);
});
