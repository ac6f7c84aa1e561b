import { describeWithNats } from "@hexa/testing";
import { afterAll, expect, it } from "vitest";
import { deadLetterStreamOf } from "../../src/jetstream/names.ts";
import type { EventEnvelope } from "../../src/messaging/bus.ts";
import { streamOf, subjectOf } from "../../src/messaging/bus.ts";
import { anEvent, BusFixture, recordingConsumer, waitFor } from "./support.ts";

const planStarted = "trial.marketing.v1.PlanStarted";
const planEnded = "trial.marketing.v1.PlanEnded";

describeWithNats("JetStream bus: publishing", () => {
  const fixture = new BusFixture();
  afterAll(() => fixture.cleanUp());

  it("carries every envelope field exactly, with and without a traceparent", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    const consumer = recordingConsumer("marketing-test-recorder", planStarted);
    await bus.subscribe(consumer);

    const traced = anEvent(planStarted, {
      id: "0190f3c2-7b1e-7cc0-8a4e-5f1d2c3b4a59",
      aggregateId: "plan/42 ünïcode",
      occurredAt: "2026-03-04T05:06:07.089+01:00",
      payload: JSON.stringify({
        planId: "42",
        name: "Zürich pilot ✓",
        lines: ["a", "b"],
        nested: { x: 1.5 },
      }),
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });
    const untraced = anEvent(planStarted, { payload: "" });
    await bus.publish(traced);
    await bus.publish(untraced);

    await waitFor("both events", () => consumer.received.length === 2);
    expect(consumer.received[0]).toStrictEqual(traced);
    expect(consumer.received[1]).toStrictEqual(untraced);
    expect(consumer.received[1]).not.toHaveProperty("traceparent");
  });

  it("stores an event published twice with the same id once, and hands it over once", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    const consumer = recordingConsumer("marketing-test-once", planStarted);
    await bus.subscribe(consumer);

    const event = anEvent(planStarted);
    await bus.publish(event);
    await bus.publish(event);
    // A relay that crashed after publishing may publish again with a payload re-encoded differently.
    await bus.publish({ ...event, payload: JSON.stringify({ again: true }) });
    const after = anEvent(planStarted);
    await bus.publish(after);

    // One message at a time, in stream order: once `after` is in, any duplicate would be too.
    await waitFor("the event after the duplicates", () => consumer.received.some((e) => e.id === after.id));
    expect(consumer.received.map((e) => e.id)).toEqual([event.id, after.id]);
    expect(consumer.received[0]).toStrictEqual(event);
    const info = await (await fixture.manager()).streams.info(streamOf(planStarted, ns).stream);
    expect(info.state.messages).toBe(2);
  });

  it("puts one stream per publishing context, with file storage and a duplicate window", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    await bus.publish(anEvent(planStarted));
    await bus.publish(anEvent(planEnded));
    await bus.publish(anEvent("trial.order.v1.OrderPlaced"));

    const manager = await fixture.manager();
    const marketing = await manager.streams.info(streamOf(planStarted, ns).stream);
    expect(marketing.config.subjects).toEqual([`${ns}.trial.marketing.>`]);
    expect(marketing.config.storage).toBe("file");
    expect(marketing.config.duplicate_window).toBe(120_000_000_000);
    expect(marketing.state.messages).toBe(2);
    const order = await manager.streams.info(streamOf("trial.order.v1.OrderPlaced", ns).stream);
    expect(order.state.messages).toBe(1);
    const deadLetters = await manager.streams.info(deadLetterStreamOf(ns).stream);
    expect(deadLetters.config.subjects).toEqual([`${ns}.deadletter.>`]);
  });

  it("brings existing streams up to date without losing their messages", async () => {
    const ns = fixture.namespace();
    const manager = await fixture.manager();
    const { stream, subjects } = streamOf(planStarted, ns);
    const deadLetters = deadLetterStreamOf(ns).stream;
    await manager.streams.add({ name: stream, subjects: [subjects], duplicate_window: 10_000_000_000 });
    await manager.streams.add({ name: deadLetters, subjects: [`${ns}.deadletter.>`], allow_direct: false });
    await manager.jetstream().publish(subjectOf(planStarted, ns), "{}");

    const bus = await fixture.open(ns);
    await bus.publish(anEvent(planStarted));

    const updated = await manager.streams.info(stream);
    expect(updated.config.duplicate_window).toBe(120_000_000_000);
    expect(updated.config.allow_direct).toBe(true);
    expect(updated.state.messages).toBe(2);
    expect((await manager.streams.info(deadLetters)).config.allow_direct).toBe(true);
    expect(await bus.deadLetters.list()).toEqual([]);
  });

  it("updates the retry settings of an existing durable consumer", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    const manager = await fixture.manager();
    const durable = () => manager.consumers.info(streamOf(planStarted, ns).stream, "marketing-test-retries");
    const first = await bus.subscribe(recordingConsumer("marketing-test-retries", planStarted), {
      maxDeliver: 3,
      backoffMs: [10],
    });
    // One delivery beyond the policy's attempts, to dead-letter a message whose last outcome was lost.
    expect((await durable()).config.max_deliver).toBe(4);
    await first.stop();
    await bus.subscribe(recordingConsumer("marketing-test-retries", planStarted), {
      maxDeliver: 6,
      backoffMs: [10],
    });
    expect((await durable()).config.max_deliver).toBe(7);
    expect((await durable()).config.ack_policy).toBe("explicit");
    await expect(
      bus.subscribe(recordingConsumer("marketing-test-retries", planStarted), {
        maxDeliver: 0,
        backoffMs: [],
      }),
    ).rejects.toThrow(/maxDeliver/);
  });

  it("is safe when several buses create the same streams and consumers at once", async () => {
    const ns = fixture.namespace();
    const buses = await Promise.all([fixture.open(ns), fixture.open(ns), fixture.open(ns)]);
    const consumers = buses.map(() => recordingConsumer("marketing-test-race", planStarted));
    await Promise.all(buses.map((bus, i) => bus.subscribe(consumers[i] as (typeof consumers)[number])));
    await Promise.all(buses.map((bus) => bus.publish(anEvent(planStarted))));
    await waitFor("three events", () => consumers.reduce((sum, c) => sum + c.received.length, 0) === 3);
  });

  it("refuses an envelope NATS could not carry unchanged", async () => {
    const bus = await fixture.open(fixture.namespace());
    await expect(bus.publish(anEvent(planStarted, { aggregateId: "a\r\nb" }))).rejects.toThrow(/aggregateId/);
    await expect(bus.publish(anEvent(planStarted, { traceparent: " 00-x " }))).rejects.toThrow(/traceparent/);
    await expect(bus.publish(anEvent(planStarted, { id: "" }))).rejects.toThrow(/"id"/);
    await expect(bus.publish(anEvent("trial.marketing.v1.Plan Started"))).rejects.toThrow(/NATS subject/);
    await expect(bus.subscribe(recordingConsumer("marketing-test-bad", "trial.>"))).rejects.toThrow(
      /NATS subject/,
    );
  });

  it("refuses a durable name that another policy already uses for another event type", async () => {
    const bus = await fixture.open(fixture.namespace());
    await bus.subscribe(recordingConsumer("marketing-test-shared-name", planStarted));
    await expect(bus.subscribe(recordingConsumer("marketing-test-shared-name", planEnded))).rejects.toThrow(
      /already exists for subject .*PlanStarted/,
    );
  });

  it("reports readiness, waits for the message in hand on close, then refuses work", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    expect(await bus.isReady()).toBe(true);

    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const consumer = recordingConsumer("marketing-test-slow", planStarted, () => released);
    await bus.subscribe(consumer);
    const event: EventEnvelope = anEvent(planStarted);
    await bus.publish(event);
    await waitFor("the handler to start", () => consumer.received.length === 1);

    let closed = false;
    const closing = bus.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(false);
    release();
    await closing;

    expect(await bus.isReady()).toBe(false);
    await expect(bus.publish(anEvent(planStarted))).rejects.toThrow(/closed/);
    await expect(bus.close()).resolves.toBeUndefined();

    // The handled message was acknowledged before the connection closed: nothing is left pending.
    const manager = await fixture.manager();
    const durable = () => manager.consumers.info(streamOf(planStarted, ns).stream, "marketing-test-slow");
    await waitFor("the ack to be recorded", async () => (await durable()).num_ack_pending === 0, 2_000);
    const info = await durable();
    expect(info.num_pending).toBe(0);
    expect(info.delivered.stream_seq).toBe(1);
    expect(info.config.filter_subject).toBe(subjectOf(planStarted, ns));
  });
});
