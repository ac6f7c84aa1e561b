import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { FieldViolationSchema } from "@hexa/proto/hexa/common/v1/errors_pb";
import { StockChangeReason } from "@hexa/proto/trial/warehouse/v1/events_pb";
import { eventually, query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventEnvelope } from "../../../src/messaging/bus.ts";
import {
  deliveryCancelled,
  deliveryCompleted,
  emitted,
  newOrder,
  type Order,
  orderPlaced,
  pickupCompleted,
  reservationOf,
  startWarehouse,
  type Warehouse,
} from "./support.ts";

let warehouse: Warehouse;
beforeAll(async () => {
  warehouse = await startWarehouse();
});
afterAll(async () => {
  await warehouse?.stop();
});

/** A product id no other test uses. */
function newProduct(): string {
  return `product-${randomUUID().slice(0, 8)}`;
}

async function stockOf(productId: string) {
  const { stock } = await warehouse.client.getStock({ productId });
  return { onHand: stock?.onHand, reserved: stock?.reserved, available: stock?.available };
}

/** The reason and counts of each StockChanged, and the type of every other event, in commit order. */
async function history(productId: string): Promise<unknown[]> {
  return (await emitted(warehouse.databaseUrl, productId)).map(({ message }) =>
    message.$typeName === "trial.warehouse.v1.StockChanged"
      ? [StockChangeReason[message.reason], message.onHand, message.reserved, message.available]
      : message.$typeName,
  );
}

describe("Restock, GetStock and ListStock through Connect JSON", () => {
  it("restocks a product and reads it back, emitting StockChanged(RESTOCKED)", async () => {
    const productId = newProduct();
    const first = await warehouse.client.restock({ productId, quantity: 10 });
    expect(first.stock).toMatchObject({ productId, onHand: 10, reserved: 0, available: 10 });
    expect(first.stock?.updatedAt).toBeDefined();
    const second = await warehouse.client.restock({ productId, quantity: 5 });
    expect(second.stock).toMatchObject({ onHand: 15, available: 15 });
    expect((await warehouse.client.getStock({ productId })).stock).toEqual(second.stock);
    const events = await emitted(warehouse.databaseUrl, productId);
    expect(events.map((event) => [event.type, event.aggregateId])).toEqual([
      ["trial.warehouse.v1.StockChanged", productId],
      ["trial.warehouse.v1.StockChanged", productId],
    ]);
    expect(events[1]?.message).toMatchObject({
      productId,
      onHand: 15,
      reserved: 0,
      available: 15,
      reason: StockChangeReason.RESTOCKED,
      orderId: "",
    });
  });

  it("reads a product never stocked as all zeros, without writing it", async () => {
    const productId = newProduct();
    const { stock } = await warehouse.client.getStock({ productId });
    expect(stock).toMatchObject({ productId, onHand: 0, reserved: 0, available: 0 });
    expect(stock?.updatedAt).toBeUndefined();
    const rows = await query(
      warehouse.databaseUrl,
      "select 1 from trial_warehouse.stock where product_id = $1",
      [productId],
    );
    expect(rows).toEqual([]);
  });

  it("lists every stocked product by product id, a page at a time", async () => {
    const prefix = newProduct();
    const ours = [`${prefix}-c`, `${prefix}-a`, `${prefix}-b`];
    for (const productId of ours) await warehouse.client.restock({ productId, quantity: 1 });
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await warehouse.client.listStock({ pageSize: 2, pageToken });
      expect(page.stocks.length).toBeLessThanOrEqual(2);
      seen.push(...page.stocks.map((stock) => stock.productId));
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== "" && pages < 100);
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((productId) => productId.startsWith(prefix))).toEqual([...ours].sort());
    const all = await warehouse.client.listStock({});
    expect(all.stocks.length).toBeLessThanOrEqual(20);
  });
});

