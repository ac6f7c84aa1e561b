import { FailedPrecondition, InvalidArgument, NotFound } from "@hexa/core/shared";
import type { OrderPlaced } from "@hexa/core/trial/order";
import {
  getStock,
  listStock,
  MAX_UNITS,
  Reservation,
  type ReservationState,
  type Reservations,
  restock,
  Stock,
  type StockCounts,
  type StockPage,
  type Stocks,
  type WarehouseEvent,
  type WarehousePorts,
  whenDeliveryCancelled,
  whenDeliveryCompleted,
  whenOrderPlaced,
  whenPickupCompleted,
} from "@hexa/core/trial/warehouse";
import { beforeEach, describe, expect, it } from "vitest";
import { refusal, testContext } from "../support.ts";

/** Both stores append to one log, so a test sees every event in the order it was saved. */
class StocksInMemory implements Stocks {
  readonly saved = new Map<string, StockCounts>();
  readonly #log: WarehouseEvent[];
  constructor(log: WarehouseEvent[]) {
    this.#log = log;
  }
  async get(productId: string) {
    const counts = this.saved.get(productId);
    return counts ? Stock.restore(counts) : undefined;
  }
  async save(stock: Stock) {
    const events = stock.pullEvents();
    if (events.length === 0) return;
    this.saved.set(stock.id, stock.state);
    this.#log.push(...events);
  }
  async list(page: StockPage) {
    return [...this.saved.keys()]
      .sort()
      .filter((productId) => page.after === undefined || productId > page.after)
      .slice(0, page.limit)
      .map((productId) => Stock.restore(this.saved.get(productId) as StockCounts).state);
  }
}

class ReservationsInMemory implements Reservations {
  readonly saved = new Map<string, ReservationState>();
  readonly #log: WarehouseEvent[];
  constructor(log: WarehouseEvent[]) {
    this.#log = log;
  }
  async get(orderId: string) {
    const state = this.saved.get(orderId);
    return state ? Reservation.restore(state) : undefined;
  }
  async save(reservation: Reservation) {
    this.saved.set(reservation.id, reservation.state);
    this.#log.push(...reservation.pullEvents());
  }
}

type Ports = WarehousePorts & {
  stocks: StocksInMemory;
  reservations: ReservationsInMemory;
  events: WarehouseEvent[];
} & ReturnType<typeof testContext>;

function newPorts(): Ports {
  const events: WarehouseEvent[] = [];
  return {
    ...testContext(),
    stocks: new StocksInMemory(events),
    reservations: new ReservationsInMemory(events),
    events,
  };
}

const AT = new Date("2026-03-01T09:00:00.000Z");
const LATER = new Date("2026-03-01T09:01:00.000Z");
const ORDER = "0196a000-0000-7000-8000-0000000000a1";
const PRODUCT = "espresso-machine";

/** What order records when it places an order: the saga's first step. */
const placed: OrderPlaced["data"] = {
  orderId: ORDER,
  customerId: "customer-7",
  planId: "0196a000-0000-7000-8000-0000000000b1",
  productId: PRODUCT,
  quantity: 2,
  address: "221B Baker Street",
  placedAt: AT,
  returnDueAt: new Date("2026-03-08T09:00:00.000Z"),
};
const units = { orderId: ORDER, productId: PRODUCT, quantity: 2 };

function id(n: number): string {
  return `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`;
}

function stockChanged(
  n: number,
  data: { onHand: number; reserved: number; reason: string; orderId?: string },
  at = AT,
) {
  return {
    id: id(n),
    type: "trial.warehouse.v1.StockChanged",
    aggregateId: PRODUCT,
    occurredAt: at,
    data: { productId: PRODUCT, ...data, available: data.onHand - data.reserved, changedAt: at },
  };
}

