import type { Client } from "@connectrpc/connect";
import { encodeDeliveryEvent } from "@hexa/adapters/trial/delivery/events";
import { encodeMarketingEvent } from "@hexa/adapters/trial/marketing/events";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { DeliveryCompletedSchema, DeliveryStartedSchema } from "@hexa/proto/trial/delivery/v1/events_pb";
import { PlanStartedSchema } from "@hexa/proto/trial/marketing/v1/events_pb";
import { OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type RunningContext, startContext } from "../../src/context.ts";
import { messageProvidersOf } from "../../src/messages.ts";
import { verifiesPactsOf } from "../../src/provider.ts";
import { deliveryCompleted, deliveryStarted } from "../../src/published/delivery.ts";
import { planStarted } from "../../src/published/marketing.ts";
import { orderEvents } from "../../src/published/order.ts";

/**
 * Order serves CancelOrdersForPlan to marketing, and publishes order events. The service runs as
 * deployed (startServices, a real database, its Connect server); provider states are built the
 * way production builds them: the plan arrives as marketing's PlanStarted through order's policy,
 * orders are placed through PlaceOrder, and delivery's events move one to DELIVERED.
 */
describe(`${orderModule.name} as a provider`, () => {
  let order: RunningContext;
  let orders: Client<typeof OrderService>;

  beforeAll(async () => {
    order = await startContext([orderModule]);
    orders = order.client(OrderService);
  });

  afterAll(async () => {
    await order?.stop();
  });

  /** A plan marketing started, as order learns of it. */
  async function offeredPlan(): Promise<string> {
    const started = planStarted();
    await order.consumer(PlanStartedSchema.typeName).handle(encodeMarketingEvent(started));
    return started.data.planId;
  }

  async function place(planId: string): Promise<string> {
    const { order: placed } = await orders.placeOrder({
      customerId: "customer-7",
      planId,
      quantity: 1,
      address: "221B Baker Street",
    });
    return placed?.orderId ?? "";
  }

  async function delivered(orderId: string): Promise<void> {
    const shipped = { orderId, productId: "espresso-machine", quantity: 1 };
    await order
      .consumer(DeliveryStartedSchema.typeName)
      .handle(encodeDeliveryEvent(deliveryStarted(shipped)));
    await order
      .consumer(DeliveryCompletedSchema.typeName)
      .handle(encodeDeliveryEvent(deliveryCompleted(shipped)));
    expect((await orders.getOrder({ orderId })).order?.status).toBe(OrderStatus.DELIVERED);
  }

  verifiesPactsOf(orderModule.name, () => ({
    providerBaseUrl: order.url,
    stateHandlers: {
      "plan P has one placed and one delivered order": async () => {
        const planId = await offeredPlan();
        await place(planId);
        await delivered(await place(planId));
        return { planId };
      },
      "plan P has no orders": async () => ({ planId: await offeredPlan() }),
    },
    messageProviders: messageProvidersOf(orderEvents),
  }));
});
