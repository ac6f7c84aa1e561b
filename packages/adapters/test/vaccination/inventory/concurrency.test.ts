import { randomUUID } from "node:crypto";
import { TakeBookingSlotResponse_Outcome as Outcome } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emitted, type Inventory, startInventory, TOMORROW, takenOn } from "./support.ts";

/** 500 calls through one process and a pool of ten connections take seconds, more on a busy machine. */
const BURST_TIMEOUT_MS = 120_000;

let inventory: Inventory;
beforeAll(async () => {
  inventory = await startInventory();
});
afterAll(async () => {
  await inventory?.stop();
});

/** A new hospital of `capacity` a day with `doses` bookable doses of a new vaccine. */
async function stocked(doses: number, capacity: number): Promise<{ hospitalId: string; vaccineId: string }> {
  const client = inventory.client;
  const hospitalId = (await client.registerHospital({ name: "Seoul Central", dailyCapacity: capacity }))
    .hospital?.hospitalId;
  const vaccineId = (await client.registerVaccine({ name: "Comirnaty", vials: 100, dosesRequired: 2 }))
    .vaccine?.vaccineId;
  if (!hospitalId || !vaccineId) throw new Error("registration answered no id");
  const { supply } = await client.supplyVaccine({ hospitalId, vaccineId, vials: 100 });
  await client.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses });
  return { hospitalId, vaccineId };
}

/** Calls TakeBookingSlot for every reservation id at once; answers the outcomes by reservation id. */
async function takeAllAtOnce(
  stock: { hospitalId: string; vaccineId: string },
  reservationIds: readonly string[],
): Promise<Map<string, string>> {
  const answers = await Promise.all(
    reservationIds.map((reservationId) =>
      inventory.client.takeBookingSlot({ reservationId, ...stock, date: TOMORROW }),
    ),
  );
  return new Map(reservationIds.map((id, i) => [id, Outcome[answers[i]?.outcome ?? Outcome.UNSPECIFIED]]));
}

function tally(outcomes: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
  return counts;
}

async function bookingStatuses(
  hospitalId: string,
): Promise<Array<{ status: string; outcome: string; n: number }>> {
  return query(
    inventory.databaseUrl,
    `select status, outcome, count(*)::int as n from vaccination_inventory.booking
      where hospital_id = $1 group by status, outcome order by status, outcome`,
    [hospitalId],
  );
}

describe("bookings under concurrent calls on the real PostgreSQL", () => {
  it(
    "books exactly the 50 bookable doses for 500 calls at once, and answers NO_DOSES to the other 450",
    async () => {
      const stock = await stocked(50, 1_000);
      const ids = Array.from({ length: 500 }, () => randomUUID());

      const outcomes = await takeAllAtOnce(stock, ids);

      expect(tally(outcomes.values())).toEqual({ BOOKED: 50, NO_DOSES: 450 });
      const { stocks } = await inventory.client.getHospitalStock({ hospitalId: stock.hospitalId });
      expect(stocks[0]).toMatchObject({ available: 50, remaining: 50, booked: 50, bookable: 0 });
      expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(50);
      expect(await bookingStatuses(stock.hospitalId)).toEqual([
        { status: "BOOKED", outcome: "BOOKED", n: 50 },
        { status: "REFUSED", outcome: "NO_DOSES", n: 450 },
      ]);
      // Each booking saw the one before it committed: booked counts 1..50, bookable 49..0.
      const changes = (await emitted(inventory.databaseUrl, stock.hospitalId)).flatMap(({ message }) =>
        message.$typeName === "vaccination.inventory.v1.StockChanged" ? [message] : [],
      );
      expect(changes.slice(2).map((change) => change.booked)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      expect(changes.every((change) => change.bookable >= 0 && change.booked <= change.remaining)).toBe(true);

      // The 50 booked ids and 50 refused ones again, all at once: the same answers, and no second dose.
      const booked = ids.filter((id) => outcomes.get(id) === "BOOKED");
      const refused = ids.filter((id) => outcomes.get(id) === "NO_DOSES").slice(0, 50);
      const again = await takeAllAtOnce(stock, [...booked, ...refused]);
      expect([...again.entries()]).toEqual([...booked, ...refused].map((id) => [id, outcomes.get(id)]));
      expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(50);
      const { stocks: after } = await inventory.client.getHospitalStock({ hospitalId: stock.hospitalId });
      expect(after[0]).toMatchObject({ booked: 50, bookable: 0 });
    },
    BURST_TIMEOUT_MS,
  );

  it("books exactly the 30 slots of a date for 100 calls with 100 doses, and answers DATE_FULL to the other 70", async () => {
    const stock = await stocked(100, 30);
    const ids = Array.from({ length: 100 }, () => randomUUID());

    const outcomes = await takeAllAtOnce(stock, ids);

    expect(tally(outcomes.values())).toEqual({ BOOKED: 30, DATE_FULL: 70 });
    expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(30);
    const { stocks } = await inventory.client.getHospitalStock({ hospitalId: stock.hospitalId });
    expect(stocks[0]).toMatchObject({ available: 100, booked: 30, bookable: 70 });
    expect(await bookingStatuses(stock.hospitalId)).toEqual([
      { status: "BOOKED", outcome: "BOOKED", n: 30 },
      { status: "REFUSED", outcome: "DATE_FULL", n: 70 },
    ]);
    expect(await takeAllAtOnce(stock, ids)).toEqual(outcomes);
  });

  it("takes one dose for one reservation id called 40 times at once, among other calls", async () => {
    const stock = await stocked(5, 100);
    const repeated = randomUUID();
    const others = Array.from({ length: 10 }, () => randomUUID());
    const calls = [...Array.from({ length: 40 }, () => repeated), ...others];
    const answers = await Promise.all(
      calls.map((reservationId) =>
        inventory.client.takeBookingSlot({ reservationId, ...stock, date: TOMORROW }),
      ),
    );
    const forRepeated = answers.filter((_, i) => calls[i] === repeated).map((answer) => answer.outcome);
    expect(new Set(forRepeated).size).toBe(1);
    expect(tally(answers.map((answer) => Outcome[answer.outcome])).BOOKED ?? 0).toBe(
      5 + (forRepeated[0] === Outcome.BOOKED ? 39 : 0),
    );
    const { stocks } = await inventory.client.getHospitalStock({ hospitalId: stock.hospitalId });
    expect(stocks[0]).toMatchObject({ booked: 5, bookable: 0 });
    expect(await takenOn(inventory.databaseUrl, stock.hospitalId, TOMORROW)).toBe(5);
    const [row] = await query<{ n: number }>(
      inventory.databaseUrl,
      "select count(*)::int as n from vaccination_inventory.booking where hospital_id = $1",
      [stock.hospitalId],
    );
    expect(row?.n).toBe(11);
  });
});
