import type { Client } from "@connectrpc/connect";
import { deliveryModule } from "@hexa/adapters/trial/delivery/module";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { warehouseModule } from "@hexa/adapters/trial/warehouse/module";
import {
  DeliveryCancelledSchema,
  DeliveryCompletedSchema,
  PickupCompletedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import { OrderPlacedSchema } from "@hexa/proto/trial/order/v1/events_pb";
import { StockReservedSchema } from "@hexa/proto/trial/warehouse/v1/events_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import { eventually } from "@hexa/testing";
import type { PactV4 } from "@pact-foundation/pact";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerPact, EXAMPLE_TIME, exampleId, receivesEvent, setUpEvent } from "../../src/consumer.ts";
import { type RunningContext, startContext } from "../../src/context.ts";
import { anyInteger, anyText, anyUuid } from "../../src/messages.ts";

/**
 * Warehouse consumes order's OrderPlaced (it reserves stock: the saga's step) and delivery's
 * outcomes (released, shipped, returned units). Effects are read through WarehouseService, and
 * through the events warehouse's outbox publishes.
 */
describe(`${warehouseModule.name} consumes events`, () => {
  let warehouse: RunningContext;
  let stocks: Client<typeof WarehouseService>;
  let fromOrder: PactV4;
  let fromDelivery: PactV4;

  beforeAll(async () => {
    warehouse = await startContext([warehouseModule]);
    stocks = warehouse.client(WarehouseService);
    fromOrder = consumerPact(warehouseModule.name, orderModule.name);
    fromDelivery = consumerPact(warehouseModule.name, deliveryModule.name);
  });

  afterAll(async () => {
    await warehouse?.stop();
  });

  async function stockOf(productId: string) {
    return (await stocks.getStock({ productId })).stock;
  }

  /** Five units of `productId` on hand, two of them reserved for `orderId` (set-up, not under contract). */
  async function reserved(productId: string, orderId: string): Promise<void> {
    await stocks.restock({ productId, quantity: 5 });
    await warehouse.consumer(OrderPlacedSchema.typeName).handle(
      setUpEvent(OrderPlacedSchema, orderId, {
        orderId,
        customerId: "customer-7",
        planId: exampleId(0x999),
        productId,
        quantity: 2,
        address: "221B Baker Street",
      }),
    );
    expect(await stockOf(productId)).toMatchObject({ onHand: 5, reserved: 2 });
  }

  describe(`from ${orderModule.name}`, () => {
    it("OrderPlaced: holds the order's units and tells delivery where they go", async () => {
      const orderId = exampleId(0x301);
      await stocks.restock({ productId: "espresso-machine", quantity: 5 });
      await receivesEvent(
        fromOrder,
        {
          schema: OrderPlacedSchema,
          eventId: exampleId(0x11),
          aggregateId: orderId,
          occurredAt: EXAMPLE_TIME,
          body: {
            orderId: anyUuid(orderId),
            customerId: anyText("customer-7"),
            productId: anyText("espresso-machine"),
            quantity: anyInteger(2),
            address: anyText("221B Baker Street"),
          },
        },
        async (event) => {
          await warehouse.consumer(OrderPlacedSchema.typeName).handle(event);
          expect(await stockOf("espresso-machine")).toMatchObject({ onHand: 5, reserved: 2, available: 3 });
          const reservedFor = await eventually(async () => {
            const [published] = warehouse.bus.published(StockReservedSchema.typeName);
            expect(published).toBeDefined();
            return JSON.parse(published?.payload ?? "{}");
          });
          expect(reservedFor).toMatchObject({
            orderId,
            customerId: "customer-7",
            productId: "espresso-machine",
            quantity: 2,
            address: "221B Baker Street",
          });
        },
      );
    });
  });

  describe(`from ${deliveryModule.name}`, () => {
    it("DeliveryCancelled: releases the order's units", async () => {
      const orderId = exampleId(0x302);
      await reserved("grinder", orderId);
      await receivesEvent(
        fromDelivery,
        {
          schema: DeliveryCancelledSchema,
          eventId: exampleId(0x12),
          aggregateId: orderId,
          occurredAt: EXAMPLE_TIME,
          // Product and quantity matter when the cancellation arrives before the order: the
          // tombstone it leaves must name what never to reserve.
          body: { orderId: anyUuid(orderId), productId: anyText("grinder"), quantity: anyInteger(2) },
        },
        async (event) => {
          await warehouse.consumer(DeliveryCancelledSchema.typeName).handle(event);
          expect(await stockOf("grinder")).toMatchObject({ onHand: 5, reserved: 0, available: 5 });
        },
      );
    });

    it("DeliveryCompleted: the order's units leave the warehouse", async () => {
      const orderId = exampleId(0x303);
      await reserved("kettle", orderId);
      await receivesEvent(
        fromDelivery,
        {
          schema: DeliveryCompletedSchema,
          eventId: exampleId(0x13),
          aggregateId: orderId,
          occurredAt: EXAMPLE_TIME,
          body: { orderId: anyUuid(orderId) },
        },
        async (event) => {
          await warehouse.consumer(DeliveryCompletedSchema.typeName).handle(event);
          expect(await stockOf("kettle")).toMatchObject({ onHand: 3, reserved: 0, available: 3 });
        },
      );
    });

    it("PickupCompleted: the order's units are back on hand", async () => {
      const orderId = exampleId(0x304);
      await reserved("toaster", orderId);
      await warehouse
        .consumer(DeliveryCompletedSchema.typeName)
        .handle(setUpEvent(DeliveryCompletedSchema, orderId, { orderId, productId: "toaster", quantity: 2 }));
      await receivesEvent(
        fromDelivery,
        {
          schema: PickupCompletedSchema,
          eventId: exampleId(0x14),
          aggregateId: orderId,
          occurredAt: EXAMPLE_TIME,
          body: { orderId: anyUuid(orderId) },
        },
        async (event) => {
          await warehouse.consumer(PickupCompletedSchema.typeName).handle(event);
          expect(await stockOf("toaster")).toMatchObject({ onHand: 5, reserved: 0, available: 5 });
        },
      );
    });
  });
});
