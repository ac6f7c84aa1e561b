import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { deliveryModule } from "@hexa/adapters/trial/delivery/module";
import { marketingModule } from "@hexa/adapters/trial/marketing/module";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { warehouseModule } from "@hexa/adapters/trial/warehouse/module";
import {
  DeliveryCompletedSchema,
  DeliveryStartedSchema,
  PickupCompletedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import { PlanEndedSchema, PlanStartedSchema } from "@hexa/proto/trial/marketing/v1/events_pb";
import { OrderRejectedSchema } from "@hexa/proto/trial/order/v1/events_pb";
import { OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
import { StockShortageSchema } from "@hexa/proto/trial/warehouse/v1/events_pb";
import { eventually } from "@hexa/testing";
import type { PactV4 } from "@pact-foundation/pact";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerPact, EXAMPLE_TIME, exampleId, receivesEvent, setUpEvent } from "../../src/consumer.ts";
import { type RunningContext, startContext } from "../../src/context.ts";
import { anyInteger, anyText, anyUuid } from "../../src/messages.ts";

/**
 * Order consumes marketing's plan events (its replica of the offered plans), warehouse's
 * shortage (the saga's compensation) and delivery's progress. Each example message goes to the
 * consumer that order's policies subscribed (inbox included, on a real database); the effect is
 * read back through OrderService.
 */
const DAY_MS = 86_400_000;

describe(`${orderModule.name} consumes events`, () => {
  let order: RunningContext;
  let orders: Client<typeof OrderService>;
  let fromMarketing: PactV4;
  let fromWarehouse: PactV4;
  let fromDelivery: PactV4;

  beforeAll(async () => {
    order = await startContext([orderModule]);
    orders = order.client(OrderService);
    fromMarketing = consumerPact(orderModule.name, marketingModule.name);
    fromWarehouse = consumerPact(orderModule.name, warehouseModule.name);
    fromDelivery = consumerPact(orderModule.name, deliveryModule.name);
  });

  afterAll(async () => {
    await order?.stop();
  });

  /** Order learns of an active plan (its own set-up, not under contract here). */
  async function offered(planId: string): Promise<void> {
    await order.consumer(PlanStartedSchema.typeName).handle(
      setUpEvent(PlanStartedSchema, planId, {
        planId,
        productId: "espresso-machine",
        name: "Espresso week",
        trialDays: 7,
      }),
    );
  }

  /** A placed order whose id is `orderId`, as a pact's example names it. */
  async function placed(planId: string, orderId: string): Promise<void> {
    await offered(planId);
    order.ids.nextAre(orderId);
    const { order: placed } = await orders.placeOrder({
      customerId: "customer-7",
      planId,
      quantity: 2,
      address: "221B Baker Street",
    });
    expect(placed?.orderId).toBe(orderId);
  }

  async function statusOf(orderId: string): Promise<OrderStatus | undefined> {
    return (await orders.getOrder({ orderId })).order?.status;
  }

  describe(`from ${marketingModule.name}`, () => {
    it("PlanStarted: takes orders for the plan's product, for its trial days", async () => {
      const plan = exampleId(0x101);
      await receivesEvent(
        fromMarketing,
        {
          schema: PlanStartedSchema,
          eventId: exampleId(0x1),
          aggregateId: plan,
          occurredAt: EXAMPLE_TIME,
          body: {
            planId: anyUuid(plan),
            productId: anyText("espresso-machine"),
            trialDays: anyInteger(7),
          },
        },
        async (event) => {
          await order.consumer(PlanStartedSchema.typeName).handle(event);
          const { order: placed } = await orders.placeOrder({
            customerId: "customer-7",
            planId: plan,
            quantity: 1,
            address: "221B Baker Street",
          });
          expect(placed).toMatchObject({
            planId: plan,
            productId: "espresso-machine",
            status: OrderStatus.PLACED,
          });
          const { placedAt, returnDueAt } = placed ?? {};
          expect(placedAt && returnDueAt && timestampMs(returnDueAt) - timestampMs(placedAt)).toBe(
            7 * DAY_MS,
          );
        },
      );
    });

    it("PlanEnded: takes no more orders for the plan", async () => {
      const plan = exampleId(0x102);
      await offered(plan);
      await receivesEvent(
        fromMarketing,
        {
          schema: PlanEndedSchema,
          eventId: exampleId(0x2),
          aggregateId: plan,
          occurredAt: EXAMPLE_TIME,
          body: { planId: anyUuid(plan) },
        },
        async (event) => {
          await order.consumer(PlanEndedSchema.typeName).handle(event);
          const refused = await orders
            .placeOrder({ customerId: "customer-7", planId: plan, quantity: 1, address: "221B Baker Street" })
            .catch((error: unknown) => ConnectError.from(error));
          expect(refused).toBeInstanceOf(ConnectError);
          expect((refused as ConnectError).code).toBe(Code.FailedPrecondition);
        },
      );
    });
  });

  describe(`from ${warehouseModule.name}`, () => {
    it("StockShortage: rejects the order, saying how short the stock was", async () => {
      const orderId = exampleId(0x203);
      await placed(exampleId(0x103), orderId);
      await receivesEvent(
        fromWarehouse,
        {
          schema: StockShortageSchema,
          eventId: exampleId(0x3),
          aggregateId: orderId,
          occurredAt: EXAMPLE_TIME,
          body: { orderId: anyUuid(orderId), requested: anyInteger(2), available: anyInteger(1) },
        },
        async (event) => {
          await order.consumer(StockShortageSchema.typeName).handle(event);
          expect(await statusOf(orderId)).toBe(OrderStatus.REJECTED);
          const rejected = await eventually(async () => {
            const [published] = order.bus
              .published(OrderRejectedSchema.typeName)
              .filter((published) => published.aggregateId === orderId);
            expect(published).toBeDefined();
            return JSON.parse(published?.payload ?? "{}");
          });
          expect(rejected.reason).toBe("2 requested, 1 available");
        },
      );
    });
  });

  describe(`from ${deliveryModule.name}`, () => {
    it("DeliveryStarted: the order is on its way", async () => {
      const orderId = exampleId(0x204);
      await placed(exampleId(0x104), orderId);
      await receivesEvent(
        fromDelivery,
        {
          schema: DeliveryStartedSchema,
          eventId: exampleId(0x4),
          aggregateId: orderId,
          occurredAt: EXAMPLE_TIME,
          body: { orderId: anyUuid(orderId) },
        },
        async (event) => {
          await order.consumer(DeliveryStartedSchema.typeName).handle(event);
          expect(await statusOf(orderId)).toBe(OrderStatus.DELIVERING);
        },
      );
    });

    it("DeliveryCompleted: the order is delivered", async () => {
      const orderId = exampleId(0x205);
      await placed(exampleId(0x105), orderId);
      await receivesEvent(
        fromDelivery,
        {
          schema: DeliveryCompletedSchema,
          eventId: exampleId(0x5),
          aggregateId: orderId,
          occurredAt: EXAMPLE_TIME,
          body: { orderId: anyUuid(orderId) },
        },
        async (event) => {
          await order.consumer(DeliveryCompletedSchema.typeName).handle(event);
          expect(await statusOf(orderId)).toBe(OrderStatus.DELIVERED);
          // Redelivered, the event has no second effect: the inbox has it.
          await order.consumer(DeliveryCompletedSchema.typeName).handle(event);
          expect(await statusOf(orderId)).toBe(OrderStatus.DELIVERED);
        },
      );
    });

    it("PickupCompleted: the returned order is back", async () => {
      const orderId = exampleId(0x206);
      await placed(exampleId(0x106), orderId);
      await order
        .consumer(DeliveryCompletedSchema.typeName)
        .handle(setUpEvent(DeliveryCompletedSchema, orderId, { orderId }));
      await orders.requestReturn({ orderId });
      await receivesEvent(
        fromDelivery,
        {
          schema: PickupCompletedSchema,
          eventId: exampleId(0x6),
          aggregateId: orderId,
          occurredAt: EXAMPLE_TIME,
          body: { orderId: anyUuid(orderId) },
        },
        async (event) => {
          await order.consumer(PickupCompletedSchema.typeName).handle(event);
          expect(await statusOf(orderId)).toBe(OrderStatus.RETURNED);
        },
      );
    });
  });
});
