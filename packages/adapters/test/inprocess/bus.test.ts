import { randomUUID } from "node:crypto";
// @hexa/testing depends on @hexa/adapters, so adapters reaches it by path rather than as a package.
import { PlanStartedSchema } from "@hexa/proto/trial/marketing/v1/events_pb";
import { createTestDatabase, type TestDatabase } from "@hexa/testing";
import { MikroORM } from "@mikro-orm/postgresql";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BusClosedError,
  createDeadLetterStore,
  createInProcessBus,
  DeadLetterNotFoundError,
  type InProcessBus,
  type Sql,
} from "../../src/inprocess/bus.ts";
import type { Consumer, DeliveryPolicy, EventEnvelope } from "../../src/messaging/bus.ts";
import { decodeEvent } from "../../src/messaging/encoding.ts";

const PLAN_STARTED = "trial.marketing.v1.PlanStarted";
const PLAN_ENDED = "trial.marketing.v1.PlanEnded";
const fast: DeliveryPolicy = { maxDeliver: 3, backoffMs: [10, 20] };

let database: TestDatabase;
let orm: MikroORM;
let sql: Sql;
const buses: InProcessBus[] = [];
const otherOrms: MikroORM[] = [];
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  database = await createTestDatabase();
  orm = await MikroORM.init({
    clientUrl: database.url,
    entities: [],
    discovery: { warnWhenNoEntities: false },
  });
  sql = (text, params) => orm.em.getConnection().execute(text, params ?? []);
});

afterAll(async () => {
  for (const bus of buses) await bus.close();
  for (const other of otherOrms) await other.close();
  await orm?.close();
  await database?.drop();
});

async function newBus(through: Sql = sql): Promise<InProcessBus> {
  const logger = pino({ level: "info" }, { write: (line: string) => logLines.push(JSON.parse(line)) });
  const bus = await createInProcessBus({ sql: through, logger, replayPollMs: 50 });
  buses.push(bus);
  return bus;
}

/** A connection pool of its own, as an operator's command in another process would have. */
async function otherProcessSql(): Promise<Sql> {
  const other = await MikroORM.init({
    clientUrl: database.url,
    entities: [],
    discovery: { warnWhenNoEntities: false },
  });
  otherOrms.push(other);
  return (text, params) => other.em.getConnection().execute(text, params ?? []);
}

function envelope(type: string, overrides: Partial<EventEnvelope> = {}): EventEnvelope {
  return {
    id: randomUUID(),
    type,
    aggregateId: randomUUID(),
    occurredAt: "2026-03-01T10:00:00.123Z",
    payload: JSON.stringify({ planId: "p-1", note: "it's ? $1 \\ ok" }),
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ...overrides,
  };
}

/** A consumer that records what it receives and fails while `failing` says so. */
function recorder(name: string, eventType: string) {
  const received: EventEnvelope[] = [];
  const attemptsAt: number[] = [];
  const state = { failing: false };
  const consumer: Consumer = {
    name,
    eventType,
    async handle(event) {
      attemptsAt.push(Date.now());
      if (state.failing) throw new Error(`${name} cannot take ${event.id}`);
      received.push(event);
    },
  };
  return { consumer, received, attemptsAt, state };
}

function unique(name: string): string {
  return `${name}-${randomUUID().slice(0, 8)}`;
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((done) => setTimeout(done, 20));
  }
}

