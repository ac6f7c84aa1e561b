import { InvalidArgument, NotFound } from "@hexa/core/shared";
import {
  getOrderStatus,
  listOrderStatuses,
  MAX_CHANGES_READ,
  type OrderChangeListener,
  type OrderEventType,
  type OrderFact,
  type OrderStatus,
  type OrderStatusChange,
  type OrderStatusChanges,
  type OrderStatuses,
  type OrderStatusesNews,
  type OrderStatusFeed,
  type OrderStatusFeedListener,
  type OrderStatusFilter,
  type OrderStatusPosition,
  projectOrderStatus,
  watchOrderStatus,
  watchOrderStatuses,
  whenOrderEventSeen,
  withFact,
} from "@hexa/core/trial/dashboard";
import { describe, expect, it } from "vitest";

const ORDER = "0196a000-0000-7000-8000-000000000001";
const PLAN = "0196a000-0000-7000-8000-0000000000aa";
const PLACED_AT = new Date("2026-03-01T09:00:00.000Z");
const RETURN_DUE_AT = new Date("2026-03-15T09:00:00.000Z");

let ids = 0;
/** A fact of `eventType` happening `minute` minutes after the order was placed. */
function fact(eventType: OrderEventType, minute: number, details: OrderFact["details"] = {}): OrderFact {
  ids += 1;
  return {
    eventId: `0196a000-0000-7000-9000-${String(ids).padStart(12, "0")}`,
    eventType,
    occurredAt: new Date(PLACED_AT.getTime() + minute * 60_000),
    details,
  };
}

const item = { productId: "espresso-machine", quantity: 2 };
const placed = () =>
  fact("trial.order.v1.OrderPlaced", 0, {
    customerId: "customer-1",
    planId: PLAN,
    ...item,
    address: "1 Main St",
    placedAt: PLACED_AT,
    returnDueAt: RETURN_DUE_AT,
  });
const rejected = () => fact("trial.order.v1.OrderRejected", 1, item);
const deliveryStarted = () =>
  fact("trial.delivery.v1.DeliveryStarted", 2, { customerId: "customer-1", ...item, address: "1 Main St" });
const cancelled = (minute = 3) => fact("trial.order.v1.OrderCancelled", minute, { planId: PLAN, ...item });
const deliveryCancelled = () => fact("trial.delivery.v1.DeliveryCancelled", 4, item);
const deliveryCompleted = () => fact("trial.delivery.v1.DeliveryCompleted", 5, item);
const returnRequested = () => fact("trial.order.v1.ReturnRequested", 6, { ...item, address: "1 Main St" });
const pickupRequested = () => fact("trial.delivery.v1.PickupRequested", 7, { ...item, address: "1 Main St" });
const pickupCompleted = () => fact("trial.delivery.v1.PickupCompleted", 8, item);

/** The view after seeing `facts` one by one, as the policy does. */
function seeAll(facts: readonly OrderFact[]): OrderStatus {
  let status: OrderStatus | undefined;
  for (const seen of facts) status = withFact(status, ORDER, seen) ?? status;
  if (!status) throw new Error("no facts");
  return status;
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((first, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [first, ...rest]),
  );
}

