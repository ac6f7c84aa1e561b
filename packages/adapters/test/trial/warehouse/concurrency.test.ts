import { randomUUID } from "node:crypto";
import { query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emitted, newOrder, orderPlaced, startWarehouse, type Warehouse } from "./support.ts";

let warehouse: Warehouse;
beforeAll(async () => {
  warehouse = await startWarehouse();
});
afterAll(async () => {
  await warehouse?.stop();
});

describe("stock under concurrent orders on the real PostgreSQL", () => {
  it("reserves exactly the 10 units in stock for 40 orders placed at once, and never goes negative", async () => {
    const productId = `product-${randomUUID().slice(0, 8)}`;
    await warehouse.client.restock({ productId, quantity: 10 });
    const orders = Array.from({ length: 40 }, () => newOrder(productId, 1));

    // All 40 through the real consumer path at once: inbox, policy, unit of work.
    await Promise.all(orders.map((order) => warehouse.bus.publish(orderPlaced(order))));

    expect(await warehouse.bus.deadLetters.list()).toEqual([]);
    const { stock } = await warehouse.client.getStock({ productId });
    expect(stock).toMatchObject({ onHand: 10, reserved: 10, available: 0 });

    const events = await emitted(warehouse.databaseUrl, productId);
    const count = (type: string) => events.filter((event) => event.type === type).length;
    expect(count("trial.warehouse.v1.StockReserved")).toBe(10);
    expect(count("trial.warehouse.v1.StockShortage")).toBe(30);

    // Each reservation saw the one before it committed: reserved counts 1..10, available 9..0.
    const changes = events.flatMap((event) =>
      event.message.$typeName === "trial.warehouse.v1.StockChanged" ? [event.message] : [],
    );
    expect(changes.slice(1).map((change) => change.reserved)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(changes.every((change) => change.available >= 0 && change.reserved <= change.onHand)).toBe(true);
    const shortages = events.flatMap((event) =>
      event.message.$typeName === "trial.warehouse.v1.StockShortage" ? [event.message] : [],
    );
    expect(shortages.every((shortage) => shortage.available === 0 && shortage.requested === 1)).toBe(true);

    const statuses = await query<{ status: string; n: number }>(
      warehouse.databaseUrl,
      `select status, count(*)::int as n from trial_warehouse.reservation
        where product_id = $1 group by status order by status`,
      [productId],
    );
    expect(statuses).toEqual([
      { status: "RESERVED", n: 10 },
      { status: "SHORT", n: 30 },
    ]);
  });

  it("loses no unit when the first restocks of a new product race", async () => {
    const productId = `product-${randomUUID().slice(0, 8)}`;
    await Promise.all(Array.from({ length: 20 }, () => warehouse.client.restock({ productId, quantity: 1 })));
    const { stock } = await warehouse.client.getStock({ productId });
    expect(stock).toMatchObject({ onHand: 20, reserved: 0, available: 20 });
    const events = await emitted(warehouse.databaseUrl, productId);
    expect(events.map((event) => (event.message as { onHand: number }).onHand)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });
});
