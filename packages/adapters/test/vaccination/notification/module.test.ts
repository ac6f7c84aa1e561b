/**
 * Reservation's events, through the embedded bus, become stored notifications that the sending job
 * delivers; people read theirs with ListNotifications over Connect JSON.
 */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import {
  DeliveryState,
  NotificationKind,
  type Notification as NotificationView,
} from "@hexa/proto/vaccination/notification/v1/notification_pb";
import { CancellationReason } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { eventually } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  aReservation,
  eventsOf,
  type NotificationHarness,
  type NotificationReplica,
  refusal,
  startNotification,
} from "./support.ts";

let harness: NotificationHarness;
let replica: NotificationReplica;
beforeAll(async () => {
  harness = await startNotification();
  replica = await harness.startReplica();
});
afterAll(async () => {
  await harness?.stop();
});

async function listAll(personId: string, pageSize = 0): Promise<NotificationView[]> {
  return (await replica.client.listNotifications({ personId, pageSize })).notifications;
}

describe("a notification for every reservation event", () => {
  it("stores one notification per event, with its kind and text, and sends it", async () => {
    const reservation = aReservation();
    const personId = reservation.personId;
    const e = eventsOf(reservation);
    const story = [
      [e.registered(), NotificationKind.RESERVATION_REGISTERED, "is booked (vaccine vaccine-a)"],
      [e.confirmed(), NotificationKind.RESERVATION_CONFIRMED, "is confirmed."],
      [e.vaccinated(), NotificationKind.RESERVATION_VACCINATED, "is recorded as done."],
    ] as const;
    for (const [event] of story) await replica.publish(event);

    const views = await eventually(async () => {
      const listed = await listAll(personId);
      expect(listed.map((n) => n.delivery)).toEqual([
        DeliveryState.SENT,
        DeliveryState.SENT,
        DeliveryState.SENT,
      ]);
      return listed;
    });
    // Newest first.
    expect(views.map((n) => n.kind)).toEqual(story.map(([, kind]) => kind).reverse());
    for (const [index, [, , words]] of [...story].reverse().entries()) {
      const view = views[index];
      expect(view?.text).toContain(`Your vaccination on 2026-12-01 at hospital seoul-central ${words}`);
      expect(view).toMatchObject({ personId, reservationId: reservation.reservationId, attempts: 1 });
      expect(view?.sentAt).toBeDefined();
      expect(view?.createdAt).toBeDefined();
    }
    const sent = replica.sent.filter((message) => message.personId === personId);
    expect(sent.map((message) => message.notificationId).sort()).toEqual(
      views.map((view) => view.notificationId).sort(),
    );
  });

  it("covers the waitlist, rejections and cancellations, saying who cancelled and the note", async () => {
    const personId = `person-${randomUUID().slice(0, 8)}`;
    const waitlisted = eventsOf(aReservation({ personId, date: "" }));
    const rejected = eventsOf(aReservation({ personId }));
    const cancelled = eventsOf(aReservation({ personId }));
    await replica.publish(waitlisted.waitlistJoined());
    await replica.publish(waitlisted.waitlistAlerted(4));
    await replica.publish(rejected.rejected("No doctor on that day."));
    await replica.publish(cancelled.cancelled(CancellationReason.MANAGER, "Hospital closed for repairs."));

    const texts = (await listAll(personId)).map((n) => [n.kind, n.text]).reverse();
    expect(texts).toEqual([
      [
        NotificationKind.WAITLIST_JOINED,
        "You are on the waitlist for vaccine vaccine-a at hospital seoul-central. You will be told when doses can be booked.",
      ],
      [
        NotificationKind.WAITLIST_ALERT,
        "Doses of vaccine vaccine-a can be booked again at hospital seoul-central (4 available). Reserve a date to get one: nothing was booked for you.",
      ],
      [
        NotificationKind.RESERVATION_REJECTED,
        "Your vaccination on 2026-12-01 at hospital seoul-central was not accepted by the reservation manager. Note: No doctor on that day.",
      ],
      [
        NotificationKind.RESERVATION_CANCELLED,
        "Your vaccination on 2026-12-01 at hospital seoul-central was cancelled by a reservation manager. Note: Hospital closed for repairs.",
      ],
    ]);
  });

  it("has no second effect for a redelivered event", async () => {
    const reservation = aReservation();
    const registered = eventsOf(reservation).registered();
    await replica.publish(registered);
    await replica.publish(registered);
    await replica.publish(registered);
    expect(await harness.rows(reservation.personId)).toHaveLength(1);
    expect(await listAll(reservation.personId)).toHaveLength(1);
  });

  it("dead-letters an event without a reservation, and writes nothing", async () => {
    const before = await harness.rowCounts();
    const malformed = eventsOf(aReservation()).confirmed();
    const event = { ...malformed, payload: "{}" };
    await replica.publish(event);
    expect(await replica.deadLetters()).toContainEqual({
      consumer: "notification-reservation-confirmed",
      eventId: event.id,
      error: expect.stringContaining("reservation: is required"),
    });
    expect(await harness.rowCounts()).toEqual(before);
  });
});

describe("ListNotifications", () => {
  it("pages through a person's notifications, newest first, with page tokens", async () => {
    const personId = `person-${randomUUID().slice(0, 8)}`;
    for (let n = 0; n < 5; n++) await replica.publish(eventsOf(aReservation({ personId })).registered());
    await replica.publish(eventsOf(aReservation()).registered()); // someone else's

    const all = await listAll(personId);
    expect(all).toHaveLength(5);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await replica.client.listNotifications({ personId, pageSize: 2, pageToken });
      expect(page.notifications.length).toBeLessThanOrEqual(2);
      seen.push(...page.notifications.map((n) => n.notificationId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toEqual(all.map((n) => n.notificationId));
    const created = all.map((n) => Number(n.createdAt?.seconds) * 1e9 + (n.createdAt?.nanos ?? 0));
    expect(created).toEqual([...created].sort((a, b) => b - a));
  });

  it("answers an empty list for a person without notifications", async () => {
    expect(await replica.client.listNotifications({ personId: "nobody-here" })).toMatchObject({
      notifications: [],
      nextPageToken: "",
    });
  });

  it("refuses bad input, naming the field, and writes nothing", async () => {
    const before = await harness.rowCounts();
    const cases = [
      [{ personId: "" }, "personId"],
      [{ personId: "   " }, "personId"],
      [{ personId: "p".repeat(65) }, "personId"],
      [{ personId: "person-1", pageSize: 101 }, "pageSize"],
      [{ personId: "person-1", pageSize: -1 }, "pageSize"],
      [{ personId: "person-1", pageToken: "not-a-token" }, "pageToken"],
      [
        { personId: "person-1", pageToken: Buffer.from('{"createdAt":"x"}').toString("base64url") },
        "pageToken",
      ],
    ] as const;
    for (const [request, field] of cases) {
      const error = await refusal(replica.client.listNotifications(request));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage.startsWith(`${field}:`)).toBe(true);
    }
    expect(await harness.rowCounts()).toEqual(before);
  });
});

describe("WatchNotifications", () => {
  it("refuses a missing or too long person id, and writes nothing", async () => {
    const before = await harness.rowCounts();
    for (const personId of ["", "p".repeat(65)]) {
      const error = await refusal(
        (async () => {
          for await (const _ of replica.client.watchNotifications({ personId })) break;
        })(),
      );
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toMatch(/^personId: /);
    }
    expect(await harness.rowCounts()).toEqual(before);
  });
});