describe("the order status projection", () => {
  it("shows a placed order with every detail OrderPlaced carries", () => {
    const event = placed();
    expect(projectOrderStatus(ORDER, [event])).toEqual({
      orderId: ORDER,
      customerId: "customer-1",
      planId: PLAN,
      productId: "espresso-machine",
      quantity: 2,
      address: "1 Main St",
      state: "PLACED",
      delivery: "NONE",
      pickup: "NONE",
      placedAt: PLACED_AT,
      returnDueAt: RETURN_DUE_AT,
      updatedAt: PLACED_AT,
      history: [event],
    });
  });

  it.each<[string, () => OrderFact[], Partial<OrderStatus>]>([
    ["OrderPlaced -> PLACED", () => [placed()], { state: "PLACED", delivery: "NONE", pickup: "NONE" }],
    [
      "DeliveryStarted -> DELIVERING",
      () => [placed(), deliveryStarted()],
      { state: "DELIVERING", delivery: "IN_PROGRESS", pickup: "NONE" },
    ],
    [
      "DeliveryCompleted -> DELIVERED",
      () => [placed(), deliveryStarted(), deliveryCompleted()],
      { state: "DELIVERED", delivery: "COMPLETED", pickup: "NONE" },
    ],
    [
      "OrderCancelled before any delivery -> CANCELLED",
      () => [placed(), cancelled()],
      { state: "CANCELLED", delivery: "NONE" },
    ],
    [
      "OrderCancelled while delivering -> CANCELLED, delivery CANCELLED once DeliveryCancelled",
      () => [placed(), deliveryStarted(), cancelled(), deliveryCancelled()],
      { state: "CANCELLED", delivery: "CANCELLED" },
    ],
    [
      "OrderCancelled after DeliveryCompleted -> still DELIVERED",
      () => [placed(), deliveryStarted(), deliveryCompleted(), cancelled(9)],
      { state: "DELIVERED", delivery: "COMPLETED" },
    ],
    [
      "OrderRejected -> REJECTED",
      () => [placed(), rejected()],
      { state: "REJECTED", delivery: "NONE", pickup: "NONE" },
    ],
    [
      "OrderRejected wins over a cancellation",
      () => [placed(), rejected(), cancelled()],
      { state: "REJECTED" },
    ],
    [
      "ReturnRequested -> RETURN_REQUESTED",
      () => [placed(), deliveryStarted(), deliveryCompleted(), returnRequested()],
      { state: "RETURN_REQUESTED", delivery: "COMPLETED", pickup: "NONE" },
    ],
    [
      "PickupRequested alone -> RETURN_REQUESTED, pickup REQUESTED",
      () => [placed(), deliveryStarted(), deliveryCompleted(), pickupRequested()],
      { state: "RETURN_REQUESTED", pickup: "REQUESTED" },
    ],
    [
      "the return of a cancelled but delivered order -> RETURN_REQUESTED",
      () => [placed(), deliveryStarted(), deliveryCompleted(), cancelled(9), returnRequested()],
      { state: "RETURN_REQUESTED", delivery: "COMPLETED" },
    ],
    [
      "PickupCompleted -> RETURNED, pickup COMPLETED",
      () => [
        placed(),
        deliveryStarted(),
        deliveryCompleted(),
        returnRequested(),
        pickupRequested(),
        pickupCompleted(),
      ],
      { state: "RETURNED", delivery: "COMPLETED", pickup: "COMPLETED" },
    ],
    [
      "PickupCompleted alone -> RETURNED",
      () => [pickupCompleted()],
      { state: "RETURNED", pickup: "COMPLETED" },
    ],
    [
      "DeliveryCancelled wins over DeliveryCompleted for the delivery field",
      () => [deliveryCompleted(), deliveryCancelled()],
      { delivery: "CANCELLED" },
    ],
  ])("%s", (_rule, facts, expected) => {
    expect(projectOrderStatus(ORDER, facts())).toMatchObject(expected);
  });

  it("fills the order's details from a DeliveryStarted seen before OrderPlaced", () => {
    const status = seeAll([deliveryStarted()]);
    expect(status).toMatchObject({
      customerId: "customer-1",
      productId: "espresso-machine",
      quantity: 2,
      address: "1 Main St",
      state: "DELIVERING",
      planId: undefined,
      placedAt: undefined,
      returnDueAt: undefined,
    });
    expect(seeAll([status.history[0] as OrderFact, cancelled()])).toMatchObject({ planId: PLAN });
  });

  it("takes OrderPlaced's details over those of other events, whatever arrives first", () => {
    const started = fact("trial.delivery.v1.DeliveryStarted", 2, {
      customerId: "someone-else",
      address: "elsewhere",
    });
    const order = placed();
    for (const facts of [
      [started, order],
      [order, started],
    ]) {
      expect(seeAll(facts)).toMatchObject({ customerId: "customer-1", address: "1 Main St" });
    }
  });

  it("keeps every event once, in the order they happened, and updatedAt is the latest one's time", () => {
    const events = [pickupCompleted(), placed(), deliveryCompleted(), deliveryStarted()];
    const status = seeAll(events);
    expect(status.history.map((seen) => seen.eventType)).toEqual([
      "trial.order.v1.OrderPlaced",
      "trial.delivery.v1.DeliveryStarted",
      "trial.delivery.v1.DeliveryCompleted",
      "trial.delivery.v1.PickupCompleted",
    ]);
    expect(status.updatedAt).toEqual(new Date(PLACED_AT.getTime() + 8 * 60_000));
  });

  it("orders events of the same instant by an order's life, then by event id", () => {
    const at = (eventType: OrderEventType, eventId: string): OrderFact => ({
      eventId,
      eventType,
      occurredAt: PLACED_AT,
      details: {},
    });
    const facts = [
      at("trial.delivery.v1.DeliveryStarted", "b"),
      at("trial.delivery.v1.DeliveryStarted", "a"),
      at("trial.order.v1.OrderPlaced", "c"),
    ];
    expect(projectOrderStatus(ORDER, facts).history.map((seen) => seen.eventId)).toEqual(["c", "a", "b"]);
  });

  it("ignores an event seen before: withFact answers undefined and nothing is recorded twice", () => {
    const order = placed();
    const started = deliveryStarted();
    const status = seeAll([order, started]);
    expect(withFact(status, ORDER, order)).toBeUndefined();
    expect(withFact(status, ORDER, { ...started, occurredAt: new Date(0) })).toBeUndefined();
    expect(projectOrderStatus(ORDER, [order, started, order]).history).toHaveLength(2);
  });

  it("refuses to make a view of no events", () => {
    expect(() => projectOrderStatus(ORDER, [])).toThrow(RangeError);
  });

  describe("gives the same view for every arrival order of a whole order's events", () => {
    it.each<[string, () => OrderFact[], OrderStatus["state"]]>([
      [
        "delivered and returned",
        () => [
          placed(),
          deliveryStarted(),
          deliveryCompleted(),
          returnRequested(),
          pickupRequested(),
          pickupCompleted(),
        ],
        "RETURNED",
      ],
      [
        "cancelled after the courier delivered, then returned",
        () => [
          placed(),
          deliveryStarted(),
          cancelled(6),
          deliveryCompleted(),
          returnRequested(),
          pickupRequested(),
          pickupCompleted(),
        ],
        "RETURNED",
      ],
      [
        "cancelled while delivering",
        () => [placed(), deliveryStarted(), cancelled(), deliveryCancelled()],
        "CANCELLED",
      ],
      ["rejected", () => [placed(), rejected()], "REJECTED"],
    ])("%s", (_story, story, state) => {
      const facts = story();
      const expected = projectOrderStatus(ORDER, facts);
      expect(expected.state).toBe(state);
      for (const arrival of permutations(facts)) {
        expect(seeAll(arrival)).toEqual(expected);
      }
      // Redelivered events on top of any arrival order change nothing.
      expect(seeAll([...facts].reverse().flatMap((seen) => [seen, seen]))).toEqual(expected);
    });
  });
});