describe("in-process bus", () => {
  it("delivers an event to every consumer of its type and to no consumer of another type", async () => {
    const bus = await newBus();
    const billing = recorder(unique("billing-on-start"), PLAN_STARTED);
    const mailing = recorder(unique("mailing-on-start"), PLAN_STARTED);
    const closing = recorder(unique("closing-on-end"), PLAN_ENDED);
    for (const { consumer } of [billing, mailing, closing]) await bus.subscribe(consumer, fast);

    const event = envelope(PLAN_STARTED);
    await bus.publish(event);

    expect(billing.received).toEqual([event]);
    expect(mailing.received).toEqual([event]);
    expect(closing.received).toEqual([]);
  });

  it("resolves publish only after every consumer has handled the event", async () => {
    const bus = await newBus();
    const handled: string[] = [];
    await bus.subscribe({
      name: unique("slow"),
      eventType: PLAN_STARTED,
      handle: async (event) => {
        await new Promise((done) => setTimeout(done, 100));
        handled.push(event.id);
      },
    });
    const event = envelope(PLAN_STARTED);
    await bus.publish(event);
    expect(handled).toEqual([event.id]);
  });

  it("gives each event to one replica of a consumer name, sharing the work between replicas", async () => {
    const bus = await newBus();
    const name = unique("order-on-start");
    const first = recorder(name, PLAN_STARTED);
    const second = recorder(name, PLAN_STARTED);
    await bus.subscribe(first.consumer, fast);
    await bus.subscribe(second.consumer, fast);

    const events = Array.from({ length: 6 }, () => envelope(PLAN_STARTED));
    for (const event of events) await bus.publish(event);

    const all = [...first.received, ...second.received].map((event) => event.id);
    expect(all.sort()).toEqual(events.map((event) => event.id).sort());
    expect(first.received.length).toBeGreaterThan(0);
    expect(second.received.length).toBeGreaterThan(0);
  });

  it("retries a failing consumer exactly maxDeliver times with backoff, then dead-letters it, while others succeed", async () => {
    const bus = await newBus();
    const failing = recorder(unique("failing-on-start"), PLAN_STARTED);
    failing.state.failing = true;
    const healthy = recorder(unique("healthy-on-start"), PLAN_STARTED);
    await bus.subscribe(failing.consumer, { maxDeliver: 3, backoffMs: [40, 80] });
    await bus.subscribe(healthy.consumer, fast);

    const event = envelope(PLAN_STARTED);
    await bus.publish(event);

    expect(healthy.received).toEqual([event]);
    expect(failing.attemptsAt).toHaveLength(3);
    const [a, b, c] = failing.attemptsAt as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(35);
    expect(c - b).toBeGreaterThanOrEqual(75);

    const letters = (await bus.deadLetters.list()).filter(
      (letter) => letter.consumer === failing.consumer.name,
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ consumer: failing.consumer.name, event, attempts: 3 });
    expect(letters[0]?.error).toContain(`cannot take ${event.id}`);
    expect(Date.parse(letters[0]?.failedAt ?? "")).not.toBeNaN();
    expect(
      (await bus.deadLetters.list()).filter((letter) => letter.consumer === healthy.consumer.name),
    ).toHaveLength(0);

    const logged = logLines.find((line) => line.msg === "event dead-lettered" && line.eventId === event.id);
    expect(logged).toMatchObject({ consumer: failing.consumer.name, attempts: 3, eventType: PLAN_STARTED });
  });

  it("dead-letters an event whose payload cannot be decoded on its first attempt", async () => {
    const bus = await newBus();
    const attempts: string[] = [];
    const decoding: Consumer = {
      name: unique("decoding-on-start"),
      eventType: PLAN_STARTED,
      async handle(event) {
        attempts.push(event.id);
        decodeEvent(PlanStartedSchema, event);
      },
    };
    await bus.subscribe(decoding, { maxDeliver: 5, backoffMs: [10] });
    const event = envelope(PLAN_STARTED, { payload: JSON.stringify({ trialDays: "seven" }) });
    await bus.publish(event);

    expect(attempts).toEqual([event.id]);
    const [letter] = (await bus.deadLetters.list()).filter((entry) => entry.consumer === decoding.name);
    expect(letter).toMatchObject({ attempts: 1, event });
    expect(letter?.error).toMatch(/^UndecodableEventError: trial\.marketing\.v1\.PlanStarted payload/);
  });

  it("replays a dead letter asked for from another bus instance, and deletes it once handled", async () => {
    const running = await newBus();
    const flaky = recorder(unique("flaky-on-end"), PLAN_ENDED);
    flaky.state.failing = true;
    await running.subscribe(flaky.consumer, { maxDeliver: 2, backoffMs: [5] });
    const event = envelope(PLAN_ENDED);
    await running.publish(event);
    const [letter] = (await running.deadLetters.list()).filter((l) => l.consumer === flaky.consumer.name);
    expect(letter).toBeDefined();
    const id = letter?.id ?? "";

    flaky.state.failing = false;
    // Another process: its own connection pool, nothing subscribed, only the operator's command.
    const operator = await newBus(await otherProcessSql());
    await operator.deadLetters.replay(id);

    await eventually(() => flaky.received.length === 1);
    expect(flaky.received).toEqual([event]);
    await eventually(async () => !(await operator.deadLetters.list()).some((l) => l.id === id));
  });

  it("takes up a replay asked for through the bare dead-letter store, with no bus in the asking process", async () => {
    const bus = await newBus();
    const flaky = recorder(unique("flaky-on-start"), PLAN_STARTED);
    flaky.state.failing = true;
    await bus.subscribe(flaky.consumer, { maxDeliver: 1, backoffMs: [] });
    const event = envelope(PLAN_STARTED);
    await bus.publish(event);
    const [letter] = (await bus.deadLetters.list()).filter((l) => l.consumer === flaky.consumer.name);

    flaky.state.failing = false;
    const store = await createDeadLetterStore(await otherProcessSql());
    await store.replay(letter?.id ?? "");

    await eventually(() => flaky.received.length === 1);
    await eventually(async () => !(await store.list()).some((l) => l.id === letter?.id));
  });

  it("keeps a dead letter whose replay fails again, with the new error and the attempts added", async () => {
    const bus = await newBus();
    const name = unique("stubborn-on-end");
    let failures = 0;
    await bus.subscribe(
      {
        name,
        eventType: PLAN_ENDED,
        handle: async () => {
          failures++;
          throw new Error(`failure number ${failures}`);
        },
      },
      { maxDeliver: 2, backoffMs: [5] },
    );
    await bus.publish(envelope(PLAN_ENDED));
    const [letter] = (await bus.deadLetters.list()).filter((l) => l.consumer === name);
    expect(letter?.error).toContain("failure number 2");

    await bus.deadLetters.replay(letter?.id ?? "");
    await eventually(async () => {
      const [again] = (await bus.deadLetters.list()).filter((l) => l.consumer === name);
      return again?.attempts === 4 && again.replayRequestedAt === undefined;
    });
    const [again] = (await bus.deadLetters.list()).filter((l) => l.consumer === name);
    expect(again?.id).toBe(letter?.id);
    expect(again?.error).toContain("failure number 4");
  });

  it("keeps dead letters across a restart: a new bus on the same database lists them", async () => {
    const before = await newBus();
    const broken = recorder(unique("broken-on-start"), PLAN_STARTED);
    broken.state.failing = true;
    await before.subscribe(broken.consumer, { maxDeliver: 1, backoffMs: [] });
    const event = envelope(PLAN_STARTED, { traceparent: undefined });
    await before.publish(event);
    await before.close();

    const after = await newBus();
    const letters = (await after.deadLetters.list()).filter((l) => l.consumer === broken.consumer.name);
    expect(letters).toHaveLength(1);
    expect(letters[0]?.event).toEqual({
      id: event.id,
      type: event.type,
      aggregateId: event.aggregateId,
      occurredAt: event.occurredAt,
      payload: event.payload,
    });
    expect(letters[0]?.attempts).toBe(1);
  });

  it("refuses to replay an unknown dead letter with a clear error", async () => {
    const bus = await newBus();
    await expect(bus.deadLetters.replay("987654321")).rejects.toBeInstanceOf(DeadLetterNotFoundError);
    await expect(bus.deadLetters.replay("not-an-id")).rejects.toThrow(/dead letter "not-an-id" not found/);
  });

  it("is ready while open; close waits for deliveries in hand, then refuses publishes", async () => {
    const bus = await newBus();
    expect(await bus.isReady()).toBe(true);
    let finished = false;
    await bus.subscribe({
      name: unique("draining"),
      eventType: PLAN_STARTED,
      handle: async () => {
        await new Promise((done) => setTimeout(done, 150));
        finished = true;
      },
    });
    const publishing = bus.publish(envelope(PLAN_STARTED));
    await new Promise((done) => setTimeout(done, 20));
    await bus.close();
    expect(finished).toBe(true);
    await publishing;
    expect(await bus.isReady()).toBe(false);
    await expect(bus.publish(envelope(PLAN_STARTED))).rejects.toBeInstanceOf(BusClosedError);
  });

  it("rejects the publish of an event whose retries were cut short by close, so the outbox keeps it", async () => {
    const bus = await newBus();
    const failing = recorder(unique("cut-short"), PLAN_STARTED);
    failing.state.failing = true;
    await bus.subscribe(failing.consumer, { maxDeliver: 3, backoffMs: [10_000] });
    const publishing = bus.publish(envelope(PLAN_STARTED));
    await eventually(() => failing.attemptsAt.length === 1);
    await bus.close();
    await expect(publishing).rejects.toBeInstanceOf(BusClosedError);
    expect(failing.attemptsAt).toHaveLength(1);
    expect((await bus.deadLetters.list()).some((l) => l.consumer === failing.consumer.name)).toBe(false);
  });

  it("stops handing events to a stopped subscription", async () => {
    const bus = await newBus();
    const gone = recorder(unique("gone"), PLAN_STARTED);
    const subscription = await bus.subscribe(gone.consumer);
    await subscription.stop();
    await bus.publish(envelope(PLAN_STARTED));
    expect(gone.received).toEqual([]);
  });
});
