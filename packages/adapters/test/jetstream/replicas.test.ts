import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describeWithNats, natsUrl } from "@hexa/testing";
import { afterAll, expect, it } from "vitest";
import { streamOf } from "../../src/messaging/bus.ts";
import { anEvent, BusFixture, recordingConsumer, waitFor } from "./support.ts";

const orderPlaced = "trial.order.v1.OrderPlaced";

describeWithNats("JetStream bus: durable consumers", () => {
  const fixture = new BusFixture();
  afterAll(() => fixture.cleanUp());

  async function settled(ns: string, durable: string) {
    const manager = await fixture.manager();
    const info = await manager.consumers.info(streamOf(orderPlaced, ns).stream, durable);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }

  it("hands the messages a killed replica had in hand, and those it had pulled, to another replica within seconds", async () => {
    const ns = fixture.namespace();
    const publisher = await fixture.open(ns);
    const events = Array.from({ length: 20 }, () => anEvent(orderPlaced));
    // The replica that dies: its handler takes messages and never finishes them.
    const stuck = spawn(
      process.execPath,
      [
        resolve(import.meta.dirname, "fixtures/stuck-consumer.ts"),
        natsUrl(),
        ns,
        "warehouse-on-order-placed",
        orderPlaced,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let inHand = 0;
    stuck.stdout?.on("data", (chunk: Buffer) => {
      inHand += chunk
        .toString()
        .split("\n")
        .filter((line) => line.startsWith("in hand")).length;
    });
    const exited = new Promise((done) => stuck.once("exit", done));
    try {
      await waitFor("the stuck replica to subscribe", async () => {
        const manager = await fixture.manager();
        return (
          (await manager.consumers
            .info(streamOf(orderPlaced, ns).stream, "warehouse-on-order-placed")
            .catch(() => undefined)) !== undefined
        );
      });
      await Promise.all(events.map((event) => publisher.publish(event)));
      await waitFor("messages in the stuck replica's hands", () => inHand > 0);
    } finally {
      stuck.kill("SIGKILL");
    }
    await exited;
    const killedAt = performance.now();

    const survivor = await fixture.open(ns);
    const replica = recordingConsumer("warehouse-on-order-placed", orderPlaced);
    await survivor.subscribe(replica);
    await waitFor("every event handled by the surviving replica", () =>
      events.every((event) => replica.received.some((received) => received.id === event.id)),
    );
    console.log(
      `[killed replica] ${inHand} in hand when killed; all ${events.length} handled by the other replica ${Math.round(performance.now() - killedAt)} ms after the kill`,
    );
    await waitFor("nothing pending", () => settled(ns, "warehouse-on-order-placed"));
  });

  it("splits the work between replicas sharing a consumer name: none missing, none twice", async () => {
    const ns = fixture.namespace();
    const [first, second, publisher] = await Promise.all([
      fixture.open(ns),
      fixture.open(ns),
      fixture.open(ns),
    ]);
    const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 1));
    const replicaA = recordingConsumer("delivery-on-order-placed", orderPlaced, pause);
    const replicaB = recordingConsumer("delivery-on-order-placed", orderPlaced, pause);
    await first.subscribe(replicaA);
    await second.subscribe(replicaB);

    const events = Array.from({ length: 200 }, () => anEvent(orderPlaced));
    await Promise.all(events.map((event) => publisher.publish(event)));

    await waitFor("all 200 events handled and acknowledged", async () => {
      return (
        replicaA.received.length + replicaB.received.length >= 200 &&
        (await settled(ns, "delivery-on-order-placed"))
      );
    });
    const handled = [...replicaA.received, ...replicaB.received].map((event) => event.id);
    expect(handled).toHaveLength(200);
    expect(new Set(handled)).toEqual(new Set(events.map((event) => event.id)));
    expect(replicaA.received.length).toBeGreaterThan(0);
    expect(replicaB.received.length).toBeGreaterThan(0);
  });

  it("resumes a stopped consumer from its durable position, in a new process as in the old", async () => {
    const ns = fixture.namespace();
    const publisher = await fixture.open(ns);
    const before = Array.from({ length: 3 }, () => anEvent(orderPlaced));
    const whileDown = Array.from({ length: 20 }, () => anEvent(orderPlaced));

    const firstRun = recordingConsumer("warehouse-on-order-placed", orderPlaced);
    const firstBus = await fixture.open(ns);
    const subscription = await firstBus.subscribe(firstRun);
    for (const event of before) await publisher.publish(event);
    await waitFor("the first events", () => firstRun.received.length === 3);
    await subscription.stop();
    await firstBus.close();

    for (const event of whileDown) await publisher.publish(event);
    expect(firstRun.received).toHaveLength(3);

    const secondRun = recordingConsumer("warehouse-on-order-placed", orderPlaced);
    const secondBus = await fixture.open(ns);
    await secondBus.subscribe(secondRun);
    await waitFor("the events published while it was down", () => secondRun.received.length >= 20, 5_000);
    await waitFor("the consumer to settle", () => settled(ns, "warehouse-on-order-placed"));
    expect(secondRun.received.map((event) => event.id)).toEqual(whileDown.map((event) => event.id));
    expect(firstRun.received.map((event) => event.id)).toEqual(before.map((event) => event.id));
  });

  it("hands messages pulled ahead back at once when a replica stops, so another replica takes them", async () => {
    const ns = fixture.namespace();
    const [stopping, staying, publisher] = await Promise.all([
      fixture.open(ns),
      fixture.open(ns),
      fixture.open(ns),
    ]);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The first replica holds the events in hand (up to its concurrency), with more pulled ahead.
    const slow = recordingConsumer("delivery-on-order-placed", orderPlaced, () => held);
    const slowSubscription = await stopping.subscribe(slow);
    const events = Array.from({ length: 30 }, () => anEvent(orderPlaced));
    for (const event of events) await publisher.publish(event);
    await waitFor("the slow replica to take events", () => slow.received.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const inHand = slow.received.length;
    expect(inHand).toBeLessThanOrEqual(8);

    const stopped = slowSubscription.stop();
    release();
    await stopped;
    expect(slow.received.length).toBe(inHand);
    const fast = recordingConsumer("delivery-on-order-placed", orderPlaced);
    await staying.subscribe(fast);
    // Far below the 30 s ack wait: the buffered messages were handed back, not left to time out.
    await waitFor("the other replica to take the rest", () => fast.received.length === 30 - inHand, 5_000);
    expect(new Set([...slow.received, ...fast.received].map((event) => event.id))).toEqual(
      new Set(events.map((event) => event.id)),
    );
  });

  it("creates its durable consumer again when it was deleted from under it", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    const consumer = recordingConsumer("warehouse-on-order-placed", orderPlaced);
    await bus.subscribe(consumer);
    const first = anEvent(orderPlaced);
    await bus.publish(first);
    await waitFor("the first event", () => consumer.received.length === 1);

    const manager = await fixture.manager();
    await manager.consumers.delete(streamOf(orderPlaced, ns).stream, "warehouse-on-order-placed");
    const second = anEvent(orderPlaced);
    await bus.publish(second);

    // The new durable consumer starts from the beginning of the stream: its inbox skips what it handled.
    await waitFor("the event published after the deletion", () =>
      consumer.received.some((e) => e.id === second.id),
    );
    expect(consumer.received.map((event) => event.id)).toEqual([first.id, first.id, second.id]);
  });
});