class OrderStatusesInMemory implements OrderStatuses {
  readonly saved = new Map<string, OrderStatus>();
  saves = 0;
  lastList:
    | { filter: OrderStatusFilter; page: { limit: number; after?: OrderStatusPosition | undefined } }
    | undefined;
  async get(orderId: string) {
    return this.saved.get(orderId);
  }
  async add(orderId: string, seen: OrderFact) {
    const status = withFact(this.saved.get(orderId), orderId, seen);
    if (status) {
      this.saves += 1;
      this.saved.set(orderId, status);
    }
    return status;
  }
  async list(filter: OrderStatusFilter, page: { limit: number; after?: OrderStatusPosition | undefined }) {
    this.lastList = { filter, page };
    return [...this.saved.values()];
  }
}

/** Changes the test triggers by hand. */
class ManualChanges implements OrderStatusChanges {
  readonly listening = new Map<string, { wake: () => void; closed: boolean }>();
  async listen(orderId: string, signal: AbortSignal): Promise<OrderChangeListener> {
    let pending = false;
    let waiter: { resolve: () => void; reject: (reason: unknown) => void } | undefined;
    const entry = {
      closed: false,
      wake: () => {
        pending = true;
        waiter?.resolve();
      },
    };
    this.listening.set(orderId, entry);
    signal.addEventListener("abort", () => waiter?.reject(signal.reason), { once: true });
    return {
      changed: () =>
        new Promise<void>((resolve, reject) => {
          if (signal.aborted) return reject(signal.reason);
          if (pending) {
            pending = false;
            return resolve();
          }
          waiter = {
            resolve: () => {
              pending = false;
              waiter = undefined;
              resolve();
            },
            reject,
          };
        }),
      close: () => {
        entry.closed = true;
      },
    };
  }
}