describe("Stock", () => {
  let ports: Ports;
  beforeEach(() => {
    ports = newPorts();
  });

  it("is created by its first restock, grows with each one, and records StockChanged(RESTOCKED)", async () => {
    const first = await restock(ports, { productId: ` ${PRODUCT} `, quantity: 10 });
    expect(first).toEqual({ productId: PRODUCT, onHand: 10, reserved: 0, available: 10, updatedAt: AT });
    ports.clock.advance(60_000);
    const second = await restock(ports, { productId: PRODUCT, quantity: 5 });
    expect(second).toEqual({ productId: PRODUCT, onHand: 15, reserved: 0, available: 15, updatedAt: LATER });
    expect(ports.events).toEqual([
      stockChanged(1, { onHand: 10, reserved: 0, reason: "RESTOCKED" }),
      stockChanged(2, { onHand: 15, reserved: 0, reason: "RESTOCKED" }, LATER),
    ]);
    expect(ports.events[0]?.data).not.toHaveProperty("orderId");
    expect(await getStock(ports, { productId: PRODUCT })).toEqual(second);
  });

  it.each([
    [{ productId: "", quantity: 1 }, "productId", "is required"],
    [{ productId: "   ", quantity: 1 }, "productId", "is required"],
    [{ productId: "p".repeat(65), quantity: 1 }, "productId", "must be at most 64 characters"],
    [{ productId: "p", quantity: 0 }, "quantity", "must be a whole number from 1 to 100000"],
    [{ productId: "p", quantity: -3 }, "quantity", "must be a whole number from 1 to 100000"],
    [{ productId: "p", quantity: 100_001 }, "quantity", "must be a whole number from 1 to 100000"],
    [{ productId: "p", quantity: 1.5 }, "quantity", "must be a whole number from 1 to 100000"],
  ])(
    "refuses the restock %j naming the field %s, and writes nothing",
    async (command, field, description) => {
      const error = await refusal(restock(ports, command));
      expect(error).toBeInstanceOf(InvalidArgument);
      expect(error).toMatchObject({ field, description });
      expect(ports.stocks.saved.size).toBe(0);
      expect(ports.events).toEqual([]);
    },
  );

  it("accepts a restock of exactly 1 and of exactly 100000 units", async () => {
    await restock(ports, { productId: "a", quantity: 1 });
    expect((await restock(ports, { productId: "a", quantity: 100_000 })).onHand).toBe(100_001);
  });

  it("refuses a restock past what a count can hold (rule stock-within-limit)", async () => {
    ports.stocks.saved.set(PRODUCT, {
      productId: PRODUCT,
      onHand: MAX_UNITS - 1,
      reserved: 0,
      updatedAt: AT,
    });
    const error = await refusal(restock(ports, { productId: PRODUCT, quantity: 2 }));
    expect(error).toBeInstanceOf(FailedPrecondition);
    expect(error).toMatchObject({ rule: "stock-within-limit" });
    expect(ports.stocks.saved.get(PRODUCT)?.onHand).toBe(MAX_UNITS - 1);
  });

  it("reads a product never stocked as all zeros, and refuses a bad product id naming it", async () => {
    expect(await getStock(ports, { productId: "never-stocked" })).toEqual({
      productId: "never-stocked",
      onHand: 0,
      reserved: 0,
      available: 0,
    });
    expect(ports.stocks.saved.size).toBe(0);
    await expect(getStock(ports, { productId: "" })).rejects.toMatchObject({ field: "productId" });
    await expect(getStock(ports, { productId: "x".repeat(65) })).rejects.toBeInstanceOf(InvalidArgument);
  });

  it("lists stocked products by product id, a page at a time", async () => {
    for (const productId of ["c", "a", "b"]) await restock(ports, { productId, quantity: 1 });
    const first = await listStock(ports, { after: undefined, limit: 2 });
    expect(first.map((stock) => stock.productId)).toEqual(["a", "b"]);
    const second = await listStock(ports, { after: "b", limit: 2 });
    expect(second.map((stock) => stock.productId)).toEqual(["c"]);
  });

  it("guards its counts: never more reserved than available, never a negative count", () => {
    const context = testContext();
    const stock = Stock.restore({ productId: PRODUCT, onHand: 3, reserved: 1 });
    expect(() => stock.reserve(ORDER, 3, context)).toThrow(
      expect.objectContaining({ kind: "FailedPrecondition", rule: "stock-must-be-available" }),
    );
    expect(() => stock.release(ORDER, 2, context)).toThrow(
      expect.objectContaining({ rule: "stock-never-negative" }),
    );
    expect(() => stock.deliver(ORDER, 2, context)).toThrow(
      expect.objectContaining({ rule: "stock-never-negative" }),
    );
    expect(() => stock.reserve(ORDER, 0, context)).toThrow(expect.objectContaining({ field: "quantity" }));
    expect(() => stock.takeBack(ORDER, -1, context)).toThrow(expect.objectContaining({ field: "quantity" }));
    expect(stock.state).toEqual({ productId: PRODUCT, onHand: 3, reserved: 1, available: 2 });
    expect(stock.pullEvents()).toEqual([]);
    stock.reserve(ORDER, 2, context);
    expect(stock.state).toMatchObject({ onHand: 3, reserved: 3, available: 0 });
  });
});

