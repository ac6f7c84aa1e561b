import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { FieldViolationSchema, ResourceInfoSchema } from "@hexa/proto/hexa/common/v1/errors_pb";
import { OrderState, type OrderStatusView } from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import { ReturnReason } from "@hexa/proto/trial/order/v1/events_pb";
import { query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DashboardHarness,
  type DashboardReplica,
  eventsOf,
  minute,
  ORDER,
  PLACED_AT,
  RETURN_DUE_AT,
  refusal,
  startDashboard,
} from "./support.ts";

let harness: DashboardHarness;
let dashboard: DashboardReplica;
beforeAll(async () => {
  harness = await startDashboard();
  dashboard = await harness.startReplica();
});
afterAll(async () => {
  await harness?.stop();
});

const at = (date: Date) => timestampFromDate(date);
type Events = ReturnType<typeof eventsOf>;

async function statusOf(orderId: string): Promise<OrderStatusView> {
  const { order } = await dashboard.client.getOrderStatus({ orderId });
  if (!order) throw new Error("no order in the answer");
  return order;
}

/** Feeds events one after the other through the bus, as they would arrive. */
async function feed(...events: Parameters<DashboardReplica["publish"]>[0][]): Promise<void> {
  for (const event of events) await dashboard.publish(event);
}