describe("dashboard use cases", () => {
  it("whenOrderEventSeen saves a new view, and nothing for an event seen before", async () => {
    const statuses = new OrderStatusesInMemory();
    const order = placed();
    expect(await whenOrderEventSeen({ statuses }, { orderId: ORDER, fact: order })).toMatchObject({
      state: "PLACED",
    });
    expect(await whenOrderEventSeen({ statuses }, { orderId: ORDER, fact: order })).toBeUndefined();
    expect(statuses.saves).toBe(1);
  });

  it("whenOrderEventSeen refuses an event whose order id is not a UUID", async () => {
    const statuses = new OrderStatusesInMemory();
    await expect(whenOrderEventSeen({ statuses }, { orderId: "42", fact: placed() })).rejects.toMatchObject({
      field: "orderId",
    });
    expect(statuses.saves).toBe(0);
  });

  it("getOrderStatus answers the view, NotFound for an unknown order, InvalidArgument for a bad id", async () => {
    const statuses = new OrderStatusesInMemory();
    await whenOrderEventSeen({ statuses }, { orderId: ORDER, fact: placed() });
    expect(await getOrderStatus({ statuses }, { orderId: ORDER })).toMatchObject({ orderId: ORDER });
    await expect(getOrderStatus({ statuses }, { orderId: PLAN })).rejects.toBeInstanceOf(NotFound);
    const bad = await getOrderStatus({ statuses }, { orderId: "nope" }).catch((caught: unknown) => caught);
    expect(bad).toBeInstanceOf(InvalidArgument);
    expect(bad).toMatchObject({ field: "orderId" });
  });

  it("listOrderStatuses passes the filters that are set and the page on", async () => {
    const statuses = new OrderStatusesInMemory();
    const after = { updatedAt: PLACED_AT, orderId: ORDER };
    await listOrderStatuses(
      { statuses },
      { customerId: "c-1", planId: "", state: "DELIVERED", limit: 5, after },
    );
    expect(statuses.lastList).toEqual({
      filter: { customerId: "c-1", planId: undefined, state: "DELIVERED" },
      page: { limit: 5, after },
    });
    await listOrderStatuses({ statuses }, { customerId: "", planId: PLAN, limit: 20 });
    expect(statuses.lastList).toEqual({
      filter: { customerId: undefined, planId: PLAN, state: undefined },
      page: { limit: 20, after: undefined },
    });
  });

  it.each([
    [{ customerId: "c".repeat(65), planId: "" }, "customerId"],
    [{ customerId: "", planId: "not-a-plan" }, "planId"],
  ])("listOrderStatuses refuses %j naming %s", async (filter, field) => {
    const statuses = new OrderStatusesInMemory();
    const error = await listOrderStatuses({ statuses }, { ...filter, limit: 20 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field });
    expect(statuses.lastList).toBeUndefined();
  });

  describe("watchOrderStatus", () => {
    async function next(watch: AsyncGenerator<OrderStatus>): Promise<OrderStatus> {
      const result = await watch.next();
      if (result.done) throw new Error("the watch ended");
      return result.value;
    }

    it("waits for an unknown order, shows it, then shows each change once, until aborted", async () => {
      const statuses = new OrderStatusesInMemory();
      const changes = new ManualChanges();
      const abort = new AbortController();
      const watch = watchOrderStatus({ statuses, changes }, { orderId: ORDER }, abort.signal);
      const first = next(watch);
      await new Promise((resolve) => setTimeout(resolve, 10));
      const listening = changes.listening.get(ORDER);
      expect(listening).toBeDefined();

      await whenOrderEventSeen({ statuses }, { orderId: ORDER, fact: placed() });
      listening?.wake();
      expect(await first).toMatchObject({ state: "PLACED" });

      const second = next(watch);
      listening?.wake(); // a wake-up without a change shows nothing
      await new Promise((resolve) => setTimeout(resolve, 10));
      await whenOrderEventSeen({ statuses }, { orderId: ORDER, fact: deliveryStarted() });
      listening?.wake();
      expect(await second).toMatchObject({ state: "DELIVERING" });

      const third = next(watch);
      abort.abort(new Error("caller hung up"));
      await expect(third).rejects.toThrow("caller hung up");
      expect(listening?.closed).toBe(true);
    });

    it("shows the current view at once for a known order", async () => {
      const statuses = new OrderStatusesInMemory();
      await whenOrderEventSeen({ statuses }, { orderId: ORDER, fact: placed() });
      const watch = watchOrderStatus(
        { statuses, changes: new ManualChanges() },
        { orderId: ORDER },
        new AbortController().signal,
      );
      expect(await next(watch)).toMatchObject({ orderId: ORDER, state: "PLACED" });
      await watch.return(undefined);
    });

    it("refuses a bad order id before listening", async () => {
      const changes = new ManualChanges();
      const watch = watchOrderStatus(
        { statuses: new OrderStatusesInMemory(), changes },
        { orderId: "" },
        new AbortController().signal,
      );
      await expect(watch.next()).rejects.toMatchObject({ field: "orderId" });
      expect(changes.listening.size).toBe(0);
    });
  });
});