describe("the order saga's stock step", () => {
  let ports: Ports;
  beforeEach(async () => {
    ports = newPorts();
    await restock(ports, { productId: PRODUCT, quantity: 3 });
    ports.events.length = 0;
    ports.clock.advance(60_000);
  });

  it("given OrderPlaced with enough available, reserves the units and records StockChanged then StockReserved", async () => {
    const reservation = await whenOrderPlaced(ports, placed);
    expect(reservation).toEqual({ ...units, status: "RESERVED", updatedAt: LATER });
    expect(ports.events).toEqual([
      stockChanged(2, { onHand: 3, reserved: 2, reason: "RESERVED", orderId: ORDER }, LATER),
      {
        id: id(3),
        type: "trial.warehouse.v1.StockReserved",
        aggregateId: ORDER,
        occurredAt: LATER,
        data: {
          orderId: ORDER,
          customerId: "customer-7",
          productId: PRODUCT,
          quantity: 2,
          address: "221B Baker Street",
          reservedAt: LATER,
        },
      },
    ]);
    expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({
      onHand: 3,
      reserved: 2,
      available: 1,
    });
  });

  it("given OrderPlaced for more than is available, reserves nothing and records StockShortage (order's compensation)", async () => {
    const reservation = await whenOrderPlaced(ports, { ...placed, quantity: 4 });
    expect(reservation).toEqual({ ...units, quantity: 4, status: "SHORT", updatedAt: LATER });
    expect(ports.events).toEqual([
      {
        id: id(2),
        type: "trial.warehouse.v1.StockShortage",
        aggregateId: ORDER,
        occurredAt: LATER,
        data: { orderId: ORDER, productId: PRODUCT, requested: 4, available: 3, checkedAt: LATER },
      },
    ]);
    expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({
      onHand: 3,
      reserved: 0,
      available: 3,
    });
  });

  it("takes exactly the available units: the last one reserves, the next order is short", async () => {
    await whenOrderPlaced(ports, { ...placed, orderId: "order-1", quantity: 3 });
    const next = await whenOrderPlaced(ports, { ...placed, orderId: "order-2", quantity: 1 });
    expect(next.status).toBe("SHORT");
    expect(ports.events.at(-1)).toMatchObject({
      type: "trial.warehouse.v1.StockShortage",
      data: { orderId: "order-2", requested: 1, available: 0 },
    });
    expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({ reserved: 3, available: 0 });
  });

  it("reports a shortage of 0 available for a product never stocked, and writes no stock for it", async () => {
    const reservation = await whenOrderPlaced(ports, { ...placed, productId: "unknown-product" });
    expect(reservation.status).toBe("SHORT");
    expect(ports.events).toEqual([
      expect.objectContaining({
        type: "trial.warehouse.v1.StockShortage",
        data: expect.objectContaining({ productId: "unknown-product", requested: 2, available: 0 }),
      }),
    ]);
    expect(ports.stocks.saved.has("unknown-product")).toBe(false);
  });

  it("has no second effect when OrderPlaced comes again, reserved or short", async () => {
    const first = await whenOrderPlaced(ports, placed);
    const short = await whenOrderPlaced(ports, { ...placed, orderId: "order-short", quantity: 9 });
    const count = ports.events.length;
    ports.clock.advance(60_000);
    expect(await whenOrderPlaced(ports, placed)).toEqual(first);
    expect(await whenOrderPlaced(ports, { ...placed, orderId: "order-short", quantity: 1 })).toEqual(short);
    expect(ports.events).toHaveLength(count);
    expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({ reserved: 2 });
  });

  it("refuses an OrderPlaced whose quantity is not a whole number of at least 1, changing nothing", async () => {
    await expect(whenOrderPlaced(ports, { ...placed, quantity: 0 })).rejects.toMatchObject({
      field: "quantity",
    });
    expect(ports.reservations.saved.size).toBe(0);
    expect(ports.events).toEqual([]);
  });
});

