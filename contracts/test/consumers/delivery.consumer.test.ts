import type { Client } from "@connectrpc/connect";
import { deliveryModule } from "@hexa/adapters/trial/delivery/module";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { warehouseModule } from "@hexa/adapters/trial/warehouse/module";
import { DeliveryService, DeliveryStatus, PickupStatus } from "@hexa/proto/trial/delivery/v1/delivery_pb";
import {
  DeliveryCancelledSchema,
  DeliveryStartedSchema,
  PickupRequestedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import { OrderCancelledSchema, ReturnRequestedSchema } from "@hexa/proto/trial/order/v1/events_pb";
import { StockReservedSchema } from "@hexa/proto/trial/warehouse/v1/events_pb";
import { eventually } from "@hexa/testing";
import type { PactV4 } from "@pact-foundation/pact";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerPact, EXAMPLE_TIME, exampleId, receivesEvent, setUpEvent } from "../../src/consumer.ts";
import { type RunningContext, startContext } from "../../src/context.ts";
import { anyInteger, anyText, anyUuid } from "../../src/messages.ts";

/**
 * Delivery consumes warehouse's StockReserved (the delivery starts), order's OrderCancelled (it
 * stops, or never starts) and order's ReturnRequested (a pickup). Effects are read through
 * DeliveryService, and through the events delivery's outbox publishes.
 */
describe(`${deliveryModule.name} consumes events`, () => {
  let delivery: RunningContext;
  let shipments: Client<typeof DeliveryService>;
  let fromWarehouse: PactV4;
  let fromOrder: PactV4;

  beforeAll(async () => {
    delivery = await startContext([deliveryModule]);
    shipments = delivery.client(DeliveryService);
    fromWarehouse = consumerPact(deliveryModule.name, warehouseModule.name);
    fromOrder = consumerPact(deliveryModule.name, orderModule.name);
  });

  afterAll(async () => {
    await delivery?.stop();
  });

  async function shipmentOf(orderId: string) {
    return (await shipments.getShipment({ orderId })).shipment;
  }

  async function publishedFor(eventType: string, orderId: string): Promise<Record<string, unknown>> {
    return eventually(async () => {
      const [published] = delivery.bus.published(eventType).filter((event) => event.aggregateId === orderId);
      expect(published).toBeDefined();
      return JSON.parse(published?.payload ?? "{}");
    });
  }

  it(`from ${warehouseModule.name}, StockReserved: starts the delivery to the customer's address`, async () => {
    const orderId = exampleId(0x401);
    await receivesEvent(
      fromWarehouse,
      {
        schema: StockReservedSchema,
        eventId: exampleId(0x21),
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
        await delivery.consumer(StockReservedSchema.typeName).handle(event);
        expect(await shipmentOf(orderId)).toMatchObject({
          orderId,
          customerId: "customer-7",
          productId: "espresso-machine",
          quantity: 2,
          address: "221B Baker Street",
          deliveryStatus: DeliveryStatus.IN_PROGRESS,
        });
        expect(await publishedFor(DeliveryStartedSchema.typeName, orderId)).toMatchObject({ orderId });
      },
    );
  });

  it(`from ${orderModule.name}, OrderCancelled: a delivery not started never starts, and its units are released`, async () => {
    const orderId = exampleId(0x402);
    await receivesEvent(
      fromOrder,
      {
        schema: OrderCancelledSchema,
        eventId: exampleId(0x22),
        aggregateId: orderId,
        occurredAt: EXAMPLE_TIME,
        body: { orderId: anyUuid(orderId), productId: anyText("grinder"), quantity: anyInteger(2) },
      },
      async (event) => {
        await delivery.consumer(OrderCancelledSchema.typeName).handle(event);
        expect(await shipmentOf(orderId)).toMatchObject({ deliveryStatus: DeliveryStatus.CANCELLED });
        // Warehouse releases on DeliveryCancelled, which names the units from the cancellation.
        expect(await publishedFor(DeliveryCancelledSchema.typeName, orderId)).toMatchObject({
          orderId,
          productId: "grinder",
          quantity: 2,
        });
        // The reservation arriving late starts nothing.
        await delivery.consumer(StockReservedSchema.typeName).handle(
          setUpEvent(StockReservedSchema, orderId, {
            orderId,
            customerId: "customer-7",
            productId: "grinder",
            quantity: 2,
            address: "221B Baker Street",
          }),
        );
        expect(await shipmentOf(orderId)).toMatchObject({ deliveryStatus: DeliveryStatus.CANCELLED });
      },
    );
  });

  it(`from ${orderModule.name}, ReturnRequested: sends a courier to pick the product up`, async () => {
    const orderId = exampleId(0x403);
    await delivery.consumer(StockReservedSchema.typeName).handle(
      setUpEvent(StockReservedSchema, orderId, {
        orderId,
        customerId: "customer-7",
        productId: "kettle",
        quantity: 1,
        address: "221B Baker Street",
      }),
    );
    await shipments.completeDelivery({ orderId });
    await receivesEvent(
      fromOrder,
      {
        schema: ReturnRequestedSchema,
        eventId: exampleId(0x23),
        aggregateId: orderId,
        occurredAt: EXAMPLE_TIME,
        body: { orderId: anyUuid(orderId) },
      },
      async (event) => {
        await delivery.consumer(ReturnRequestedSchema.typeName).handle(event);
        expect(await shipmentOf(orderId)).toMatchObject({ pickupStatus: PickupStatus.REQUESTED });
        expect(await publishedFor(PickupRequestedSchema.typeName, orderId)).toMatchObject({
          orderId,
          address: "221B Baker Street",
        });
      },
    );
  });
});