/** A feed of every order's changes whose batches the test hands out, one per call. */
class ScriptedFeed implements OrderStatusFeed {
  readonly batches: Array<{ changes: OrderStatusChange[]; complete: boolean }> = [];
  listening = 0;
  closed = 0;
  async listenToEvery(): Promise<OrderStatusFeedListener> {
    this.listening += 1;
    return {
      next: async () => {
        const batch = this.batches.shift();
        if (!batch) throw new Error("no more changes scripted");
        return batch;
      },
      close: () => {
        this.closed += 1;
      },
    };
  }
}

describe("watching the orders a filter selects", () => {
  const OTHER = "0196a000-0000-7000-8000-000000000002";

  async function given(...facts: OrderFact[]) {
    const statuses = new OrderStatusesInMemory();
    for (const seen of facts) await whenOrderEventSeen({ statuses }, { orderId: ORDER, fact: seen });
    return statuses;
  }

  async function take(watch: AsyncGenerator<OrderStatusesNews>, count: number) {
    const news: Array<string | OrderStatus["state"]> = [];
    for (let i = 0; i < count; i++) {
      const { value } = await watch.next();
      if (!value) throw new Error("the watch ended");
      news.push("status" in value ? value.status.state : "read again");
    }
    return news;
  }

  it("says to read again once listening, then sends the changed views the filter selects", async () => {
    const statuses = await given(placed(), deliveryStarted());
    const feed = new ScriptedFeed();
    feed.batches.push(
      // An order it has no view of, and this one twice in one batch: one read, one view.
      {
        changes: [
          { orderId: OTHER, previousState: undefined },
          { orderId: ORDER, previousState: undefined },
          { orderId: ORDER, previousState: "PLACED" },
        ],
        complete: true,
      },
      { changes: [{ orderId: ORDER, previousState: "PLACED" }], complete: false },
    );
    const watch = watchOrderStatuses(
      { statuses, feed },
      { customerId: "customer-1", planId: PLAN },
      new AbortController().signal,
    );
    expect(await take(watch, 3)).toEqual(["read again", "DELIVERING", "read again"]);
    await watch.return(undefined);
    expect(feed.closed).toBe(1);

    const stranger = new ScriptedFeed();
    stranger.batches.push({ changes: [{ orderId: ORDER, previousState: "PLACED" }], complete: false });
    const another = watchOrderStatuses(
      { statuses, feed: stranger },
      { customerId: "customer-2", planId: "" },
      new AbortController().signal,
    );
    // Another customer's order is not sent: only the "read again" of the start and of the gap.
    expect(await take(another, 2)).toEqual(["read again", "read again"]);
  });

  it("sends an order leaving the state asked for, not one that was never in it", async () => {
    const statuses = await given(placed(), deliveryStarted(), deliveryCompleted());
    const feed = new ScriptedFeed();
    feed.batches.push(
      { changes: [{ orderId: ORDER, previousState: "PLACED" }], complete: true },
      { changes: [{ orderId: ORDER, previousState: "DELIVERING" }], complete: true },
    );
    const watch = watchOrderStatuses(
      { statuses, feed },
      { customerId: "", planId: "", state: "DELIVERING" },
      new AbortController().signal,
    );
    expect(await take(watch, 2)).toEqual(["read again", "DELIVERED"]);
  });

  it("says to read again instead of reading more changed orders than it reads one by one", async () => {
    const statuses = await given(placed());
    let reads = 0;
    const counting = {
      get: (orderId: string) => {
        reads += 1;
        return statuses.get(orderId);
      },
      list: statuses.list.bind(statuses),
    };
    const feed = new ScriptedFeed();
    const many = Array.from({ length: MAX_CHANGES_READ + 1 }, (_, i) => ({
      orderId: `0196a000-0000-7000-8000-${String(i).padStart(12, "0")}`,
      previousState: undefined,
    }));
    feed.batches.push({ changes: many, complete: true });
    const watch = watchOrderStatuses(
      { statuses: counting, feed },
      { customerId: "", planId: "" },
      new AbortController().signal,
    );
    expect(await take(watch, 2)).toEqual(["read again", "read again"]);
    expect(reads).toBe(0);
  });

  it("refuses a bad filter before listening, naming its field", async () => {
    const feed = new ScriptedFeed();
    const watch = watchOrderStatuses(
      { statuses: new OrderStatusesInMemory(), feed },
      { customerId: "", planId: "not-a-plan" },
      new AbortController().signal,
    );
    await expect(watch.next()).rejects.toMatchObject({ field: "planId" });
    expect(feed.listening).toBe(0);
  });
});
