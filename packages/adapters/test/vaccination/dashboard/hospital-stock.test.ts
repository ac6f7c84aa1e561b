import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, inventory, minute, startDashboard } from "./support.ts";

let dashboard: Dashboard;
beforeAll(async () => {
  dashboard = await startDashboard();
});
afterAll(async () => {
  await dashboard?.stop();
});

const VACCINE = randomUUID();

async function stockOf(hospitalId: string) {
  return (await dashboard.client.listHospitalStock({ hospitalId })).stocks;
}

describe("ListHospitalStock", () => {
  it("shows the newest StockChanged of each hospital and vaccine, with names and all its counts", async () => {
    const hospitalId = randomUUID();
    await dashboard.feed(
      inventory.hospitalRegistered(hospitalId, "Seoul Central", 30),
      inventory.vaccineRegistered(VACCINE, "Comirnaty"),
      inventory.stockChanged(
        hospitalId,
        VACCINE,
        { available: 100, given: 0, discarded: 0, booked: 0 },
        minute(0),
      ),
      inventory.stockChanged(
        hospitalId,
        VACCINE,
        { available: 100, given: 10, discarded: 5, booked: 20 },
        minute(4),
      ),
    );
    expect(await stockOf(hospitalId)).toEqual([
      expect.objectContaining({
        hospitalId,
        hospitalName: "Seoul Central",
        vaccineId: VACCINE,
        vaccineName: "Comirnaty",
        available: 100,
        given: 10,
        discarded: 5,
        remaining: 85,
        booked: 20,
        bookable: 65,
        updatedAt: timestampFromDate(minute(4)),
      }),
    ]);
  });

  it("keeps the newest whatever the arrival order; an older change arriving later changes nothing", async () => {
    const counts = [
      { available: 50, given: 0, discarded: 0, booked: 1 },
      { available: 50, given: 1, discarded: 0, booked: 2 },
      { available: 50, given: 2, discarded: 3, booked: 2 },
    ];
    const orders = [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
      [2, 0, 1],
    ];
    for (const order of orders) {
      const hospitalId = randomUUID();
      const changes = counts.map((c, n) => inventory.stockChanged(hospitalId, VACCINE, c, minute(n)));
      await dashboard.feed(...order.map((index) => changes[index]).filter((change) => change !== undefined));
      expect(await stockOf(hospitalId)).toEqual([
        expect.objectContaining({ given: 2, discarded: 3, remaining: 45, booked: 2, bookable: 43 }),
      ]);
    }
  });

  it("applies a redelivered change once: a late copy of an older change does not undo a newer one", async () => {
    const hospitalId = randomUUID();
    const older = inventory.stockChanged(
      hospitalId,
      VACCINE,
      { available: 9, given: 0, discarded: 0, booked: 0 },
      minute(0),
    );
    const newer = inventory.stockChanged(
      hospitalId,
      VACCINE,
      { available: 9, given: 4, discarded: 0, booked: 0 },
      minute(1),
    );
    await dashboard.feed(older, newer, older);
    await Promise.all([older, newer, older, newer].map((event) => dashboard.publish(event)));
    expect(await stockOf(hospitalId)).toEqual([expect.objectContaining({ given: 4, remaining: 5 })]);
  });

  it("lists every hospital's stocks, or one hospital's, by hospital name and vaccine name", async () => {
    const [north, south] = [randomUUID(), randomUUID()];
    const [alpha, beta] = [randomUUID(), randomUUID()];
    const levels = { available: 10, given: 0, discarded: 0, booked: 0 };
    await dashboard.feed(
      inventory.hospitalRegistered(north, "AA North", 10),
      inventory.hospitalRegistered(south, "AB South", 10),
      inventory.vaccineRegistered(alpha, "Alpha"),
      inventory.vaccineRegistered(beta, "Beta"),
      inventory.stockChanged(south, beta, levels, minute(0)),
      inventory.stockChanged(south, alpha, levels, minute(0)),
      inventory.stockChanged(north, beta, levels, minute(0)),
    );
    const pairs = (stocks: Array<{ hospitalName: string; vaccineName: string }>) =>
      stocks.map((stock) => `${stock.hospitalName} ${stock.vaccineName}`);
    const { stocks } = await dashboard.client.listHospitalStock({});
    expect(pairs(stocks).filter((pair) => pair.startsWith("A"))).toEqual([
      "AA North Beta",
      "AB South Alpha",
      "AB South Beta",
    ]);
    expect(pairs(await stockOf(south))).toEqual(["AB South Alpha", "AB South Beta"]);
  });

  it("answers no stock for a hospital it has not seen", async () => {
    expect(await stockOf(randomUUID())).toEqual([]);
  });
});
