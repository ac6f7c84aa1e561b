/**
 * A trigger's announcement (postgres/notifications.ts's `announcement`): sent only while a process
 * listens, and without a race that loses a change: a process that starts listening waits for the
 * writers that looked for a listener before it was known, so its first read sees their changes.
 */
import { openServiceDatabase, type ServiceDatabase } from "@hexa/adapters/postgres/database";
import { announcement, ChannelListener, type TopicListener } from "@hexa/adapters/postgres/notifications";
import { platformMigrations } from "@hexa/adapters/postgres/platform-tables";
import { createTestDatabase, eventually, query, type TestDatabase, within } from "@hexa/testing";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const SCHEMA = "announce_test";
const CHANNEL = "announce_test";
const logger = pino({ level: "silent" });

let database: TestDatabase;
let db: ServiceDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  db = await openServiceDatabase({
    url: database.url,
    schema: SCHEMA,
    entities: [],
    migrations: [
      ...platformMigrations,
      {
        name: "0001_thing",
        sql: [
          "create table thing (id text primary key)",
          `create function thing_changed() returns trigger language plpgsql as $$
           begin
             ${announcement(SCHEMA, CHANNEL, "json_build_array(new.id, 'changed')::text")}
             return null;
           end $$`,
          "create trigger thing_changed after insert on thing for each row execute function thing_changed()",
        ],
      },
    ],
    logger,
  });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});
// Each test starts with no process known to listen: the one before has left.
beforeEach(async () => {
  await eventually(async () => expect(await knownListeners()).toEqual([]));
});

const listening = () =>
  new ChannelListener({
    connectionString: database.url,
    channel: CHANNEL,
    announcingSchema: SCHEMA,
    logger,
    applicationName: "hexa announcement test",
  });

const write = (id: string) => query(database.url, `insert into "${SCHEMA}".thing (id) values ($1)`, [id]);

const knownListeners = () =>
  query<{ pid: number }>(database.url, `select pid from "${SCHEMA}".listener where channel = $1`, [CHANNEL]);

/** A connection that LISTENs without making itself known, as a plain `LISTEN` does: it hears what is sent. */
async function eavesdropper(): Promise<{ heard: unknown[]; end: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const heard: unknown[] = [];
  client.on("notification", (notification) => heard.push(JSON.parse(notification.payload ?? "null")));
  await client.query(`listen ${CHANNEL}`);
  return { heard, end: () => client.end() };
}

describe("a trigger's announcement", () => {
  it("is sent only while a process listens to the channel", async () => {
    const plain = await eavesdropper();
    const stop = new AbortController();
    try {
      await write("nobody-listens");
      await new Promise((resume) => setTimeout(resume, 300));
      expect(plain.heard).toEqual([]);

      const listener: TopicListener = await listening().listen("listened", stop.signal);
      await write("listened");
      expect((await listener.next()).messages).toEqual(["changed"]);
      await eventually(async () => expect(plain.heard).toEqual([["listened", "changed"]]));
    } finally {
      stop.abort();
      await plain.end();
    }
  });

  it("is sent by a writer that cannot have the channel's lock, while a process starts listening", async () => {
    const plain = await eavesdropper();
    // What a process starting to listen holds for a moment, once it is known.
    const starting = new pg.Client({ connectionString: database.url });
    await starting.connect();
    try {
      await starting.query("select pg_advisory_lock(hashtextextended($1, 0))", [`listening:${CHANNEL}`]);
      await write("while-starting");
      await eventually(async () => expect(plain.heard).toEqual([["while-starting", "changed"]]));
    } finally {
      await starting.end();
      await plain.end();
    }
  });
});

describe("a process starting to listen", () => {
  it("waits for the writers that looked for a listener before it was known, so its first read sees them", async () => {
    const writer = new pg.Client({ connectionString: database.url });
    await writer.connect();
    const stop = new AbortController();
    try {
      await writer.query("begin");
      await writer.query(`insert into "${SCHEMA}".thing (id) values ($1)`, ["looked-before"]);
      const started = listening().listen("looked-before", stop.signal);
      expect(await within(started, 500)).toBe("nothing");
      await writer.query("commit");
      expect(await within(started, 5_000)).not.toBe("nothing");
      const rows = await query(database.url, `select id from "${SCHEMA}".thing where id = $1`, [
        "looked-before",
      ]);
      expect(rows).toHaveLength(1);
    } finally {
      stop.abort();
      await writer.end();
    }
  });

  it("is known while it listens, leaves when its last listener does, and clears what a dead one left", async () => {
    await query(database.url, `insert into "${SCHEMA}".listener (channel, pid) values ($1, $2)`, [
      CHANNEL,
      2_000_000_000,
    ]);
    const stop = new AbortController();
    await listening().listen("known", stop.signal);
    const pids = await knownListeners();
    expect(pids).toHaveLength(1);
    expect(pids[0]?.pid).not.toBe(2_000_000_000);
    stop.abort();
    await eventually(async () => expect(await knownListeners()).toEqual([]));
  });
});