describe("the view of an order, built from order's and delivery's events", () => {
  it("shows a placed order with every detail OrderPlaced carries", async () => {
    const orderId = randomUUID();
    const planId = randomUUID();
    await feed(eventsOf(orderId, planId).orderPlaced());
    expect(await statusOf(orderId)).toMatchObject({
      orderId,
      planId,
      ...ORDER,
      state: OrderState.PLACED,
      delivery: "NONE",
      pickup: "NONE",
      placedAt: at(PLACED_AT),
      returnDueAt: at(RETURN_DUE_AT),
      updatedAt: at(PLACED_AT),
      history: [
        expect.objectContaining({ eventType: "trial.order.v1.OrderPlaced", occurredAt: at(PLACED_AT) }),
      ],
    });
  });

  it.each<[string, (events: Events) => ReturnType<Events["orderPlaced"]>[], Partial<OrderStatusView>]>([
    [
      "DeliveryStarted: DELIVERING",
      (e) => [e.orderPlaced(), e.deliveryStarted()],
      { state: OrderState.DELIVERING, delivery: "IN_PROGRESS", pickup: "NONE" },
    ],
    [
      "DeliveryCompleted: DELIVERED",
      (e) => [e.orderPlaced(), e.deliveryStarted(), e.deliveryCompleted()],
      { state: OrderState.DELIVERED, delivery: "COMPLETED" },
    ],
    [
      "OrderCancelled then DeliveryCancelled: CANCELLED",
      (e) => [e.orderPlaced(), e.deliveryStarted(), e.orderCancelled(), e.deliveryCancelled()],
      { state: OrderState.CANCELLED, delivery: "CANCELLED" },
    ],
    ["OrderRejected: REJECTED", (e) => [e.orderPlaced(), e.orderRejected()], { state: OrderState.REJECTED }],
    [
      "OrderCancelled after the courier delivered: DELIVERED until the return is requested",
      (e) => [e.orderPlaced(), e.deliveryStarted(), e.deliveryCompleted(), e.orderCancelled(minute(9))],
      { state: OrderState.DELIVERED, delivery: "COMPLETED" },
    ],
    [
      "its ReturnRequested (CANCELLED_AFTER_DELIVERY): RETURN_REQUESTED",
      (e) => [
        e.orderPlaced(),
        e.deliveryStarted(),
        e.deliveryCompleted(),
        e.orderCancelled(minute(9)),
        e.returnRequested(minute(10), ReturnReason.CANCELLED_AFTER_DELIVERY),
      ],
      { state: OrderState.RETURN_REQUESTED, delivery: "COMPLETED", pickup: "NONE" },
    ],
    [
      "PickupRequested: RETURN_REQUESTED, pickup REQUESTED",
      (e) => [e.orderPlaced(), e.deliveryStarted(), e.deliveryCompleted(), e.pickupRequested()],
      { state: OrderState.RETURN_REQUESTED, pickup: "REQUESTED" },
    ],
    [
      "PickupCompleted: RETURNED",
      (e) => [
        e.orderPlaced(),
        e.deliveryStarted(),
        e.deliveryCompleted(),
        e.returnRequested(),
        e.pickupRequested(),
        e.pickupCompleted(),
      ],
      { state: OrderState.RETURNED, delivery: "COMPLETED", pickup: "COMPLETED", updatedAt: at(minute(8)) },
    ],
  ])("%s", async (_rule, story, expected) => {
    const orderId = randomUUID();
    const events = story(eventsOf(orderId, randomUUID()));
    await feed(...events);
    const status = await statusOf(orderId);
    expect(status).toMatchObject(expected);
    expect(status.history.map((entry) => entry.eventType)).toEqual(events.map((event) => event.type));
  });

  it("fills the details from a DeliveryStarted that arrives before OrderPlaced", async () => {
    const orderId = randomUUID();
    const planId = randomUUID();
    const events = eventsOf(orderId, planId);
    await feed(events.deliveryStarted());
    const early = await statusOf(orderId);
    expect(early).toMatchObject({
      ...ORDER,
      planId: "",
      state: OrderState.DELIVERING,
      delivery: "IN_PROGRESS",
    });
    expect(early.placedAt).toBeUndefined();
    expect(early.returnDueAt).toBeUndefined();

    await feed(events.orderPlaced());
    expect(await statusOf(orderId)).toMatchObject({
      planId,
      state: OrderState.DELIVERING,
      placedAt: at(PLACED_AT),
      history: [
        expect.objectContaining({ eventType: "trial.order.v1.OrderPlaced" }),
        expect.objectContaining({ eventType: "trial.delivery.v1.DeliveryStarted" }),
      ],
    });
  });

  it("gives the same view whatever order the events arrive in", async () => {
    const planId = randomUUID();
    const story = (e: Events) => [
      e.orderPlaced(),
      e.deliveryStarted(),
      e.orderCancelled(minute(6)),
      e.deliveryCompleted(),
      e.returnRequested(minute(7), ReturnReason.CANCELLED_AFTER_DELIVERY),
      e.pickupRequested(minute(8)),
      e.pickupCompleted(minute(9)),
    ];
    const arrivals = [
      (events: unknown[]) => events,
      (events: unknown[]) => [...events].reverse(),
      (events: unknown[]) => [3, 6, 0, 5, 1, 4, 2].map((index) => events[index]),
    ];
    const views: OrderStatusView[] = [];
    for (const arrival of arrivals) {
      const orderId = randomUUID();
      await feed(...(arrival(story(eventsOf(orderId, planId))) as ReturnType<Events["orderPlaced"]>[]));
      views.push({ ...(await statusOf(orderId)), orderId: "" });
    }
    expect(views[0]).toMatchObject({
      state: OrderState.RETURNED,
      delivery: "COMPLETED",
      pickup: "COMPLETED",
    });
    expect(views[1]).toEqual(views[0]);
    expect(views[2]).toEqual(views[0]);
  });

  it("records a redelivered event once, also when the copies arrive at the same time", async () => {
    const orderId = randomUUID();
    const events = eventsOf(orderId, randomUUID());
    const placed = events.orderPlaced();
    const started = events.deliveryStarted();
    await feed(placed, placed);
    await Promise.all([dashboard.publish(started), dashboard.publish(started), dashboard.publish(started)]);
    await feed(placed);
    const status = await statusOf(orderId);
    expect(status.history.map((entry) => entry.eventType)).toEqual([
      "trial.order.v1.OrderPlaced",
      "trial.delivery.v1.DeliveryStarted",
    ]);
  });

  it("loses no update when every event of one order is handled at once", async () => {
    const orderId = randomUUID();
    const e = eventsOf(orderId, randomUUID());
    const events = [
      e.orderPlaced(),
      e.deliveryStarted(),
      e.deliveryCompleted(),
      e.returnRequested(),
      e.pickupRequested(),
      e.pickupCompleted(),
    ];
    // Each event type has its own consumer, so these run concurrently against one document.
    await Promise.all(events.map((event) => dashboard.publish(event)));
    const status = await statusOf(orderId);
    expect(status.history).toHaveLength(events.length);
    expect(status.state).toBe(OrderState.RETURNED);
  });

  it("keeps one JSON document per order, with indexed columns copied out of it", async () => {
    const orderId = randomUUID();
    const planId = randomUUID();
    const e = eventsOf(orderId, planId);
    const started = e.deliveryStarted();
    await feed(e.orderPlaced(), started);
    const [row] = await query<Record<string, unknown>>(
      harness.databaseUrl,
      `select customer_id, plan_id, state, updated_at, document from trial_dashboard.order_status where order_id = $1`,
      [orderId],
    );
    expect(row).toMatchObject({
      customer_id: ORDER.customerId,
      plan_id: planId,
      state: "DELIVERING",
      updated_at: minute(2),
      document: expect.objectContaining({
        orderId,
        state: "DELIVERING",
        delivery: "IN_PROGRESS",
        history: [
          expect.objectContaining({ eventType: "trial.order.v1.OrderPlaced" }),
          expect.objectContaining({
            eventId: started.id,
            eventType: "trial.delivery.v1.DeliveryStarted",
            occurredAt: minute(2).toISOString(),
          }),
        ],
      }),
    });
  });
});

