/**
 * The channels: the webhook against a local HTTP receiver (delivery, retries with backoff, permanent
 * refusals, timeouts, an unreachable receiver), the log channel, and their configuration.
 */
import { Writable } from "node:stream";
import { ConfigurationError, readEnvironment } from "@hexa/adapters/runtime/config";
import {
  channelFromEnvironment,
  LogSender,
  WebhookSender,
} from "@hexa/adapters/vaccination/notification/channels";
import type { OutgoingMessage } from "@hexa/core/vaccination/notification";
import { DeliveryState } from "@hexa/proto/vaccination/notification/v1/notification_pb";
import { eventually, freePort, startApp } from "@hexa/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  aReservation,
  eventsOf,
  type NotificationHarness,
  type NotificationReplica,
  Receiver,
  startNotification,
} from "./support.ts";

const TIMEOUT_MS = 300;
/** The harness's retry schedule (FAST): 4 attempts, waits of 50, 100, 200 ms. */
const WAITS = [50, 100, 200];

describe("the webhook channel, through the sending job", () => {
  let receiver: Receiver;
  let harness: NotificationHarness;
  let replica: NotificationReplica;
  beforeAll(async () => {
    receiver = new Receiver();
    const url = await receiver.start();
    harness = await startNotification();
    replica = await harness.startReplica({
      module: { channel: { kind: "webhook", url, timeoutMs: TIMEOUT_MS } },
    });
  });
  afterAll(async () => {
    await harness?.stop();
    await receiver?.stop();
  });

  async function notified(script: Array<number | "hang"> = []) {
    const reservation = aReservation();
    const personId = reservation.personId;
    receiver.script(personId, script);
    await replica.publish(eventsOf(reservation).confirmed());
    const [row] = await harness.rows(personId);
    if (!row) throw new Error("no notification stored");
    return { personId, reservation, row };
  }

  const settled = (personId: string) =>
    eventually(async () => {
      const [view] = (await replica.client.listNotifications({ personId })).notifications;
      expect(view?.delivery).not.toBe(DeliveryState.PENDING);
      return view;
    });

  it("POSTs the message as JSON; a 200 answer makes it SENT", async () => {
    const { personId, reservation, row } = await notified();
    const view = await settled(personId);
    expect(view).toMatchObject({ delivery: DeliveryState.SENT, attempts: 1 });
    const [request] = receiver.of(personId);
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers["idempotency-key"]).toBe(row.notification_id);
    expect(request?.body).toEqual({
      notificationId: row.notification_id,
      personId,
      kind: "NOTIFICATION_KIND_RESERVATION_CONFIRMED",
      reservationId: reservation.reservationId,
      text: "Your vaccination on 2026-12-01 at hospital seoul-central is confirmed.",
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  it("retries after 503 twice, with growing waits, and delivers on the third attempt", async () => {
    const { personId } = await notified([503, 503]);
    const view = await settled(personId);
    expect(view).toMatchObject({ delivery: DeliveryState.SENT, attempts: 3 });
    const requests = receiver.of(personId);
    expect(requests.map((request) => request.body.notificationId)).toEqual(
      Array(3).fill(view?.notificationId),
    );
    const [first, second, third] = requests.map((request) => request.at);
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual((WAITS[0] ?? 0) - 5);
    expect((third ?? 0) - (second ?? 0)).toBeGreaterThanOrEqual((WAITS[1] ?? 0) - 5);
  });

  it("gives up at once on a 400: FAILED, kept and listed, never tried again", async () => {
    const { personId } = await notified([400]);
    const view = await settled(personId);
    expect(view).toMatchObject({ delivery: DeliveryState.FAILED, attempts: 1 });
    expect(view?.sentAt).toBeUndefined();
    const [row] = await harness.rows(personId);
    expect(row?.last_error).toBe("webhook answered HTTP 400: status 400");
    await new Promise((resolve) => setTimeout(resolve, 4 * (WAITS.at(-1) ?? 0)));
    expect(receiver.of(personId)).toHaveLength(1);
  });

  it("gives up after the last attempt when every answer is a 5xx: FAILED with the last error", async () => {
    const { personId } = await notified([500, 502, 503, 504, 500]);
    const view = await settled(personId);
    expect(view).toMatchObject({ delivery: DeliveryState.FAILED, attempts: 4 });
    expect((await harness.rows(personId))[0]?.last_error).toBe("webhook answered HTTP 504: status 504");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.of(personId)).toHaveLength(4);
  });

  it("counts no answer within the timeout as a retryable failure", async () => {
    const { personId } = await notified(["hang"]);
    const view = await settled(personId);
    expect(view).toMatchObject({ delivery: DeliveryState.SENT, attempts: 2 });
    const [first, second] = receiver.of(personId).map((request) => request.at);
    // The timeout runs from the request's start, a little before it arrives: the wait is at least that.
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(TIMEOUT_MS);
  });
});

describe("an unreachable webhook", () => {
  let harness: NotificationHarness;
  let replica: NotificationReplica;
  beforeAll(async () => {
    harness = await startNotification();
    const url = `http://127.0.0.1:${await freePort()}/hook`; // nothing listens there
    replica = await harness.startReplica({
      module: { channel: { kind: "webhook", url, timeoutMs: TIMEOUT_MS } },
    });
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it("is retried as often as the schedule allows, then the notification is FAILED", async () => {
    const reservation = aReservation();
    await replica.publish(eventsOf(reservation).registered());
    const row = await eventually(async () => {
      const [stored] = await harness.rows(reservation.personId);
      expect(stored?.delivery).toBe("FAILED");
      return stored;
    });
    expect(row).toMatchObject({ attempts: 4, sent_at: null });
    expect(row?.last_error).toMatch(/^webhook unreachable: /);
  });
});

describe("the webhook sender on its own", () => {
  const message: OutgoingMessage = {
    notificationId: "0190a000-0000-7000-8000-000000000001",
    personId: "person-7",
    kind: "APPOINTMENT_REMINDER",
    reservationId: "0190a000-0000-7000-8000-000000000002",
    text: "Reminder: your vaccination is tomorrow.",
    createdAt: new Date("2026-11-30T00:00:00.000Z"),
  };

  it("tells delivered, retryable and permanent answers apart", async () => {
    const receiver = new Receiver();
    const url = await receiver.start();
    try {
      receiver.script("person-7", [204, 503, 408, 429, 404, 409, 302]);
      const sender = new WebhookSender({ url, timeoutMs: TIMEOUT_MS });
      const outcomes = [];
      for (let n = 0; n < 7; n++) outcomes.push(await sender.send(message));
      expect(outcomes.map((o) => (o.delivered ? "delivered" : o.retryable ? "retry" : "permanent"))).toEqual([
        "delivered",
        "retry",
        "retry",
        "retry",
        "permanent",
        "permanent",
        "permanent",
      ]);
      expect(receiver.of("person-7")[0]?.body.kind).toBe("NOTIFICATION_KIND_APPOINTMENT_REMINDER");
    } finally {
      await receiver.stop();
    }
  });
});

describe("the log channel", () => {
  it("writes each message as one JSON line and counts it sent", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const sender = new LogSender(pino({ level: "info" }, sink));
    const result = await sender.send({
      notificationId: "0190a000-0000-7000-8000-000000000001",
      personId: "person-7",
      kind: "RESERVATION_CONFIRMED",
      reservationId: "0190a000-0000-7000-8000-000000000002",
      text: "Your vaccination on 2026-12-01 at hospital seoul-central is confirmed.",
      createdAt: new Date("2026-11-20T10:00:00.000Z"),
    });
    expect(result).toEqual({ delivered: true });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({
      level: 30,
      channel: "log",
      msg: "notification sent",
      notification: {
        notificationId: "0190a000-0000-7000-8000-000000000001",
        personId: "person-7",
        kind: "NOTIFICATION_KIND_RESERVATION_CONFIRMED",
        text: "Your vaccination on 2026-12-01 at hospital seoul-central is confirmed.",
        createdAt: "2026-11-20T10:00:00.000Z",
      },
    });
  });
});

describe("configuration", () => {
  const problems = (env: Record<string, string>) => {
    try {
      readEnvironment(env);
      return "";
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      return (error as Error).message;
    }
  };

  it("sends to the log by default", () => {
    const env = readEnvironment({});
    expect(env.NOTIFICATION_CHANNEL).toBe("log");
    expect(channelFromEnvironment(env)).toEqual({ kind: "log" });
  });

  it("sends to the webhook NOTIFICATION_WEBHOOK_URL names", () => {
    const env = readEnvironment({
      NOTIFICATION_CHANNEL: "webhook",
      NOTIFICATION_WEBHOOK_URL: "https://messenger.example/hooks/kakao",
    });
    expect(channelFromEnvironment(env)).toEqual({
      kind: "webhook",
      url: "https://messenger.example/hooks/kakao",
    });
  });

  it("names a missing or bad webhook URL, and a bad channel, without showing the URL", () => {
    expect(problems({ NOTIFICATION_CHANNEL: "webhook" })).toContain(
      "NOTIFICATION_WEBHOOK_URL: required when NOTIFICATION_CHANNEL is webhook",
    );
    // Every problem at once, even when another variable is bad too.
    const both = problems({ NOTIFICATION_CHANNEL: "webhook", PORT: "eighty" });
    expect(both).toContain("NOTIFICATION_WEBHOOK_URL: required");
    expect(both).toContain("PORT: ");
    const bad = problems({
      NOTIFICATION_CHANNEL: "webhook",
      NOTIFICATION_WEBHOOK_URL: "ftp://secret@host/x",
    });
    expect(bad).toContain("NOTIFICATION_WEBHOOK_URL: must be an http(s) URL");
    expect(bad).not.toContain("secret");
    expect(problems({ NOTIFICATION_CHANNEL: "sms" })).toContain("NOTIFICATION_CHANNEL: ");
  });

  it("stops the notification service at start with exit code 2, naming the variable", async () => {
    const failure = await startApp(
      "notification",
      { PORT: String(await freePort()), NOTIFICATION_CHANNEL: "webhook" },
      10_000,
    ).then(
      () => "started",
      (error: unknown) => String(error),
    );
    expect(failure).toContain("exited with 2");
    expect(failure).toContain("NOTIFICATION_WEBHOOK_URL: required when NOTIFICATION_CHANNEL is webhook");
  });
});
