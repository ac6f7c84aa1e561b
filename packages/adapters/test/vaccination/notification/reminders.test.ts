/**
 * The reminder the day before the appointment, with two replicas on one database (each running the
 * scheduler every 20 ms), across a restart: one reminder per kept appointment, never for a dropped
 * one, never a second.
 */
import { NotificationKind } from "@hexa/proto/vaccination/notification/v1/notification_pb";
import { CancellationReason } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { eventually, query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  aReservation,
  eventsOf,
  type NotificationHarness,
  type NotificationReplica,
  startNotification,
  TravelClock,
} from "./support.ts";

const DAY = "2026-12-01";
const DAY_BEFORE = new Date("2026-11-30T00:00:00.000Z");

let harness: NotificationHarness;
const clock = new TravelClock();
beforeAll(async () => {
  harness = await startNotification();
});
afterAll(async () => {
  await harness?.stop();
});

/** Lets both replicas' schedulers run a good number of rounds. */
const rounds = () => new Promise((resolve) => setTimeout(resolve, 300));

async function reminders(): Promise<Array<{ reservation_id: string; person_id: string; text: string }>> {
  return query(
    harness.databaseUrl,
    `select reservation_id, person_id, text from vaccination_notification.notification
      where kind = 'APPOINTMENT_REMINDER' order by reservation_id`,
  );
}

describe("the reminder the day before", () => {
  let first: NotificationReplica;
  let second: NotificationReplica;
  const kept = [aReservation({ date: DAY }), aReservation({ date: DAY }), aReservation({ date: DAY })];
  const dropped = [aReservation({ date: DAY }), aReservation({ date: DAY }), aReservation({ date: DAY })];
  const later = aReservation({ date: "2026-12-05" });

  beforeAll(async () => {
    clock.travelTo(new Date("2026-11-20T09:00:00.000Z"));
    first = await harness.startReplica({ clock });
    second = await harness.startReplica({ clock });
  });

  it("is not sent before 00:00 UTC of the day before", async () => {
    // Events reach one replica or the other, as the bus spreads them.
    for (const [n, reservation] of kept.entries()) {
      const e = eventsOf(reservation);
      await (n % 2 ? first : second).publish(e.registered());
      await (n % 2 ? second : first).publish(e.confirmed());
    }
    const [rejected, cancelled, vaccinated] = dropped.map(eventsOf);
    await first.publish(rejected?.registered() ?? fail());
    await second.publish(rejected?.rejected("No doctor that day.") ?? fail());
    await second.publish(cancelled?.registered() ?? fail());
    await first.publish(cancelled?.cancelled(CancellationReason.PERSON) ?? fail());
    // A cancellation that overtakes its registration still wins.
    await first.publish(vaccinated?.vaccinated() ?? fail());
    await second.publish(vaccinated?.registered() ?? fail());
    await first.publish(eventsOf(later).registered());

    clock.travelTo(new Date(DAY_BEFORE.getTime() - 2_000));
    await rounds();
    expect(await reminders()).toEqual([]);
  });

  it("is sent once per kept appointment when the day before begins, whichever replica gets there", async () => {
    clock.travelTo(DAY_BEFORE);
    const expected = kept
      .map((reservation) => ({
        reservation_id: reservation.reservationId,
        person_id: reservation.personId,
        text: `Reminder: your vaccination is tomorrow, ${DAY}, at hospital seoul-central (vaccine vaccine-a).`,
      }))
      .sort((a, b) => String(a.reservation_id).localeCompare(String(b.reservation_id)));
    await eventually(async () => expect(await reminders()).toEqual(expected));
    await rounds();
    expect(await reminders()).toEqual(expected);

    // The person reads it (and it was sent) like any other notification.
    const personId = kept[0]?.personId ?? "";
    const listed = await eventually(async () => {
      const [newest] = (await second.client.listNotifications({ personId })).notifications;
      expect(newest?.sentAt).toBeDefined();
      return newest;
    });
    expect(listed?.kind).toBe(NotificationKind.APPOINTMENT_REMINDER);
    const sent = [...first.sent, ...second.sent].filter(
      (message) => message.personId === personId && message.kind === "APPOINTMENT_REMINDER",
    );
    expect(sent).toHaveLength(1);
  });

  it("is not sent again after a restart of every replica, and a later one still fires once", async () => {
    await first.stop();
    await second.stop();
    first = await harness.startReplica({ clock });
    await rounds();
    expect(await reminders()).toHaveLength(3);

    second = await harness.startReplica({ clock });
    clock.travelTo(new Date("2026-12-04T00:00:00.000Z"));
    await eventually(async () => {
      expect((await reminders()).map((reminder) => reminder.reservation_id)).toContain(later.reservationId);
    });
    await rounds();
    const all = await reminders();
    expect(all).toHaveLength(4);
    for (const reservation of dropped) {
      expect(all.map((reminder) => reminder.reservation_id)).not.toContain(reservation.reservationId);
    }
    const statuses = await query<{ status: string; n: number }>(
      harness.databaseUrl,
      "select status, count(*)::int as n from vaccination_notification.appointment group by status order by status",
    );
    expect(statuses).toEqual([
      { status: "DROPPED", n: 3 },
      { status: "REMINDED", n: 4 },
    ]);
  });
});

function fail(): never {
  throw new Error("missing test data");
}