describe("ListOrderStatuses", () => {
  /** Orders of one plan, placed a minute apart: the later, the earlier it lists. */
  async function placeOrders(planId: string, customers: string[]): Promise<string[]> {
    const orderIds: string[] = [];
    for (const [index, customer] of customers.entries()) {
      const orderId = randomUUID();
      await feed(eventsOf(orderId, planId, customer).orderPlaced(minute(index)));
      orderIds.push(orderId);
    }
    return orderIds;
  }

  async function listAll(request: {
    customerId?: string;
    planId?: string;
    state?: OrderState;
    pageSize: number;
  }) {
    const pages: string[][] = [];
    let pageToken = "";
    do {
      const response = await dashboard.client.listOrderStatuses({ ...request, pageToken });
      pages.push(response.orders.map((order) => order.orderId));
      pageToken = response.nextPageToken;
    } while (pageToken !== "" && pages.length < 20);
    return pages;
  }

  it("pages through a plan's orders, most recently updated first", async () => {
    const planId = randomUUID();
    const [o1, o2, o3, o4, o5] = await placeOrders(planId, ["a", "b", "a", "b", "a"]);
    expect(await listAll({ planId, pageSize: 2 })).toEqual([[o5, o4], [o3, o2], [o1]]);
    expect(await listAll({ planId, pageSize: 5 })).toEqual([[o5, o4, o3, o2, o1], []]);
    expect(await listAll({ planId, pageSize: 0 })).toEqual([[o5, o4, o3, o2, o1]]);

    // A change moves an order to the front.
    await feed(eventsOf(o2 ?? "", planId, "b").deliveryStarted(minute(30)));
    expect(await listAll({ planId, pageSize: 10 })).toEqual([[o2, o5, o4, o3, o1]]);
  });

  it("filters by customer, by state and by both, across pages", async () => {
    const planId = randomUUID();
    const customer = `customer-${randomUUID()}`;
    const customers = [customer, "other", customer, customer, customer];
    const [o1, o2, o3, o4, o5] = await placeOrders(planId, customers);
    for (const index of [1, 2, 4]) {
      const orderId = [o1, o2, o3, o4, o5][index] ?? "";
      await feed(eventsOf(orderId, planId, customers[index]).deliveryStarted(minute(10)));
    }
    // Delivery started at the same minute: ties list by order id, descending, also across pages.
    const byIdDescending = (...orderIds: Array<string | undefined>) => orderIds.sort().reverse();
    const customersOrders = [...byIdDescending(o3, o5), o4, o1];
    expect(await listAll({ customerId: customer, pageSize: 3 })).toEqual([
      customersOrders.slice(0, 3),
      customersOrders.slice(3),
    ]);
    const delivering = byIdDescending(o2, o3, o5);
    expect(await listAll({ planId, state: OrderState.DELIVERING, pageSize: 2 })).toEqual([
      delivering.slice(0, 2),
      delivering.slice(2),
    ]);
    expect(
      await listAll({ planId, customerId: customer, state: OrderState.DELIVERING, pageSize: 1 }),
    ).toEqual([...byIdDescending(o3, o5).map((orderId) => [orderId]), []]);
    expect(await listAll({ planId, state: OrderState.RETURNED, pageSize: 10 })).toEqual([[]]);
  });

  it("answers full views", async () => {
    const planId = randomUUID();
    const [orderId] = await placeOrders(planId, ["customer-7"]);
    const { orders } = await dashboard.client.listOrderStatuses({ planId });
    expect(orders).toEqual([await statusOf(orderId ?? "")]);
  });
});