describe("a reservation through delivery", () => {
  let ports: Ports;
  beforeEach(async () => {
    ports = newPorts();
    await restock(ports, { productId: PRODUCT, quantity: 10 });
  });

  async function reserved(): Promise<void> {
    await whenOrderPlaced(ports, placed);
    ports.events.length = 0;
    ports.clock.advance(60_000);
  }

  it("releases the units when the delivery is cancelled, once", async () => {
    await reserved();
    const released = await whenDeliveryCancelled(ports, units);
    expect(released).toEqual({ ...units, status: "RELEASED", updatedAt: LATER });
    expect(ports.events).toEqual([
      stockChanged(4, { onHand: 10, reserved: 0, reason: "RELEASED", orderId: ORDER }, LATER),
    ]);
    expect(await whenDeliveryCancelled(ports, units)).toEqual(released);
    expect(ports.events).toHaveLength(1);
    expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({ onHand: 10, available: 10 });
  });

  it("leaves a CANCELLED tombstone when the cancelled delivery comes first, so the late order reserves nothing", async () => {
    const tombstone = await whenDeliveryCancelled(ports, units);
    expect(tombstone).toEqual({ ...units, status: "CANCELLED", updatedAt: AT });
    expect(await whenOrderPlaced(ports, placed)).toEqual(tombstone);
    expect(ports.events.filter((event) => event.type !== "trial.warehouse.v1.StockChanged")).toEqual([]);
    expect(ports.events).toHaveLength(1); // the restock
    expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({ reserved: 0, available: 10 });
  });

  it("leaves a tombstone even when the cancelled delivery names no units", async () => {
    const tombstone = await whenDeliveryCancelled(ports, { orderId: ORDER, productId: "", quantity: 0 });
    expect(tombstone.status).toBe("CANCELLED");
    expect(await whenOrderPlaced(ports, placed)).toEqual(tombstone);
    expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({ reserved: 0 });
  });

  it("changes nothing when the delivery of a short order is cancelled", async () => {
    await whenOrderPlaced(ports, { ...placed, quantity: 11 });
    const count = ports.events.length;
    expect((await whenDeliveryCancelled(ports, units)).status).toBe("SHORT");
    expect(ports.events).toHaveLength(count);
  });

  it("ships on the completed delivery: the units leave on hand and reserved, once", async () => {
    await reserved();
    const shipped = await whenDeliveryCompleted(ports, { orderId: ORDER });
    expect(shipped).toEqual({ ...units, status: "SHIPPED", updatedAt: LATER });
    expect(ports.events).toEqual([
      stockChanged(4, { onHand: 8, reserved: 0, reason: "DELIVERED", orderId: ORDER }, LATER),
    ]);
    expect(await whenDeliveryCompleted(ports, { orderId: ORDER })).toEqual(shipped);
    expect(ports.events).toHaveLength(1);
  });

  it("puts the units back on the completed pickup, once", async () => {
    await reserved();
    await whenDeliveryCompleted(ports, { orderId: ORDER });
    ports.clock.advance(60_000);
    const returned = await whenPickupCompleted(ports, { orderId: ORDER });
    const at = new Date("2026-03-01T09:02:00.000Z");
    expect(returned).toEqual({ ...units, status: "RETURNED", updatedAt: at });
    expect(ports.events.slice(1)).toEqual([
      stockChanged(5, { onHand: 10, reserved: 0, reason: "RETURNED", orderId: ORDER }, at),
    ]);
    expect(await whenPickupCompleted(ports, { orderId: ORDER })).toEqual(returned);
    expect(ports.events).toHaveLength(2);
    expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({ onHand: 10, reserved: 0 });
  });

  it("applies the delivery first when the pickup is seen before it, and ignores the late delivery", async () => {
    await reserved();
    const returned = await whenPickupCompleted(ports, { orderId: ORDER });
    expect(returned.status).toBe("RETURNED");
    expect(ports.events).toEqual([
      stockChanged(4, { onHand: 8, reserved: 0, reason: "DELIVERED", orderId: ORDER }, LATER),
      stockChanged(5, { onHand: 10, reserved: 0, reason: "RETURNED", orderId: ORDER }, LATER),
    ]);
    expect(await whenDeliveryCompleted(ports, { orderId: ORDER })).toEqual(returned);
    expect(ports.events).toHaveLength(2);
  });

  it("does not ship or take back a reservation that was released, short or never made", async () => {
    await whenDeliveryCancelled(ports, units); // tombstone
    await whenOrderPlaced(ports, { ...placed, orderId: "order-short", quantity: 11 });
    await whenOrderPlaced(ports, { ...placed, orderId: "order-released" });
    await whenDeliveryCancelled(ports, { ...units, orderId: "order-released" });
    const count = ports.events.length;
    for (const orderId of [ORDER, "order-short", "order-released"]) {
      const before = ports.reservations.saved.get(orderId);
      expect(await whenDeliveryCompleted(ports, { orderId })).toEqual(before);
      expect(await whenPickupCompleted(ports, { orderId })).toEqual(before);
    }
    expect(ports.events).toHaveLength(count);
    expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({ onHand: 10, reserved: 0 });
  });

  it("answers NotFound for a delivery or pickup of an order it never reserved, so the event is retried", async () => {
    const delivered = await refusal(whenDeliveryCompleted(ports, { orderId: ORDER }));
    expect(delivered).toBeInstanceOf(NotFound);
    expect(delivered).toMatchObject({ resourceType: "Reservation", resourceId: ORDER });
    await expect(whenPickupCompleted(ports, { orderId: ORDER })).rejects.toBeInstanceOf(NotFound);
    expect(ports.reservations.saved.size).toBe(0);
  });
});