describe("bad input", () => {
  async function counts(): Promise<{ stocks: number; events: number }> {
    const [row] = await query<{ stocks: number; events: number }>(
      warehouse.databaseUrl,
      `select (select count(*)::int from trial_warehouse.stock) as stocks,
              (select count(*)::int from trial_warehouse.outbox) as events`,
    );
    return row ?? { stocks: -1, events: -1 };
  }

  it("names the field of every missing or out-of-range value on every RPC, and writes nothing", async () => {
    const before = await counts();
    const client = warehouse.client;
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => client.restock({ quantity: 1 }), "productId"],
      [() => client.restock({ productId: "  ", quantity: 1 }), "productId"],
      [() => client.restock({ productId: "p".repeat(65), quantity: 1 }), "productId"],
      [() => client.restock({ productId: "p" }), "quantity"],
      [() => client.restock({ productId: "p", quantity: -1 }), "quantity"],
      [() => client.restock({ productId: "p", quantity: 100_001 }), "quantity"],
      [() => client.getStock({}), "productId"],
      [() => client.getStock({ productId: "p".repeat(65) }), "productId"],
      [() => client.listStock({ pageSize: 101 }), "pageSize"],
      [() => client.listStock({ pageSize: -1 }), "pageSize"],
      [() => client.listStock({ pageToken: "not-a-token" }), "pageToken"],
      [() => client.listStock({ pageToken: Buffer.from("42").toString("base64url") }), "pageToken"],
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
    expect(await counts()).toEqual(before);
  });
});