describe("bad input", () => {
  it("refuses a bad order id with invalid_argument naming orderId, and an unknown one with not_found", async () => {
    for (const orderId of ["", "42", "0196A000-0000-7000-8000-00000000ABCD"]) {
      const error = await refusal(dashboard.client.getOrderStatus({ orderId }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.findDetails(FieldViolationSchema)).toEqual([
        expect.objectContaining({ field: "orderId" }),
      ]);
    }
    const unknown = randomUUID();
    const error = await refusal(dashboard.client.getOrderStatus({ orderId: unknown }));
    expect(error.code).toBe(Code.NotFound);
    expect(error.findDetails(ResourceInfoSchema)).toEqual([
      expect.objectContaining({ resourceType: "Order", resourceId: unknown }),
    ]);
  });

  it("names the field of every bad list request", async () => {
    const notACursor = Buffer.from(JSON.stringify({ updatedAt: "yesterday", orderId: "x" })).toString(
      "base64url",
    );
    const cases: Array<[Parameters<typeof dashboard.client.listOrderStatuses>[0], string]> = [
      [{ pageToken: "not a token" }, "pageToken"],
      [{ pageToken: notACursor }, "pageToken"],
      [{ pageToken: Buffer.from("[1,2]").toString("base64url") }, "pageToken"],
      [{ pageSize: 101 }, "pageSize"],
      [{ pageSize: -1 }, "pageSize"],
      [{ planId: "plan-1" }, "planId"],
      [{ customerId: "c".repeat(65) }, "customerId"],
      [{ state: 99 as OrderState }, "state"],
    ];
    for (const [request, field] of cases) {
      const error = await refusal(dashboard.client.listOrderStatuses(request));
      expect(error.code, JSON.stringify(request)).toBe(Code.InvalidArgument);
      expect(error.findDetails(FieldViolationSchema)).toEqual([expect.objectContaining({ field })]);
    }
  });

  it("refuses a watch of a bad order id with invalid_argument naming orderId", async () => {
    const error = await refusal(
      (async () => {
        for await (const _ of dashboard.client.watchOrder({ orderId: "42" })) return;
      })(),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.findDetails(FieldViolationSchema)).toEqual([expect.objectContaining({ field: "orderId" })]);
  });

  it("dead-letters an event whose order id is not a UUID, writing nothing", async () => {
    const before = await harness.rowCounts();
    const event = eventsOf("not-an-order-id", randomUUID()).orderPlaced();
    await dashboard.publish(event);
    expect(await dashboard.deadLetters()).toContainEqual({
      consumer: "dashboard-order-placed",
      eventId: event.id,
    });
    expect(await harness.rowCounts()).toEqual(before);
  });

  it("writes nothing for any refused call", async () => {
    const before = await harness.rowCounts();
    await refusal(dashboard.client.getOrderStatus({ orderId: "nope" }));
    await refusal(dashboard.client.getOrderStatus({ orderId: randomUUID() }));
    await refusal(dashboard.client.listOrderStatuses({ planId: "nope" }));
    await refusal(dashboard.client.listOrderStatuses({ pageToken: "nope" }));
    await refusal(
      (async () => {
        for await (const _ of dashboard.client.watchOrder({ orderId: "nope" })) return;
      })(),
    );
    expect(await harness.rowCounts()).toEqual(before);
  });
});
