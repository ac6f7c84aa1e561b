import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { ORDER_SAGA } from "@hexa/core/trial/saga";
import { DeliveryService, DeliveryStatus, PickupStatus } from "@hexa/proto/trial/delivery/v1/delivery_pb";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import { connectJsonClient, eventually, freePort, query, type RunningApp, startApp } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Cases of the order saga's steps (packages/core/src/trial/saga) in given / when / expect form: given
 * a product's stock, when callers take the saga's RPC steps (each waiting for the event that ends
 * what it set off), expect the events published about the order, in the order the steps publish
 * them, the order's status, and the stock's books.
 */
type CallerStep =
  | "place the order"
  | "cancel the order"
  | "confirm the delivery"
  | "request the return"
  | "confirm the pickup";

interface SagaCase {
  readonly given: { readonly unitsInStock: number; readonly quantity: number };
  readonly when: ReadonlyArray<{ readonly step: CallerStep; readonly until: string }>;
  readonly expect: {
    readonly events: readonly string[];
    readonly status: keyof typeof OrderStatus;
    readonly stock: { readonly onHand: number; readonly reserved: number };
  };
}

const short = (type: string) => type.slice(type.lastIndexOf(".") + 1);

const CASES: Record<string, SagaCase> = {
  "delivered and returned: the units go out and come back": {
    given: { unitsInStock: 3, quantity: 2 },
    when: [
      { step: "place the order", until: "DeliveryStarted" },
      { step: "confirm the delivery", until: "DeliveryCompleted" },
      { step: "request the return", until: "PickupRequested" },
      { step: "confirm the pickup", until: "PickupCompleted" },
    ],
    expect: {
      events: [
        "OrderPlaced",
        "StockReserved",
        "DeliveryStarted",
        "DeliveryCompleted",
        "ReturnRequested",
        "PickupRequested",
        "PickupCompleted",
      ],
      status: "RETURNED",
      stock: { onHand: 3, reserved: 0 },
    },
  },
  "short of stock: the order is rejected, nothing reserved, no delivery": {
    given: { unitsInStock: 1, quantity: 2 },
    when: [{ step: "place the order", until: "OrderRejected" }],
    expect: {
      events: ["OrderPlaced", "StockShortage", "OrderRejected"],
      status: "REJECTED",
      stock: { onHand: 1, reserved: 0 },
    },
  },
  "cancelled on the way: the delivery stops and the stock is released": {
    given: { unitsInStock: 1, quantity: 1 },
    when: [
      { step: "place the order", until: "DeliveryStarted" },
      { step: "cancel the order", until: "DeliveryCancelled" },
    ],
    expect: {
      events: ["OrderPlaced", "StockReserved", "DeliveryStarted", "OrderCancelled", "DeliveryCancelled"],
      status: "CANCELLED",
      stock: { onHand: 1, reserved: 0 },
    },
  },
};

/**
 * The order saga on the real stack (the all-in-one: embedded PostgreSQL and bus), through the
 * public API: order -> stock -> delivery, and its compensations.
 */
