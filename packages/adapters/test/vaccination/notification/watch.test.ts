/**
 * WatchNotifications over Connect JSON (server streaming on HTTP/1.1): each new or changed
 * notification of the person, whichever replica on the database stored or sent it (LISTEN/NOTIFY).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { LISTENER_APPLICATION_NAME } from "@hexa/adapters/vaccination/notification/changes";
import {
  DeliveryState,
  NotificationKind,
  type Notification as NotificationView,
} from "@hexa/proto/vaccination/notification/v1/notification_pb";
import { eventually, query } from "@hexa/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  aReservation,
  eventsOf,
  type NotificationHarness,
  type NotificationReplica,
  startNotification,
} from "./support.ts";

let harness: NotificationHarness;
let first: NotificationReplica;
let second: NotificationReplica;
beforeAll(async () => {
  harness = await startNotification();
  first = await harness.startReplica();
  second = await harness.startReplica();
});
afterAll(async () => {
  await harness?.stop();
});

const watches: Array<{ cancel(): void }> = [];
afterEach(async () => {
  for (const watch of watches.splice(0)) watch.cancel();
  // Each test starts with no one watching.
  await listening(0);
});

/** A WatchNotifications call whose messages the test takes one at a time. */
function watch(replica: NotificationReplica, personId: string) {
  const abort = new AbortController();
  const stream = replica.client
    .watchNotifications({ personId }, { signal: abort.signal })
    [Symbol.asyncIterator]();
  // Asked for at once, so the call starts now and its end on cancel is always taken.
  let asked: ReturnType<typeof stream.next> | undefined = stream.next();
  const handle = {
    /** The next notification; fails when none comes within `timeoutMs`. */
    async next(timeoutMs = 5_000): Promise<NotificationView> {
      asked ??= stream.next();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`nothing within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const { done, value } = await Promise.race([asked, timeout]);
        asked = undefined;
        if (done) throw new Error("the watch ended");
        if (!value.notification) throw new Error("a message without a notification");
        return value.notification;
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(): void {
      // The call ends with "canceled": taken here, through a read that is waiting for it.
      asked ??= stream.next();
      asked.catch(() => undefined);
      abort.abort();
    },
  };
  watches.push(handle);
  return handle;
}

/**
 * Waits until the replicas hold `count` listening connections. A watch reads what it already knows
 * before its replica's connection opens, so once it is open, anything stored is news to the watch.
 */
async function listening(count = 1): Promise<number[]> {
  return eventually(async () => {
    const pids = await listeners();
    expect(pids).toHaveLength(count);
    return pids;
  });
}

async function listeners(): Promise<number[]> {
  const rows = await query<{ pid: number }>(
    harness.databaseUrl,
    "select pid from pg_stat_activity where datname = current_database() and application_name = $1",
    [LISTENER_APPLICATION_NAME],
  );
  return rows.map((row) => row.pid);
}

describe("WatchNotifications", () => {
  it("sends a notification stored by another replica, then its change to SENT", async () => {
    const reservation = aReservation();
    const personId = reservation.personId;
    const e = eventsOf(reservation);
    await first.publish(e.registered()); // before the watch: not news
    await eventually(async () => {
      const [row] = await harness.rows(personId);
      expect(row?.delivery).toBe("SENT");
    });

    const watching = watch(first, personId);
    await listening();
    // Only the second replica's consumer sees this event: the first learns of it through Postgres.
    await second.publish(e.confirmed());
    const stored = await watching.next();
    expect(stored).toMatchObject({
      personId,
      kind: NotificationKind.RESERVATION_CONFIRMED,
      reservationId: reservation.reservationId,
    });
    const views = [stored];
    while (views.at(-1)?.delivery !== DeliveryState.SENT) views.push(await watching.next());
    expect(views.map((view) => view.notificationId)).toEqual(views.map(() => stored.notificationId));
    expect(views.at(-1)).toMatchObject({ delivery: DeliveryState.SENT, attempts: 1 });
    expect(views.at(-1)?.sentAt).toBeDefined();
    // Nothing about the earlier notification, nothing twice.
    await expect(watching.next(300)).rejects.toThrow("nothing within 300 ms");
  });

  it("shows only the person's own notifications", async () => {
    const mine = aReservation();
    const watching = watch(second, mine.personId);
    await listening();
    await first.publish(eventsOf(aReservation()).registered());
    await first.publish(eventsOf(mine).waitlistJoined());
    expect(await watching.next()).toMatchObject({
      personId: mine.personId,
      kind: NotificationKind.WAITLIST_JOINED,
    });
  });

  it("catches up after its listening connection drops", async () => {
    const reservation = aReservation();
    const personId = reservation.personId;
    const e = eventsOf(reservation);
    const watching = watch(first, personId);
    const [dropped] = await listening();
    await query(harness.databaseUrl, "select pg_terminate_backend($1)", [dropped]);
    // Stored while nobody listens: seen once the connection is back.
    await second.publish(e.registered());
    const seen = await watching.next();
    expect(seen).toMatchObject({ kind: NotificationKind.RESERVATION_REGISTERED });
    const [back] = await listening();
    expect(back).not.toBe(dropped);
    await second.publish(e.confirmed());
    let next = await watching.next();
    while (next.kind !== NotificationKind.RESERVATION_CONFIRMED) next = await watching.next();
    expect(next.personId).toBe(personId);
  });

  it("holds one listening connection per replica while anyone watches, none after", async () => {
    const a = watch(first, "watcher-a");
    const b = watch(first, "watcher-b");
    const c = watch(second, "watcher-c");
    await listening(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await listeners()).toHaveLength(2);
    a.cancel();
    b.cancel();
    c.cancel();
    await eventually(async () => expect(await listeners()).toEqual([]));
  });

  it("ends with canceled on the caller's side when the caller hangs up", async () => {
    const reservation = aReservation();
    const abort = new AbortController();
    const call = (async () => {
      for await (const _ of first.client.watchNotifications(
        { personId: reservation.personId },
        { signal: abort.signal },
      )) {
        abort.abort();
      }
    })();
    await listening();
    await first.publish(eventsOf(reservation).registered());
    const error = await call.then(
      () => undefined,
      (caught: unknown) => ConnectError.from(caught),
    );
    expect(error?.code).toBe(Code.Canceled);
  });
});