describe("policies fed through the embedded bus", () => {
  async function publish(...events: EventEnvelope[]): Promise<void> {
    for (const event of events) await warehouse.bus.publish(event);
  }

  async function stocked(quantity: number): Promise<string> {
    const productId = newProduct();
    await warehouse.client.restock({ productId, quantity });
    return productId;
  }

  it("reserves an order's units on OrderPlaced: StockChanged(RESERVED), then StockReserved with the order's details", async () => {
    const productId = await stocked(5);
    const order = newOrder(productId, 2);
    await publish(orderPlaced(order));
    expect(await stockOf(productId)).toEqual({ onHand: 5, reserved: 2, available: 3 });
    expect(await reservationOf(warehouse.databaseUrl, order.orderId)).toEqual({
      status: "RESERVED",
      quantity: 2,
    });
    const events = await emitted(warehouse.databaseUrl, productId);
    expect(events.slice(1).map((event) => [event.type, event.aggregateId])).toEqual([
      ["trial.warehouse.v1.StockChanged", productId],
      ["trial.warehouse.v1.StockReserved", order.orderId],
    ]);
    expect(events[1]?.message).toMatchObject({ reason: StockChangeReason.RESERVED, orderId: order.orderId });
    expect(events[2]?.message).toMatchObject({
      orderId: order.orderId,
      customerId: "customer-7",
      productId,
      quantity: 2,
      address: "221B Baker Street",
    });
  });

  it("reports StockShortage and reserves nothing when too few units are available", async () => {
    const productId = await stocked(3);
    const order = newOrder(productId, 4);
    await publish(orderPlaced(order));
    expect(await stockOf(productId)).toEqual({ onHand: 3, reserved: 0, available: 3 });
    expect(await reservationOf(warehouse.databaseUrl, order.orderId)).toEqual({
      status: "SHORT",
      quantity: 4,
    });
    const events = await emitted(warehouse.databaseUrl, productId);
    expect(events.slice(1)).toEqual([
      expect.objectContaining({
        type: "trial.warehouse.v1.StockShortage",
        aggregateId: order.orderId,
        message: expect.objectContaining({ orderId: order.orderId, requested: 4, available: 3 }),
      }),
    ]);
  });

  it("has one effect for a redelivered event, and for the same order placed again", async () => {
    const productId = await stocked(5);
    const order = newOrder(productId, 2);
    const placed = orderPlaced(order);
    await publish(placed, placed, orderPlaced(order));
    expect(await stockOf(productId)).toEqual({ onHand: 5, reserved: 2, available: 3 });
    expect(await history(productId)).toEqual([
      ["RESTOCKED", 5, 0, 5],
      ["RESERVED", 5, 2, 3],
      "trial.warehouse.v1.StockReserved",
    ]);
  });

  it("releases the units on DeliveryCancelled, once", async () => {
    const productId = await stocked(5);
    const order = newOrder(productId, 2);
    const cancelled = deliveryCancelled(order);
    await publish(orderPlaced(order), cancelled, cancelled, deliveryCancelled(order));
    expect(await stockOf(productId)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    expect(await reservationOf(warehouse.databaseUrl, order.orderId)).toMatchObject({ status: "RELEASED" });
    expect((await history(productId)).slice(1)).toEqual([
      ["RESERVED", 5, 2, 3],
      "trial.warehouse.v1.StockReserved",
      ["RELEASED", 5, 0, 5],
    ]);
  });

  it("leaves a tombstone when DeliveryCancelled comes before OrderPlaced: the late order reserves nothing", async () => {
    const productId = await stocked(5);
    const order = newOrder(productId, 2);
    await publish(deliveryCancelled(order));
    expect(await reservationOf(warehouse.databaseUrl, order.orderId)).toMatchObject({ status: "CANCELLED" });
    await publish(orderPlaced(order));
    expect(await reservationOf(warehouse.databaseUrl, order.orderId)).toMatchObject({ status: "CANCELLED" });
    expect(await stockOf(productId)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    expect(await history(productId)).toEqual([["RESTOCKED", 5, 0, 5]]);
  });

  it("ships on DeliveryCompleted and takes back on PickupCompleted, each once", async () => {
    const productId = await stocked(5);
    const order = newOrder(productId, 2);
    const delivered = deliveryCompleted(order);
    const pickedUp = pickupCompleted(order);
    await publish(orderPlaced(order), delivered, delivered);
    expect(await stockOf(productId)).toEqual({ onHand: 3, reserved: 0, available: 3 });
    expect(await reservationOf(warehouse.databaseUrl, order.orderId)).toMatchObject({ status: "SHIPPED" });
    await publish(pickedUp, pickedUp, pickupCompleted(order), deliveryCompleted(order));
    expect(await stockOf(productId)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    expect(await reservationOf(warehouse.databaseUrl, order.orderId)).toMatchObject({ status: "RETURNED" });
    expect((await history(productId)).slice(1)).toEqual([
      ["RESERVED", 5, 2, 3],
      "trial.warehouse.v1.StockReserved",
      ["DELIVERED", 3, 0, 3],
      ["RETURNED", 5, 0, 5],
    ]);
  });

  it("applies a PickupCompleted seen before its DeliveryCompleted as delivery then return", async () => {
    const productId = await stocked(5);
    const order = newOrder(productId, 1);
    await publish(orderPlaced(order), pickupCompleted(order), deliveryCompleted(order));
    expect(await stockOf(productId)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    expect((await history(productId)).slice(-2)).toEqual([
      ["DELIVERED", 4, 0, 4],
      ["RETURNED", 5, 0, 5],
    ]);
  });

  it("dead-letters a DeliveryCompleted for an order it never reserved, writing nothing", async () => {
    const productId = await stocked(5);
    const order: Order = newOrder(productId, 1);
    const delivered = deliveryCompleted(order);
    await publish(delivered);
    const letters = await warehouse.bus.deadLetters.list();
    expect(letters.filter((letter) => letter.event.id === delivered.id)).toEqual([
      expect.objectContaining({
        consumer: "warehouse-delivery-completed",
        error: expect.stringContaining(`Reservation ${order.orderId} was not found`),
      }),
    ]);
    expect(await reservationOf(warehouse.databaseUrl, order.orderId)).toBeUndefined();
    expect(await stockOf(productId)).toEqual({ onHand: 5, reserved: 0, available: 5 });
  });

  it("publishes its events on the bus through the outbox", async () => {
    const seen: EventEnvelope[] = [];
    const subscription = await warehouse.bus.subscribe({
      name: "test-stock-reserved",
      eventType: "trial.warehouse.v1.StockReserved",
      handle: async (event) => {
        seen.push(event);
      },
    });
    try {
      const productId = await stocked(1);
      const order = newOrder(productId, 1);
      await publish(orderPlaced(order));
      await eventually(async () => {
        expect(seen.filter((event) => event.aggregateId === order.orderId)).toHaveLength(1);
      });
      const published = seen.find((event) => event.aggregateId === order.orderId);
      expect(JSON.parse(published?.payload ?? "{}")).toMatchObject({ orderId: order.orderId, quantity: 1 });
    } finally {
      await subscription.stop();
    }
  });

  it("has no stock row the CHECK constraints would refuse: available never below 0", async () => {
    const productId = await stocked(2);
    for (const statement of [
      "update trial_warehouse.stock set reserved = on_hand + 1 where product_id = $1",
      "update trial_warehouse.stock set reserved = -1 where product_id = $1",
      "update trial_warehouse.stock set on_hand = -1, reserved = -2 where product_id = $1",
    ]) {
      await expect(query(warehouse.databaseUrl, statement, [productId]), statement).rejects.toThrow(
        /check constraint/,
      );
    }
    expect(await stockOf(productId)).toEqual({ onHand: 2, reserved: 0, available: 2 });
  });
});
