/**
 * The Postgres LISTEN/NOTIFY fan-out notification's watch stands on (postgres/notifications.ts),
 * on its own: messages reach the listeners of their topic when the writer's transaction commits,
 * never for a rolled-back one, and a listener is told when it may have missed some.
 */
import { openServiceDatabase, type ServiceDatabase } from "@hexa/adapters/postgres/database";
import {
  ChannelListener,
  type Heard,
  notifyChannel,
  type TopicListener,
} from "@hexa/adapters/postgres/notifications";
import { createTestDatabase, eventually, query, type TestDatabase, within } from "@hexa/testing";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const logger = pino({ level: "silent" });
const APPLICATION = "hexa listen test";

let database: TestDatabase;
let db: ServiceDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  db = await openServiceDatabase({
    url: database.url,
    schema: "listen_test",
    entities: [],
    migrations: [],
    logger,
  });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

/** A listening end of the test channel; its connection shows as `hexa listen test <name>`. */
function channel(name: string, options: { maxPending?: number } = {}): ChannelListener {
  return new ChannelListener({
    connectionString: database.url,
    channel: "listen_test",
    logger,
    applicationName: `${APPLICATION} ${name}`,
    reconnectMs: [20],
    ...options,
  });
}

const announce = (topic: string, ...messages: string[]) =>
  db.transaction(async (em) => {
    for (const message of messages) await notifyChannel(em, "listen_test", topic, message);
  });

async function connections(name: string): Promise<number[]> {
  const rows = await query<{ pid: number }>(
    database.url,
    "select pid from pg_stat_activity where datname = current_database() and application_name = $1",
    [`${APPLICATION} ${name}`],
  );
  return rows.map((row) => row.pid);
}

/** What a listener hears until `count` messages came (answers put together), or `ms` passed. */
async function hear(listener: TopicListener, count: number, ms = 2_000): Promise<Heard> {
  const messages: string[] = [];
  let complete = true;
  const deadline = Date.now() + ms;
  while (messages.length < count && Date.now() < deadline) {
    const heard = await within(listener.next(), deadline - Date.now());
    if (heard === "nothing") break;
    messages.push(...heard.messages);
    complete &&= heard.complete;
    if (!heard.complete) break;
  }
  return { messages, complete };
}

describe("ChannelListener", () => {
  const aborts: AbortController[] = [];
  afterEach(() => {
    for (const abort of aborts.splice(0)) abort.abort();
  });
  const signal = () => {
    const abort = new AbortController();
    aborts.push(abort);
    return abort;
  };

  it("hands a topic's messages to its listeners at commit, once each, in order", async () => {
    const feed = channel("order");
    const { signal: during } = signal();
    const alice = await feed.listen("alice", during);
    const bob = await feed.listen("bob", during);
    await announce("alice", "m1", "m2", "m1");
    await announce("bob", "m3");
    expect(await hear(alice, 2)).toEqual({ messages: ["m1", "m2"], complete: true });
    expect(await hear(bob, 1)).toEqual({ messages: ["m3"], complete: true });
    expect(await within(alice.next())).toBe("nothing");
  });

  it("hands nothing for a rolled-back transaction", async () => {
    const listener = await channel("rollback").listen("carol", signal().signal);
    await db
      .transaction(async (em) => {
        await notifyChannel(em, "listen_test", "carol", "never");
        throw new Error("roll back");
      })
      .catch(() => undefined);
    await announce("carol", "committed");
    expect(await hear(listener, 1)).toEqual({ messages: ["committed"], complete: true });
    expect(await within(listener.next())).toBe("nothing");
  });

  it("reports a loss when more pile up than it keeps", async () => {
    const listener = await channel("pile", { maxPending: 2 }).listen("dave", signal().signal);
    await announce("dave", "a", "b", "c");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await within(listener.next())).toEqual({ messages: [], complete: false });
  });

  it("listens again after its connection drops, and reports the loss", async () => {
    const listener = await channel("drop").listen("erin", signal().signal);
    const [dropped] = await connections("drop");
    await query(database.url, "select pg_terminate_backend($1)", [dropped]);
    expect(await within(listener.next(), 5_000)).toEqual({ messages: [], complete: false });
    const [back] = await eventually(async () => {
      const pids = await connections("drop");
      expect(pids).toHaveLength(1);
      return pids;
    });
    expect(back).not.toBe(dropped);
    await announce("erin", "after");
    expect(await hear(listener, 1)).toEqual({ messages: ["after"], complete: true });
  });

  it("ends a listener with its signal, and closes the connection when the last one leaves", async () => {
    const feed = channel("leave");
    const first = signal();
    const one = await feed.listen("frank", first.signal);
    const two = await feed.listen("grace", signal().signal);
    expect(await connections("leave")).toHaveLength(1);
    const waiting = one.next();
    first.abort(new Error("hung up"));
    await expect(waiting).rejects.toThrow("hung up");
    expect(await connections("leave")).toHaveLength(1);
    two.close();
    await eventually(async () => expect(await connections("leave")).toEqual([]));
  });

  it("refuses a channel that is not a plain identifier", () => {
    expect(
      () => new ChannelListener({ connectionString: database.url, channel: "drop table; --", logger }),
    ).toThrow("not a plain lowercase identifier");
  });
});
