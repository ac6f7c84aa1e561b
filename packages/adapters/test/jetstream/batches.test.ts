import { describeWithNats } from "@hexa/testing";
import { afterAll, expect, it } from "vitest";
import { type Consumer, type EventEnvelope, streamOf } from "../../src/messaging/bus.ts";
import { anEvent, BusFixture, waitFor } from "./support.ts";

const stockChanged = "trial.warehouse.v1.StockChanged";
const policy = { maxDeliver: 3, backoffMs: [20, 20] };

/**
 * A consumer that takes batches: records each `handleAll` batch and each single `handle`, and all
 * of them in the order they came (`handed`), and holds the first call until released, so that
 * messages pile up behind it.
 */
function batchingConsumer(
  name: string,
  fails: (event: EventEnvelope) => boolean = () => false,
): Consumer & {
  readonly batches: EventEnvelope[][];
  readonly singles: EventEnvelope[];
  readonly handed: EventEnvelope[][];
  release(): void;
} {
  const batches: EventEnvelope[][] = [];
  const singles: EventEnvelope[] = [];
  const handed: EventEnvelope[][] = [];
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let calls = 0;
  const holdFirstCall = () => (calls++ === 0 ? held : undefined);
  return {
    name,
    eventType: stockChanged,
    batches,
    singles,
    handed,
    release: () => release(),
    async handle(event) {
      singles.push(event);
      handed.push([event]);
      await holdFirstCall();
      if (fails(event)) throw new Error(`event ${event.aggregateId} fails`);
    },
    async handleAll(events) {
      batches.push([...events]);
      handed.push([...events]);
      await holdFirstCall();
      if (events.some(fails)) throw new Error("a batch with a failing event");
    },
  };
}

describeWithNats("JetStream bus: consumers that take batches", () => {
  const fixture = new BusFixture();
  afterAll(() => fixture.cleanUp());

  async function settled(ns: string, durable: string) {
    const manager = await fixture.manager();
    const info = await manager.consumers.info(streamOf(stockChanged, ns).stream, durable);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }

  it("hands over what piled up behind a busy lane as batches, in stream order, each event once", async () => {
    const ns = fixture.namespace();
    // One lane: with more, the first few events would each get a lane of their own.
    const bus = await fixture.open(ns, { concurrency: 1 });
    const consumer = batchingConsumer("dashboard-stock-changed");
    await bus.subscribe(consumer, policy);
    const first = anEvent(stockChanged);
    await bus.publish(first);
    await waitFor("the first event", () => consumer.singles.length === 1);
    const rest = Array.from({ length: 40 }, () => anEvent(stockChanged));
    for (const event of rest) await bus.publish(event);
    consumer.release();

    await waitFor("every event handled and acknowledged", async () => {
      return consumer.handed.flat().length >= 41 && (await settled(ns, "dashboard-stock-changed"));
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The first event came alone; those published while it was held came in fewer, larger batches.
    expect(consumer.handed[0]).toEqual([first]);
    expect(consumer.handed.length).toBeLessThan(20);
    expect(Math.max(...consumer.batches.map((batch) => batch.length))).toBeGreaterThan(10);
    expect(consumer.handed.flat().map((event) => event.id)).toEqual(
      [first, ...rest].map((event) => event.id),
    );
  });

  it("hands a failed batch over again one event at a time: only the failing event is retried and dead-lettered", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns, { concurrency: 1 });
    const events = Array.from({ length: 10 }, () => anEvent(stockChanged));
    const poison = events[4] as EventEnvelope;
    const consumer = batchingConsumer("order-stock-changed", (event) => event.id === poison.id);
    await bus.subscribe(consumer, policy);
    const first = anEvent(stockChanged);
    await bus.publish(first);
    await waitFor("the first event", () => consumer.singles.length === 1);
    for (const event of events) await bus.publish(event);
    consumer.release();

    await waitFor("the failing event dead-lettered", async () => (await bus.deadLetters.list()).length === 1);
    await waitFor("the rest acknowledged", () => settled(ns, "order-stock-changed"));
    const [letter] = await bus.deadLetters.list();
    expect(letter?.event.id).toBe(poison.id);
    expect(letter?.attempts).toBe(3);
    // Every other event took effect exactly once: alone after the failed batch, or in a later batch.
    const succeeded = [
      ...consumer.singles.filter((event) => event.id !== poison.id),
      ...consumer.batches.filter((batch) => !batch.some((event) => event.id === poison.id)).flat(),
    ].map((event) => event.id);
    expect(succeeded.sort()).toEqual([first, ...events.filter((e) => e !== poison)].map((e) => e.id).sort());
    // The poison came first in a batch with others, then alone for each of its attempts.
    expect(
      consumer.batches.some((batch) => batch.length > 1 && batch.some((event) => event.id === poison.id)),
    ).toBe(true);
    expect(consumer.singles.filter((event) => event.id === poison.id)).toHaveLength(3);
  });
});
