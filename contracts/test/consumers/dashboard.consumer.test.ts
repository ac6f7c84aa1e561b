import type { DescMessage } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { dashboardModule } from "@hexa/adapters/trial/dashboard/module";
import { deliveryModule } from "@hexa/adapters/trial/delivery/module";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { DashboardService, OrderState } from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import {
  DeliveryCancelledSchema,
  DeliveryCompletedSchema,
  DeliveryStartedSchema,
  PickupCompletedSchema,
  PickupRequestedSchema,
} from "@hexa/proto/trial/delivery/v1/events_pb";
import {
  OrderCancelledSchema,
  OrderPlacedSchema,
  OrderRejectedSchema,
  ReturnRequestedSchema,
} from "@hexa/proto/trial/order/v1/events_pb";
import type { PactV4 } from "@pact-foundation/pact";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerPact, EXAMPLE_TIME, exampleId, receivesEvent } from "../../src/consumer.ts";
import { type RunningContext, startContext } from "../../src/context.ts";
import { anyInteger, anyText, anyTimestamp, anyUuid } from "../../src/messages.ts";

/**
 * The dashboard builds each order's view from the events order and delivery publish. Each
 * example is the first event the dashboard sees about its order; the view it then shows through
 * DashboardService tells which fields it read.
 */
interface Case {
  readonly provider: string;
  readonly schema: DescMessage;
  /** The fields the dashboard reads, besides the order id. */
  readonly body: Readonly<Record<string, unknown>>;
  /** What the view shows after it. */
  readonly view: Readonly<Record<string, unknown>>;
}

const item = { productId: anyText("espresso-machine"), quantity: anyInteger(2) };
const itemView = { productId: "espresso-machine", quantity: 2 };
const at = (field: string) => ({ [field]: anyTimestamp(EXAMPLE_TIME) });

const cases: readonly Case[] = [
  {
    provider: orderModule.name,
    schema: OrderPlacedSchema,
    body: {
      customerId: anyText("customer-7"),
      planId: anyUuid(exampleId(0x5ff)),
      ...item,
      address: anyText("221B Baker Street"),
      ...at("placedAt"),
      returnDueAt: anyTimestamp("2025-06-09T09:30:00Z"),
    },
    view: {
      customerId: "customer-7",
      planId: exampleId(0x5ff),
      ...itemView,
      address: "221B Baker Street",
      state: OrderState.PLACED,
    },
  },
  {
    provider: orderModule.name,
    schema: OrderCancelledSchema,
    body: { planId: anyUuid(exampleId(0x5ff)), ...item, ...at("cancelledAt") },
    view: { planId: exampleId(0x5ff), ...itemView, state: OrderState.CANCELLED },
  },
  {
    provider: orderModule.name,
    schema: ReturnRequestedSchema,
    body: { ...item, address: anyText("221B Baker Street"), ...at("requestedAt") },
    view: { ...itemView, address: "221B Baker Street", state: OrderState.RETURN_REQUESTED },
  },
  {
    provider: orderModule.name,
    schema: OrderRejectedSchema,
    body: { ...item, ...at("rejectedAt") },
    view: { ...itemView, state: OrderState.REJECTED },
  },
  {
    provider: deliveryModule.name,
    schema: DeliveryStartedSchema,
    body: {
      customerId: anyText("customer-7"),
      ...item,
      address: anyText("221B Baker Street"),
      ...at("startedAt"),
    },
    view: {
      customerId: "customer-7",
      ...itemView,
      address: "221B Baker Street",
      state: OrderState.DELIVERING,
      delivery: "IN_PROGRESS",
    },
  },
  {
    provider: deliveryModule.name,
    schema: DeliveryCompletedSchema,
    body: { ...item, ...at("deliveredAt") },
    view: { ...itemView, state: OrderState.DELIVERED, delivery: "COMPLETED" },
  },
  {
    provider: deliveryModule.name,
    schema: DeliveryCancelledSchema,
    body: { ...item, ...at("cancelledAt") },
    view: { ...itemView, delivery: "CANCELLED" },
  },
  {
    provider: deliveryModule.name,
    schema: PickupRequestedSchema,
    body: { ...item, address: anyText("221B Baker Street"), ...at("requestedAt") },
    view: {
      ...itemView,
      address: "221B Baker Street",
      state: OrderState.RETURN_REQUESTED,
      pickup: "REQUESTED",
    },
  },
  {
    provider: deliveryModule.name,
    schema: PickupCompletedSchema,
    body: { ...item, ...at("pickedUpAt") },
    view: { ...itemView, state: OrderState.RETURNED, pickup: "COMPLETED" },
  },
];

describe(`${dashboardModule.name} consumes events`, () => {
  let dashboard: RunningContext;
  let views: Client<typeof DashboardService>;
  const pacts = new Map<string, PactV4>();

  beforeAll(async () => {
    dashboard = await startContext([dashboardModule]);
    views = dashboard.client(DashboardService);
    for (const provider of new Set(cases.map((c) => c.provider))) {
      pacts.set(provider, consumerPact(dashboardModule.name, provider));
    }
  });

  afterAll(async () => {
    await dashboard?.stop();
  });

  for (const [index, { provider, schema, body, view }] of cases.entries()) {
    it(`from ${provider}, ${schema.name}: shows the order as the event tells`, async () => {
      const orderId = exampleId(0x501 + index);
      const pact = pacts.get(provider);
      if (!pact) throw new Error(`no pact with ${provider}`);
      await receivesEvent(
        pact,
        {
          schema,
          eventId: exampleId(0x31 + index),
          aggregateId: orderId,
          occurredAt: EXAMPLE_TIME,
          body: { orderId: anyUuid(orderId), ...body },
        },
        async (event) => {
          await dashboard.consumer(schema.typeName).handle(event);
          const { order } = await views.getOrderStatus({ orderId });
          expect(order).toMatchObject({ orderId, ...view });
          expect(order?.history.map((seen) => seen.eventType)).toEqual([schema.typeName]);
          const happened = order?.history[0]?.occurredAt;
          expect(happened && timestampDate(happened).toISOString()).toBe(
            new Date(EXAMPLE_TIME).toISOString(),
          );
        },
      );
    });
  }
});
