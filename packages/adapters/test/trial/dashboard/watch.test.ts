/**
 * WatchOrder over Connect JSON (server streaming on HTTP/1.1): the current view, then a view after
 * every change, made by this replica or another one on the same database (LISTEN/NOTIFY).
 */
import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { LISTENER_APPLICATION_NAME } from "@hexa/adapters/trial/dashboard/changes";
import {
  OrderState,
  type OrderStatusView,
  type WatchOrderStatusesRequestSchema,
} from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import { eventually, query } from "@hexa/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DashboardHarness, type DashboardReplica, eventsOf, startDashboard } from "./support.ts";

let harness: DashboardHarness;
let first: DashboardReplica;
let second: DashboardReplica;
beforeAll(async () => {
  harness = await startDashboard();
  first = await harness.startReplica();
  second = await harness.startReplica();
});
afterAll(async () => {
  await harness?.stop();
});

const watches: Array<{ cancel(): void }> = [];
afterEach(() => {
  for (const watch of watches.splice(0)) watch.cancel();
});

/** A WatchOrder call whose views the test takes one at a time. */
function watch(replica: DashboardReplica, orderId: string) {
  const taken = follow((signal) => replica.client.watchOrder({ orderId }, { signal }));
  return {
    cancel: () => taken.cancel(),
    /** The next view; fails when none comes within `timeoutMs`. */
    async next(timeoutMs = 5_000): Promise<OrderStatusView> {
      const { order } = await taken.next(timeoutMs);
      if (!order) throw new Error("a message without a view");
      return order;
    },
  };
}

/** A WatchOrderStatuses call: each message, a changed view or "read again" (no view). */
function watchStatuses(
  replica: DashboardReplica,
  filter: MessageInitShape<typeof WatchOrderStatusesRequestSchema>,
) {
  const taken = follow((signal) => replica.client.watchOrderStatuses(filter, { signal }));
  return {
    async next(timeoutMs = 5_000): Promise<OrderStatusView | "read again"> {
      return (await taken.next(timeoutMs)).order ?? "read again";
    },
  };
}

