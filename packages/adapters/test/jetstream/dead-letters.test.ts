import { InvalidArgument } from "@hexa/core/shared";
import { ReservationConfirmedSchema } from "@hexa/proto/vaccination/reservation/v1/events_pb";
import { describeWithNats } from "@hexa/testing";
import { headers } from "@nats-io/transport-node";
import { afterAll, expect, it } from "vitest";
import { DeadLetterNotFoundError, DeadLetterNotReplayableError } from "../../src/jetstream/dead-letters.ts";
import { parseDeadLettersArgs, runDeadLettersCommand } from "../../src/jetstream/dead-letters-cli.ts";
import { deadLetterStreamOf } from "../../src/jetstream/names.ts";
import { type EventEnvelope, streamOf, subjectOf } from "../../src/messaging/bus.ts";
import { decodeEvent } from "../../src/messaging/encoding.ts";
import { DatabaseUnreachable } from "../../src/postgres/database.ts";
import { anEvent, BusFixture, capturingLogger, recordingConsumer, waitFor } from "./support.ts";

const doseReserved = "vaccination.reservation.v1.DoseReserved";
const policy = { maxDeliver: 3, backoffMs: [20, 20] };

describeWithNats("JetStream bus: retries and dead letters", () => {
  const fixture = new BusFixture();
  afterAll(() => fixture.cleanUp());

  it("retries with backoff, dead-letters after the last attempt, lists it, and replays it", async () => {
    const ns = fixture.namespace();
    const { logger, lines } = capturingLogger();
    const bus = await fixture.open(ns, { logger });
    let failing = true;
    const attemptsAt: number[] = [];
    const notifier = recordingConsumer("notification-on-dose-reserved", doseReserved, () => {
      attemptsAt.push(performance.now());
      if (failing) throw new Error("mail server said no\nsecond line of the error");
    });
    // Another policy on the same event, which handles it fine.
    const dashboard = recordingConsumer("dashboard-on-dose-reserved", doseReserved);
    await bus.subscribe(notifier, policy);
    await bus.subscribe(dashboard, policy);

    const event = anEvent(doseReserved, {
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    });
    await bus.publish(event);

    await waitFor("a dead letter", async () => (await bus.deadLetters.list()).length === 1);
    expect(notifier.received).toHaveLength(3);
    expect(notifier.received.every((received) => received.id === event.id)).toBe(true);
    for (let i = 1; i < attemptsAt.length; i++) {
      expect((attemptsAt[i] ?? 0) - (attemptsAt[i - 1] ?? 0)).toBeGreaterThanOrEqual(15);
    }
    expect(dashboard.received).toHaveLength(1);

    const [letter] = await bus.deadLetters.list();
    expect(letter).toMatchObject({
      consumer: "notification-on-dose-reserved",
      error: "mail server said no second line of the error",
      attempts: 3,
    });
    expect(letter?.event).toStrictEqual(event);
    expect(Date.parse(letter?.failedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(letter?.id).toMatch(/^[1-9][0-9]*$/);

    // Stored on `<ns>.deadletter.<consumer>` with the original body and headers.
    const manager = await fixture.manager();
    const stored = await manager.streams.getMessage(deadLetterStreamOf(ns).stream, {
      seq: Number(letter?.id),
    });
    expect(stored?.subject).toBe(`${ns}.deadletter.notification-on-dose-reserved`);
    expect(stored?.header.get("Hexa-Dead-Subject")).toBe(subjectOf(doseReserved, ns));
    expect(stored?.header.get("Hexa-Event-Id")).toBe(event.id);
    expect(stored?.string()).toBe(event.payload);

    const logged = lines.find((line) => line.msg === "event dead-lettered");
    expect(logged).toMatchObject({
      level: 50,
      consumer: "notification-on-dose-reserved",
      eventId: event.id,
      eventType: doseReserved,
      attempts: 3,
      error: "mail server said no second line of the error",
    });
    // The failed message was terminated: the consumer has nothing pending or in flight.
    const durable = await manager.consumers.info(
      streamOf(doseReserved, ns).stream,
      "notification-on-dose-reserved",
    );
    expect(durable.num_ack_pending).toBe(0);
    expect(durable.num_pending).toBe(0);

    failing = false;
    await bus.deadLetters.replay(letter?.id ?? "");
    await waitFor("the replayed event", () => notifier.received.length === 4);
    expect(notifier.received[3]).toStrictEqual(event);
    expect(await bus.deadLetters.list()).toEqual([]);
    // Every consumer of the subject gets the replay; the inbox makes it a no-op where it was handled.
    await waitFor("the replay at the other policy", () => dashboard.received.length === 2);
    expect(dashboard.received[1]).toStrictEqual(event);
    await expect(bus.deadLetters.replay(letter?.id ?? "")).rejects.toBeInstanceOf(DeadLetterNotFoundError);
  });

  it("replays a dead letter once when two operators replay it at the same time", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    let failing = true;
    const consumer = recordingConsumer("inventory-on-dose-reserved", doseReserved, () => {
      if (failing) throw new Error("not yet");
    });
    await bus.subscribe(consumer, { maxDeliver: 1, backoffMs: [] });
    await bus.publish(anEvent(doseReserved));
    await waitFor("the dead letter", async () => (await bus.deadLetters.list()).length === 1);
    const [letter] = await bus.deadLetters.list();

    failing = false;
    const other = await fixture.open(ns);
    await Promise.all([bus.deadLetters.replay(letter?.id ?? ""), other.deadLetters.replay(letter?.id ?? "")]);
    await waitFor("the replay", () => consumer.received.length === 2);
    expect(await bus.deadLetters.list()).toEqual([]);
    const stream = await (await fixture.manager()).streams.info(streamOf(doseReserved, ns).stream);
    expect(stream.state.messages).toBe(2);
  });

  it("keeps a dead letter per failing consumer of the same event", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    const failure = () => {
      throw new TypeError("cannot read the plan");
    };
    await bus.subscribe(recordingConsumer("inventory-on-dose-reserved", doseReserved, failure), {
      maxDeliver: 1,
      backoffMs: [],
    });
    await bus.subscribe(recordingConsumer("vaccination-on-dose-reserved", doseReserved, failure), {
      maxDeliver: 1,
      backoffMs: [],
    });
    const event = anEvent(doseReserved);
    await bus.publish(event);

    await waitFor("two dead letters", async () => (await bus.deadLetters.list()).length === 2);
    const letters = await bus.deadLetters.list();
    expect(letters.map((letter) => letter.consumer).sort()).toEqual([
      "inventory-on-dose-reserved",
      "vaccination-on-dose-reserved",
    ]);
    for (const letter of letters) {
      expect(letter).toMatchObject({ error: "TypeError: cannot read the plan", attempts: 1, event });
    }
  });

  it("dead-letters a message without a usable envelope at once, without calling the handler", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    const handler = recordingConsumer("dashboard-on-dose-reserved", doseReserved);
    await bus.subscribe(handler, policy);
    // Someone publishes on the subject by hand, without the envelope's headers.
    const raw = headers();
    raw.set("Hexa-Event-Id", "hand-made");
    const manager = await fixture.manager();
    await manager
      .jetstream()
      .publish(subjectOf(doseReserved, ns), new TextEncoder().encode("{}"), { headers: raw });

    await waitFor("the dead letter", async () => (await bus.deadLetters.list()).length === 1);
    const [letter] = await bus.deadLetters.list();
    expect(letter?.error).toMatch(/^malformed event: missing header\(s\) Hexa-Event-Type, Hexa-Aggregate-Id/);
    expect(letter?.attempts).toBe(1);
    expect(letter?.event.id).toBe("hand-made");
    expect(handler.received).toEqual([]);

    // Replayed, it would only be dead-lettered again: the replay says so and changes nothing.
    const before = await manager.streams.info(streamOf(doseReserved, ns).stream);
    await expect(bus.deadLetters.replay(letter?.id ?? "")).rejects.toThrow(DeadLetterNotReplayableError);
    await expect(bus.deadLetters.replay(letter?.id ?? "")).rejects.toThrow(
      /carries no event envelope \(missing header\(s\) Hexa-Event-Type/,
    );
    expect(await bus.deadLetters.list()).toEqual([letter]);
    const after = await manager.streams.info(streamOf(doseReserved, ns).stream);
    expect(after.state.last_seq).toBe(before.state.last_seq);
  });

  it("outlasts a database outage on the same delivery: handled once the database answers, never dead-lettered", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    let outage = 3;
    const consumer = recordingConsumer("inventory-on-dose-reserved", doseReserved, () => {
      if (outage-- > 0) throw new DatabaseUnreachable();
    });
    await bus.subscribe(consumer, { maxDeliver: 1, backoffMs: [] });
    const event = anEvent(doseReserved);
    await bus.publish(event);

    await waitFor("the event handled", async () => {
      const durable = await (await fixture.manager()).consumers.info(
        streamOf(doseReserved, ns).stream,
        "inventory-on-dose-reserved",
      );
      return consumer.received.length === 4 && durable.num_ack_pending === 0 && durable.num_pending === 0;
    });
    expect(consumer.received.map((received) => received.id)).toEqual([
      event.id,
      event.id,
      event.id,
      event.id,
    ]);
    expect(await bus.deadLetters.list()).toEqual([]);
  });

  it("dead-letters a poison event on its first attempt: a payload that cannot be decoded, or content failing validation", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    const type = ReservationConfirmedSchema.typeName;
    const many = { maxDeliver: 5, backoffMs: [1_000] };
    const decoding = recordingConsumer("dashboard-on-reservation-confirmed", type, (event) => {
      decodeEvent(ReservationConfirmedSchema, event);
    });
    const validating = recordingConsumer("notification-on-reservation-confirmed", type, () => {
      throw new InvalidArgument("personId", "must not be empty");
    });
    await bus.subscribe(decoding, many);
    await bus.subscribe(validating, many);
    const undecodable = anEvent(type, { payload: "{not json" });
    await bus.publish(undecodable);

    await waitFor("both dead letters", async () => (await bus.deadLetters.list()).length === 2);
    const letters = await bus.deadLetters.list();
    expect(letters.find((letter) => letter.consumer === "dashboard-on-reservation-confirmed")).toMatchObject({
      attempts: 1,
      error: expect.stringMatching(
        /^UndecodableEventError: vaccination\.reservation\.v1\.ReservationConfirmed payload/,
      ),
    });
    expect(
      letters.find((letter) => letter.consumer === "notification-on-reservation-confirmed"),
    ).toMatchObject({
      attempts: 1,
      error: expect.stringContaining("must not be empty"),
    });
    expect(decoding.received).toHaveLength(1);
    expect(validating.received).toHaveLength(1);
  });

  it("refuses to replay an id that names no dead letter", async () => {
    const bus = await fixture.open(fixture.namespace());
    await expect(bus.deadLetters.replay("999999")).rejects.toThrow(/no dead letter with id "999999"/);
    await expect(bus.deadLetters.replay("abc")).rejects.toBeInstanceOf(DeadLetterNotFoundError);
    await expect(bus.deadLetters.replay("0")).rejects.toBeInstanceOf(DeadLetterNotFoundError);
  });

  it("lists and replays through the dead-letters command", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns);
    let failing = true;
    const consumer = recordingConsumer("marketing-on-dose-reserved", doseReserved, () => {
      if (failing) throw new Error(`refused ${"x".repeat(200)}`);
    });
    await bus.subscribe(consumer, { maxDeliver: 2, backoffMs: [10] });
    const events: EventEnvelope[] = [anEvent(doseReserved), anEvent(doseReserved)];
    for (const event of events) await bus.publish(event);
    await waitFor("two dead letters", async () => (await bus.deadLetters.list()).length === 2);
    const ids = (await bus.deadLetters.list()).map((letter) => letter.id);

    const run = async (...argv: string[]) => {
      let text = "";
      const code = await runDeadLettersCommand(parseDeadLettersArgs(argv), bus, {
        write: (chunk: string) => (text += chunk),
      });
      return { code, text };
    };

    const listed = await run("list");
    expect(listed.code).toBe(0);
    const [header, ...rows] = listed.text.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+CONSUMER\s+EVENT TYPE\s+AGGREGATE ID\s+ATTEMPTS\s+FAILED AT\s+ERROR$/);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toContain(ids[0]);
    expect(rows[0]).toContain("marketing-on-dose-reserved");
    expect(rows[0]).toContain(doseReserved);
    expect(rows[0]).toContain(events[0]?.aggregateId);
    expect(rows[0]).toMatch(/refused x+\.\.\.$/);
    expect(rows[2]).toBe("2 dead letters");

    const json = await run("list", "--json");
    expect(JSON.parse(json.text)).toEqual(await bus.deadLetters.list());

    expect((await run("replay")).code).toBe(2);
    expect((await run("replay", "1", "--all")).code).toBe(2);
    expect((await run("frobnicate")).code).toBe(2);
    const unknown = await run("replay", "424242");
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.text).toContain('could not replay 424242: no dead letter with id "424242"');

    failing = false;
    const replayed = await run("replay", "--all");
    expect(replayed).toEqual({
      code: 0,
      text: `replayed ${ids[0]}\nreplayed ${ids[1]}\n2 replayed, 0 failed\n`,
    });
    await waitFor("both events handled", () => consumer.received.length === 6);
    expect(await run("list")).toEqual({ code: 0, text: "no dead letters\n" });
  });
});