describe("the order saga: order -> stock -> delivery", () => {
  let app: RunningApp;
  let dataDir: string;
  let databaseUrl: string;
  let clients: {
    marketing: ReturnType<typeof connectJsonClient<typeof MarketingService>>;
    orders: ReturnType<typeof connectJsonClient<typeof OrderService>>;
    warehouse: ReturnType<typeof connectJsonClient<typeof WarehouseService>>;
    delivery: ReturnType<typeof connectJsonClient<typeof DeliveryService>>;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "hexa-saga-"));
    chmodSync(dataDir, 0o755);
    const postgresPort = await freePort();
    databaseUrl = `postgres://postgres:postgres@127.0.0.1:${postgresPort}/postgres`;
    app = await startApp("all-in-one", {
      PORT: String(await freePort()),
      DATA_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(postgresPort),
    });
    clients = {
      marketing: connectJsonClient(MarketingService, app.url),
      orders: connectJsonClient(OrderService, app.url),
      warehouse: connectJsonClient(WarehouseService, app.url),
      delivery: connectJsonClient(DeliveryService, app.url),
    };
  });

  afterAll(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  let products = 0;
  /** A product with `units` in stock and an active plan for it. */
  async function offer(units: number): Promise<{ productId: string; planId: string }> {
    products += 1;
    const productId = `saga-product-${products}`;
    if (units > 0) await clients.warehouse.restock({ productId, quantity: units });
    const { plan } = await clients.marketing.startTrialPlan({ productId, name: "saga", trialDays: 7 });
    return { productId, planId: plan?.planId ?? "" };
  }

  async function order(planId: string, quantity = 1): Promise<string> {
    const placed = await eventually(() =>
      clients.orders.placeOrder({ customerId: "saga-customer", planId, quantity, address: "1 Saga Way" }),
    );
    return placed.order?.orderId ?? "";
  }

  async function statusOf(orderId: string, expected: OrderStatus): Promise<void> {
    await eventually(async () => {
      const { order: now } = await clients.orders.getOrder({ orderId });
      expect(OrderStatus[now?.status ?? 0]).toBe(OrderStatus[expected]);
    });
  }

  async function stockOf(productId: string) {
    return (await clients.warehouse.getStock({ productId })).stock;
  }

  it("reserves stock, delivers, takes the units out, and puts them back when picked up", async () => {
    const { productId, planId } = await offer(3);
    const orderId = await order(planId, 2);
    await statusOf(orderId, OrderStatus.DELIVERING);
    expect(await stockOf(productId)).toMatchObject({ onHand: 3, reserved: 2, available: 1 });

    await clients.delivery.completeDelivery({ orderId });
    await statusOf(orderId, OrderStatus.DELIVERED);
    await eventually(async () =>
      expect(await stockOf(productId)).toMatchObject({ onHand: 1, reserved: 0, available: 1 }),
    );

    await clients.orders.requestReturn({ orderId });
    await eventually(async () => {
      const { shipment } = await clients.delivery.getShipment({ orderId });
      expect(shipment?.pickupStatus).toBe(PickupStatus.REQUESTED);
    });
    await clients.delivery.completePickup({ orderId });
    await statusOf(orderId, OrderStatus.RETURNED);
    await eventually(async () =>
      expect(await stockOf(productId)).toMatchObject({ onHand: 3, reserved: 0, available: 3 }),
    );
  });

  it("rejects an order the warehouse cannot fill, reserves nothing, and never starts its delivery", async () => {
    const { productId, planId } = await offer(1);
    const orderId = await order(planId, 2);
    await statusOf(orderId, OrderStatus.REJECTED);
    expect(await stockOf(productId)).toMatchObject({ onHand: 1, reserved: 0, available: 1 });
    const shipment = await clients.delivery
      .getShipment({ orderId })
      .catch((error: unknown) => ConnectError.from(error));
    expect(shipment).toMatchObject({ code: Code.NotFound });
  });

  it("stops the delivery and releases the stock when the customer cancels on the way", async () => {
    const { productId, planId } = await offer(1);
    const orderId = await order(planId);
    await statusOf(orderId, OrderStatus.DELIVERING);
    await clients.orders.cancelOrder({ orderId });
    await statusOf(orderId, OrderStatus.CANCELLED);
    await eventually(async () => {
      const { shipment } = await clients.delivery.getShipment({ orderId });
      expect(shipment?.deliveryStatus).toBe(DeliveryStatus.CANCELLED);
    });
    await eventually(async () =>
      expect(await stockOf(productId)).toMatchObject({ onHand: 1, reserved: 0, available: 1 }),
    );
    const courier = await clients.delivery
      .completeDelivery({ orderId })
      .catch((error: unknown) => ConnectError.from(error));
    expect(courier).toMatchObject({ code: Code.FailedPrecondition });
    expect((await clients.orders.getOrder({ orderId })).order?.status).toBe(OrderStatus.CANCELLED);
  });

  it("turns a cancellation that loses the race to the courier into a return, never a cancelled delivered order", async () => {
    const { productId, planId } = await offer(1);
    const orderId = await order(planId);
    await statusOf(orderId, OrderStatus.DELIVERING);
    // The courier confirms and the customer cancels at the same moment.
    const [courier, customer] = await Promise.allSettled([
      clients.delivery.completeDelivery({ orderId }),
      clients.orders.cancelOrder({ orderId }),
    ]);
    expect(courier.status === "fulfilled" || customer.status === "fulfilled").toBe(true);
    const { shipment } = await eventually(async () => {
      const found = await clients.delivery.getShipment({ orderId });
      expect([DeliveryStatus.COMPLETED, DeliveryStatus.CANCELLED]).toContain(found.shipment?.deliveryStatus);
      return found;
    });
    if (shipment?.deliveryStatus === DeliveryStatus.COMPLETED) {
      // Delivered: the product comes back as a return; the order never ends CANCELLED.
      await eventually(async () => {
        const { order: now } = await clients.orders.getOrder({ orderId });
        expect([OrderStatus.DELIVERED, OrderStatus.RETURN_REQUESTED]).toContain(now?.status);
      });
      if (customer.status === "fulfilled") await statusOf(orderId, OrderStatus.RETURN_REQUESTED);
    } else {
      await statusOf(orderId, OrderStatus.CANCELLED);
      await eventually(async () =>
        expect(await stockOf(productId)).toMatchObject({ reserved: 0, available: 1 }),
      );
    }
  });

  /** The events published about one order, by every service, in the order they happened. */
  async function trail(orderId: string): Promise<string[]> {
    const rows = await query<{ event_type: string }>(
      databaseUrl,
      `select event_type from (
         select event_type, occurred_at, position from trial_order.outbox where aggregate_id = $1
         union all select event_type, occurred_at, position from trial_warehouse.outbox where aggregate_id = $1
         union all select event_type, occurred_at, position from trial_delivery.outbox where aggregate_id = $1
       ) events order by occurred_at, position`,
      [orderId],
    );
    return rows.map((row) => short(row.event_type));
  }

  async function unpublished(): Promise<number> {
    const [row] = await query<{ n: number }>(
      databaseUrl,
      `select (select count(*) from trial_order.outbox where published_at is null)
            + (select count(*) from trial_warehouse.outbox where published_at is null)
            + (select count(*) from trial_delivery.outbox where published_at is null) as n`,
    );
    return Number(row?.n);
  }

  for (const [name, saga] of Object.entries(CASES)) {
    it(`step by step (given / when / expect): ${name}`, async () => {
      // The case speaks of the step list's events only.
      const published = new Set(ORDER_SAGA.flatMap((step) => step.emits.map(short)));
      expect(saga.expect.events.filter((event) => !published.has(event))).toEqual([]);

      const { productId, planId } = await offer(saga.given.unitsInStock);
      let orderId = "";
      const calls: Record<CallerStep, () => Promise<unknown>> = {
        "place the order": async () => {
          orderId = await order(planId, saga.given.quantity);
        },
        "cancel the order": () => clients.orders.cancelOrder({ orderId }),
        "confirm the delivery": () => clients.delivery.completeDelivery({ orderId }),
        "request the return": () => clients.orders.requestReturn({ orderId }),
        "confirm the pickup": () => clients.delivery.completePickup({ orderId }),
      };
      for (const { step, until } of saga.when) {
        await calls[step]();
        await eventually(async () => expect(await trail(orderId)).toContain(until));
      }

      await eventually(async () => {
        expect(await trail(orderId)).toEqual(saga.expect.events);
        const { order } = await clients.orders.getOrder({ orderId });
        expect(OrderStatus[order?.status ?? 0]).toBe(saga.expect.status);
        const { stock } = await clients.warehouse.getStock({ productId });
        expect(stock).toMatchObject({
          ...saga.expect.stock,
          available: saga.expect.stock.onHand - saga.expect.stock.reserved,
        });
        expect(await unpublished()).toBe(0);
      });
    });
  }
});