/** A server stream whose messages the test takes one at a time; cancelled after each test. */
function follow<T>(open: (signal: AbortSignal) => AsyncIterable<T>) {
  const abort = new AbortController();
  const messages = open(abort.signal)[Symbol.asyncIterator]();
  // A message asked for but not yet taken (its wait timed out) is the next one handed out.
  let asked: Promise<IteratorResult<T>> | undefined;
  const handle = {
    /** The next message; fails when none comes within `timeoutMs`. */
    async next(timeoutMs: number): Promise<T> {
      asked ??= messages.next();
      const result = asked;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no view within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const { done, value } = await Promise.race([result, timeout]);
        asked = undefined;
        if (done) throw new Error("the watch ended");
        return value;
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(): void {
      abort.abort();
      // A message still asked for ends with "canceled": expected, not a failure.
      asked?.catch(() => undefined);
    },
  };
  watches.push(handle);
  return handle;
}

/** Listening connections the dashboard holds in the test database. */
async function listeners(): Promise<number[]> {
  const rows = await query<{ pid: number }>(
    harness.databaseUrl,
    "select pid from pg_stat_activity where datname = current_database() and application_name = $1",
    [LISTENER_APPLICATION_NAME],
  );
  return rows.map((row) => row.pid);
}

const types = (view: OrderStatusView) => view.history.map((entry) => entry.eventType);

describe("WatchOrder", () => {
  it("sends the current view, then a view after each change, in order", async () => {
    const orderId = randomUUID();
    const e = eventsOf(orderId, randomUUID());
    await first.publish(e.orderPlaced());
    const watching = watch(first, orderId);
    const now = await watching.next();
    expect(now).toMatchObject({ orderId, state: OrderState.PLACED });
    expect(now).toEqual((await first.client.getOrderStatus({ orderId })).order);

    const story = [
      [e.deliveryStarted(), OrderState.DELIVERING],
      [e.deliveryCompleted(), OrderState.DELIVERED],
      [e.returnRequested(), OrderState.RETURN_REQUESTED],
      [e.pickupRequested(), OrderState.RETURN_REQUESTED],
      [e.pickupCompleted(), OrderState.RETURNED],
    ] as const;
    for (const [event, state] of story) {
      await first.publish(event);
      const view = await watching.next();
      expect(view.state).toBe(state);
      expect(types(view).at(-1)).toBe(event.type);
    }
  });

  it("sends nothing for an order not seen yet, then its first view when it appears", async () => {
    const orderId = randomUUID();
    const watching = watch(first, orderId);
    await expect(watching.next(300)).rejects.toThrow("no view within 300 ms");
    await first.publish(eventsOf(orderId, randomUUID()).orderPlaced());
    expect(await watching.next()).toMatchObject({ orderId, state: OrderState.PLACED });
  });

  it("sends an event seen again only once: a redelivery is no change", async () => {
    const orderId = randomUUID();
    const e = eventsOf(orderId, randomUUID());
    const placed = e.orderPlaced();
    await first.publish(placed);
    const watching = watch(first, orderId);
    expect(types(await watching.next())).toEqual(["trial.order.v1.OrderPlaced"]);
    await first.publish(placed);
    await first.publish(e.deliveryStarted());
    expect(types(await watching.next())).toEqual([
      "trial.order.v1.OrderPlaced",
      "trial.delivery.v1.DeliveryStarted",
    ]);
  });

  it("hears changes made by another replica on the same database, both ways", async () => {
    const orderId = randomUUID();
    const e = eventsOf(orderId, randomUUID());
    const onFirst = watch(first, orderId);
    const onSecond = watch(second, orderId);

    // Only the second replica's consumers see this event: the first learns of it through Postgres.
    await second.publish(e.orderPlaced());
    expect(await onFirst.next()).toMatchObject({ state: OrderState.PLACED });
    expect(await onSecond.next()).toMatchObject({ state: OrderState.PLACED });

    await first.publish(e.deliveryStarted());
    expect(await onSecond.next()).toMatchObject({ state: OrderState.DELIVERING });
    expect(await onFirst.next()).toMatchObject({ state: OrderState.DELIVERING });

    await second.publish(e.orderCancelled());
    expect(await onFirst.next()).toMatchObject({ state: OrderState.CANCELLED });
  });

  it("keeps one listening connection per replica, and closes it when the last watcher leaves", async () => {
    await eventually(async () => expect(await listeners()).toEqual([]));
    const orderId = randomUUID();
    await first.publish(eventsOf(orderId, randomUUID()).orderPlaced());
    const a = watch(first, orderId);
    const b = watch(first, randomUUID());
    await a.next();
    await expect(b.next(100)).rejects.toThrow();
    expect(await listeners()).toHaveLength(1);

    a.cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await listeners()).toHaveLength(1);
    b.cancel();
    await eventually(async () => expect(await listeners()).toEqual([]));
  });

  it("listens again after its connection drops, and catches up on what changed meanwhile", async () => {
    const orderId = randomUUID();
    const e = eventsOf(orderId, randomUUID());
    await first.publish(e.orderPlaced());
    const watching = watch(first, orderId);
    await watching.next();
    const [dropped] = await eventually(async () => {
      const pids = await listeners();
      expect(pids).toHaveLength(1);
      return pids;
    });

    await query(harness.databaseUrl, "select pg_terminate_backend($1)", [dropped]);
    // Changed while nobody listens: seen once the connection is back.
    await first.publish(e.deliveryStarted());
    expect(await watching.next()).toMatchObject({ state: OrderState.DELIVERING });

    const [back] = await eventually(async () => {
      const pids = await listeners();
      expect(pids).toHaveLength(1);
      return pids;
    });
    expect(back).not.toBe(dropped);
    await second.publish(e.deliveryCompleted());
    expect(await watching.next()).toMatchObject({ state: OrderState.DELIVERED });
  });

  it("ends with canceled on the caller's side when the caller hangs up", async () => {
    const orderId = randomUUID();
    await first.publish(eventsOf(orderId, randomUUID()).orderPlaced());
    const abort = new AbortController();
    const seen: OrderStatusView[] = [];
    const call = (async () => {
      for await (const response of first.client.watchOrder({ orderId }, { signal: abort.signal })) {
        if (response.order) seen.push(response.order);
        abort.abort();
      }
    })();
    const error = await call.then(
      () => undefined,
      (caught: unknown) => ConnectError.from(caught),
    );
    expect(error?.code).toBe(Code.Canceled);
    expect(seen).toHaveLength(1);
  });
});