describe("events in any order, each redelivered", () => {
  type Step = "placed" | "cancelled" | "delivered" | "pickedUp";
  const apply: Record<Step, (ports: Ports) => Promise<unknown>> = {
    placed: (ports) => whenOrderPlaced(ports, placed),
    cancelled: (ports) => whenDeliveryCancelled(ports, units),
    delivered: (ports) => whenDeliveryCompleted(ports, { orderId: ORDER }),
    pickedUp: (ports) => whenPickupCompleted(ports, { orderId: ORDER }),
  };

  function permutations<T>(items: readonly T[]): T[][] {
    if (items.length <= 1) return [[...items]];
    return items.flatMap((item, i) =>
      permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
    );
  }

  /** Delivers each event twice; one that fails goes to the back of the queue, as a redelivery would. */
  async function deliver(ports: Ports, steps: readonly Step[]): Promise<void> {
    const queue = steps.flatMap((step) => [step, step]);
    for (let attempts = 0; queue.length > 0; attempts++) {
      if (attempts > 100) throw new Error("events never settled");
      const step = queue.shift() as Step;
      await apply[step](ports).catch(() => queue.push(step));
    }
  }

  it.each(permutations<Step>(["placed", "delivered", "pickedUp"]))(
    "%s, %s, %s: ships and takes back exactly once",
    async (...steps) => {
      const ports = newPorts();
      await restock(ports, { productId: PRODUCT, quantity: 10 });
      await deliver(ports, steps);
      expect(ports.reservations.saved.get(ORDER)?.status).toBe("RETURNED");
      expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({ onHand: 10, reserved: 0 });
      const reasons = ports.events.map((event) => (event.data as { reason?: string }).reason ?? event.type);
      expect(reasons).toEqual([
        "RESTOCKED",
        "RESERVED",
        "trial.warehouse.v1.StockReserved",
        "DELIVERED",
        "RETURNED",
      ]);
    },
  );

  it.each(permutations<Step>(["placed", "cancelled"]))("%s, %s: nothing stays reserved", async (...steps) => {
    const ports = newPorts();
    await restock(ports, { productId: PRODUCT, quantity: 10 });
    await deliver(ports, steps);
    expect(await getStock(ports, { productId: PRODUCT })).toMatchObject({ onHand: 10, reserved: 0 });
    const reservedEvents = ports.events.filter((event) => event.type === "trial.warehouse.v1.StockReserved");
    expect(reservedEvents).toHaveLength(steps[0] === "placed" ? 1 : 0);
    expect(ports.reservations.saved.get(ORDER)?.status).toBe(
      steps[0] === "placed" ? "RELEASED" : "CANCELLED",
    );
  });
});
