import { createInProcessBus } from "@hexa/adapters/inprocess/bus";
import { openServiceDatabase, type ServiceDatabase } from "@hexa/adapters/postgres/database";
import { createTestDatabase, describeWithNats, type TestDatabase } from "@hexa/testing";
import { pino } from "pino";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { anEvent, BusFixture, recordingConsumer, waitFor } from "../jetstream/support.ts";

/** What `/metrics` reads of each bus: consumer lag and dead letters, per consumer subscribed here. */
describeWithNats("JetStream bus metrics", () => {
  const fixture = new BusFixture();
  afterEach(() => fixture.cleanUp());

  it("reports num_pending of each durable consumer and its dead letters", async () => {
    const bus = await fixture.open(fixture.namespace(), { batchSize: 1, concurrency: 1 });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = recordingConsumer("svc-slow", "test.metrics.v1.Slow", () => held);
    const failing = recordingConsumer("svc-failing", "test.metrics.v1.Failing", () => {
      throw new Error("always fails");
    });
    await bus.subscribe(slow, { maxDeliver: 1, backoffMs: [0] });
    await bus.subscribe(failing, { maxDeliver: 1, backoffMs: [0] });
    for (let n = 0; n < 3; n++) await bus.publish(anEvent("test.metrics.v1.Slow"));
    await bus.publish(anEvent("test.metrics.v1.Failing"));

    // One message in the slow handler's hands, two not yet delivered; one dead letter.
    await waitFor("the lag and the dead letter", async () => {
      const metrics = await bus.metrics();
      const pending = metrics.consumers.find((consumer) => consumer.name === "svc-slow")?.pending;
      const dead = metrics.deadLetters.find((entry) => entry.consumer === "svc-failing")?.count;
      return slow.received.length === 1 && pending === 2 && dead === 1;
    });
    const metrics = await bus.metrics();
    expect(metrics.deadLetters).toContainEqual({ consumer: "svc-slow", count: 0 });
    release();
    await waitFor("the backlog handled", async () => {
      const now = await bus.metrics();
      return now.consumers.find((consumer) => consumer.name === "svc-slow")?.pending === 0;
    });
  });
});

describe("embedded bus metrics", () => {
  let database: TestDatabase | undefined;
  let store: ServiceDatabase | undefined;
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it("reports events in hand and dead letters per consumer", async () => {
    database = await createTestDatabase();
    const logger = pino({ level: "silent" });
    store = await openServiceDatabase({
      url: database.url,
      schema: "hexa_bus",
      entities: [],
      migrations: [],
      logger,
    });
    const bus = await createInProcessBus({ sql: store.execute, logger });
    await bus.subscribe(
      recordingConsumer("svc-failing", "test.metrics.v1.Failing", () => {
        throw new Error("always fails");
      }),
      { maxDeliver: 1, backoffMs: [0] },
    );
    await bus.publish(anEvent("test.metrics.v1.Failing"));
    expect(await bus.metrics()).toEqual({
      consumers: [{ name: "svc-failing", pending: 0 }],
      deadLetters: [{ consumer: "svc-failing", count: 1 }],
    });
    await bus.close();
  });
});