describe("WatchOrderStatuses", () => {
  it("says to read the list once listening, then sends each change the filter selects, an order leaving its state too", async () => {
    const planId = randomUUID();
    const mine = randomUUID();
    const e = eventsOf(mine, planId, "customer-w1");
    const delivering = watchStatuses(first, { planId, state: OrderState.DELIVERING });
    const everyOrder = watchStatuses(second, {});
    expect(await delivering.next()).toBe("read again");
    expect(await everyOrder.next()).toBe("read again");

    // Placed: not delivering, so not for the first watcher; every order's watcher hears it from the other replica.
    await first.publish(e.orderPlaced());
    expect(await everyOrder.next()).toMatchObject({ orderId: mine, state: OrderState.PLACED });
    // Another plan's order is not the first watcher's business.
    const other = eventsOf(randomUUID(), randomUUID(), "customer-w2");
    await first.publish(other.orderPlaced());
    expect(await everyOrder.next()).toMatchObject({ customerId: "customer-w2", state: OrderState.PLACED });
    // The dashboard's consumers run apart and may commit in either order: the second event follows the first's view.
    await first.publish(other.deliveryStarted());
    expect(await everyOrder.next()).toMatchObject({
      customerId: "customer-w2",
      state: OrderState.DELIVERING,
    });

    await second.publish(e.deliveryStarted());
    expect(await delivering.next()).toMatchObject({ orderId: mine, state: OrderState.DELIVERING });
    // Delivered: it left the state watched, and the watcher hears so.
    await first.publish(e.deliveryCompleted());
    expect(await delivering.next()).toMatchObject({ orderId: mine, state: OrderState.DELIVERED });
    await first.publish(e.returnRequested());
    await expect(delivering.next(300)).rejects.toThrow("no view within 300 ms");
  });

  it("names a bad filter's field", async () => {
    for (const [filter, field] of [
      [{ planId: "not-a-uuid" }, "planId"],
      [{ customerId: "c".repeat(65) }, "customerId"],
    ] as const) {
      const error = await watchStatuses(first, filter)
        .next()
        .then(
          () => undefined,
          (caught: unknown) => ConnectError.from(caught),
        );
      expect(error?.code, field).toBe(Code.InvalidArgument);
      expect(error?.rawMessage, field).toContain(field);
    }
  });

  it("shares the replica's one listening connection, and says to read again after it dropped", async () => {
    await eventually(async () => expect(await listeners()).toEqual([]));
    const orderId = randomUUID();
    const e = eventsOf(orderId, randomUUID());
    await first.publish(e.orderPlaced());
    const one = watch(first, orderId);
    const every = watchStatuses(first, {});
    await one.next();
    expect(await every.next()).toBe("read again");
    const [dropped] = await eventually(async () => {
      const pids = await listeners();
      expect(pids).toHaveLength(1);
      return pids;
    });

    await query(harness.databaseUrl, "select pg_terminate_backend($1)", [dropped]);
    await first.publish(e.deliveryStarted());
    // Whatever changed while nobody listened is not known one by one: read the list again.
    expect(await every.next()).toBe("read again");
    await eventually(async () => expect(await listeners()).toHaveLength(1));
    await second.publish(e.deliveryCompleted());
    // The change made meanwhile comes too if it committed once listening again; then the next one.
    const views: OrderStatusView[] = [];
    for (;;) {
      const message = await every.next();
      if (message === "read again") throw new Error("read again twice");
      views.push(message);
      if (message.state === OrderState.DELIVERED) break;
    }
    expect(views.map((view) => [view.orderId, view.state]).slice(0, -1)).toEqual(
      views.slice(0, -1).map(() => [orderId, OrderState.DELIVERING]),
    );
  });
});
