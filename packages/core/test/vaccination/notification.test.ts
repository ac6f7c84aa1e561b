import { FixedClock, InvalidArgument } from "@hexa/core/shared";
import {
  Appointment,
  type AppointmentState,
  type Appointments,
  attemptDelivery,
  claimDueNotifications,
  DEFAULT_RETRY,
  DELIVERED,
  exponentialBackoff,
  type HeardChanges,
  listNotifications,
  Notification,
  type NotificationChangeListener,
  type NotificationChanges,
  type NotificationPorts,
  type NotificationPosition,
  type NotificationState,
  type Notifications,
  type OutgoingMessage,
  permanentFailure,
  type ReservationChange,
  type ReservationSnapshot,
  recordDelivery,
  reminderTime,
  retryableFailure,
  type SendResult,
  sendDueReminders,
  watchNotifications,
  whenReservationChanged,
} from "@hexa/core/vaccination/notification";
import { describe, expect, it } from "vitest";
import { SequentialIds } from "../support.ts";

/** Notifications in memory; every save is announced to the listeners of the person. */
class NotificationsInMemory implements Notifications {
  readonly saved = new Map<string, NotificationState>();
  readonly changes = new ChangesInMemory();

  async get(notificationId: string) {
    const state = this.saved.get(notificationId);
    return state ? Notification.restore(state) : undefined;
  }
  async save(notification: Notification) {
    this.saved.set(notification.id, notification.state);
    this.changes.announce(notification.state.personId, notification.id);
  }
  async ofPerson(personId: string, page: { limit: number; after?: NotificationPosition | undefined }) {
    const after = page.after;
    return this.all()
      .filter((n) => n.personId === personId)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || compare(b, a))
      .filter(
        (n) =>
          !after ||
          n.createdAt < after.createdAt ||
          (n.createdAt.getTime() === after.createdAt.getTime() && n.notificationId < after.notificationId),
      )
      .slice(0, page.limit);
  }
  async recentlyChanged(personId: string, limit: number) {
    return this.all()
      .filter((n) => n.personId === personId)
      .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime() || compare(b, a))
      .slice(0, limit);
  }
  async someOfPerson(personId: string, ids: readonly string[]) {
    return ids.flatMap((id) => {
      const state = this.saved.get(id);
      return state?.personId === personId ? [state] : [];
    });
  }
  async claimDue(now: Date, limit: number, leaseMs: number) {
    const due = this.all()
      .filter((n) => n.delivery === "PENDING" && n.nextAttemptAt && n.nextAttemptAt <= now)
      .slice(0, limit);
    for (const n of due) {
      this.saved.set(n.notificationId, { ...n, nextAttemptAt: new Date(now.getTime() + leaseMs) });
    }
    return due.map((n) => n.notificationId);
  }
  all(): NotificationState[] {
    return [...this.saved.values()];
  }
}

const compare = (a: NotificationState, b: NotificationState) =>
  a.notificationId < b.notificationId ? -1 : a.notificationId > b.notificationId ? 1 : 0;

class AppointmentsInMemory implements Appointments {
  readonly saved = new Map<string, AppointmentState>();
  async get(reservationId: string) {
    const state = this.saved.get(reservationId);
    return state ? Appointment.restore(state) : undefined;
  }
  async save(appointment: Appointment) {
    this.saved.set(appointment.id, appointment.state);
  }
  async dueForReminder(now: Date, limit: number) {
    return [...this.saved.values()]
      .filter((a) => a.status === "SCHEDULED" && a.remindAt && a.remindAt <= now)
      .slice(0, limit)
      .map((a) => Appointment.restore(a));
  }
}

/** Listeners per person, in memory; `drop` makes every listener miss what follows until it asks again. */
class ChangesInMemory implements NotificationChanges {
  readonly #listeners = new Set<{
    personId: string;
    heard: string[];
    complete: boolean;
    wake?: () => void;
  }>();
  async listen(personId: string, signal: AbortSignal): Promise<NotificationChangeListener> {
    const entry: { personId: string; heard: string[]; complete: boolean; wake?: () => void } = {
      personId,
      heard: [],
      complete: true,
    };
    this.#listeners.add(entry);
    return {
      changed: () =>
        new Promise<HeardChanges>((resolve, reject) => {
          const take = () => {
            const heard = { notificationIds: [...new Set(entry.heard)], complete: entry.complete };
            entry.heard = [];
            entry.complete = true;
            resolve(heard);
          };
          if (entry.heard.length > 0 || !entry.complete) return take();
          entry.wake = take;
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
      close: () => {
        this.#listeners.delete(entry);
      },
    };
  }
  announce(personId: string, notificationId: string) {
    for (const entry of this.#listeners) {
      if (entry.personId !== personId) continue;
      entry.heard.push(notificationId);
      this.#wake(entry);
    }
  }
  /** Every listener loses what was announced and is told that it may have missed changes. */
  lose() {
    for (const entry of this.#listeners) {
      entry.heard = [];
      entry.complete = false;
      this.#wake(entry);
    }
  }
  get listening(): number {
    return this.#listeners.size;
  }
  #wake(entry: { wake?: () => void }) {
    const wake = entry.wake;
    entry.wake = undefined;
    wake?.();
  }
}

type Ports = NotificationPorts & {
  clock: FixedClock;
  notifications: NotificationsInMemory;
  appointments: AppointmentsInMemory;
};

function newPorts(at = "2026-11-20T10:00:00.000Z"): Ports {
  return {
    clock: new FixedClock(new Date(at)),
    ids: new SequentialIds(),
    notifications: new NotificationsInMemory(),
    appointments: new AppointmentsInMemory(),
  };
}

const RESERVATION: ReservationSnapshot = {
  reservationId: "0190a000-0000-7000-8000-000000000001",
  personId: "person-7",
  hospitalId: "seoul-central",
  vaccineId: "vaccine-a",
  date: "2026-12-01",
  note: "",
};

function change(
  type: Exclude<ReservationChange["type"], "WAITLIST_ALERTED">,
  reservation: Partial<ReservationSnapshot> = {},
): ReservationChange {
  return { type, reservation: { ...RESERVATION, ...reservation } };
}

const alerted = (bookable: number, reservation: Partial<ReservationSnapshot> = {}): ReservationChange => ({
  type: "WAITLIST_ALERTED",
  reservation: { ...RESERVATION, date: "", ...reservation },
  bookable,
});

const HOUR = 3_600_000;
const SECOND = 1_000;

describe("a notification for every change of a reservation", () => {
  const cases: Array<[ReservationChange, NotificationState["kind"], string]> = [
    [
      change("REGISTERED"),
      "RESERVATION_REGISTERED",
      "Your vaccination on 2026-12-01 at hospital seoul-central is booked (vaccine vaccine-a). You will be told once it is confirmed.",
    ],
    [
      change("CONFIRMED"),
      "RESERVATION_CONFIRMED",
      "Your vaccination on 2026-12-01 at hospital seoul-central is confirmed.",
    ],
    [
      change("REJECTED", { note: "The hospital is closed that day." }),
      "RESERVATION_REJECTED",
      "Your vaccination on 2026-12-01 at hospital seoul-central was not accepted by the reservation manager. Note: The hospital is closed that day.",
    ],
    [
      change("VACCINATED"),
      "RESERVATION_VACCINATED",
      "Your vaccination on 2026-12-01 at hospital seoul-central is recorded as done. Thank you for being vaccinated.",
    ],
    [
      change("WAITLIST_JOINED", { date: "" }),
      "WAITLIST_JOINED",
      "You are on the waitlist for vaccine vaccine-a at hospital seoul-central. You will be told when doses can be booked.",
    ],
    [
      alerted(3),
      "WAITLIST_ALERT",
      "Doses of vaccine vaccine-a can be booked again at hospital seoul-central (3 available). Reserve a date to get one: nothing was booked for you.",
    ],
  ];

  it.each(cases.map(([event, kind, text]) => ({ event, kind, text })))(
    "$event.type makes a $kind with a readable text",
    async ({ event, kind, text }) => {
      const ports = newPorts();
      const made = await whenReservationChanged(ports, event);
      expect(made).toEqual({
        notificationId: "00000000-0000-7000-8000-000000000001",
        personId: "person-7",
        kind,
        reservationId: RESERVATION.reservationId,
        text,
        delivery: "PENDING",
        attempts: 0,
        createdAt: ports.clock.now(),
        updatedAt: ports.clock.now(),
        nextAttemptAt: ports.clock.now(),
        version: 1,
      });
      expect(ports.notifications.all()).toEqual([made]);
    },
  );

  it("says who cancelled, and the note", async () => {
    const texts = async (reservation: Partial<ReservationSnapshot>) => {
      const made = await whenReservationChanged(newPorts(), change("CANCELLED", reservation));
      expect(made.kind).toBe("RESERVATION_CANCELLED");
      return made.text;
    };
    const booking = "Your vaccination on 2026-12-01 at hospital seoul-central";
    expect(await texts({ cancelledBy: "PERSON" })).toBe(`${booking} was cancelled at your request.`);
    expect(await texts({ cancelledBy: "MANAGER", note: "Doctor unavailable." })).toBe(
      `${booking} was cancelled by a reservation manager. Note: Doctor unavailable.`,
    );
    expect(await texts({ cancelledBy: "DISCARD" })).toBe(
      `${booking} was cancelled automatically: doses were discarded at the hospital and too few are left.`,
    );
    expect(await texts({ cancelledBy: "HOLD_EXPIRED" })).toBe(
      `${booking} was cancelled automatically: it could not be confirmed in time. Please book again.`,
    );
    expect(await texts({ cancelledBy: undefined })).toBe(`${booking} was cancelled.`);
    const place = "Your place on the waitlist for vaccine vaccine-a at hospital seoul-central";
    expect(await texts({ date: "", cancelledBy: "PERSON" })).toBe(`${place} was cancelled at your request.`);
    expect(await texts({ date: "", cancelledBy: "BOOKED" })).toBe(
      `${place} was closed because you booked a vaccination there.`,
    );
  });

  it("makes exactly one notification per event, each with its own id", async () => {
    const ports = newPorts();
    await whenReservationChanged(ports, change("REGISTERED"));
    await whenReservationChanged(ports, change("CONFIRMED"));
    await whenReservationChanged(ports, change("VACCINATED"));
    expect(ports.notifications.all().map((n) => [n.notificationId, n.kind])).toEqual([
      ["00000000-0000-7000-8000-000000000001", "RESERVATION_REGISTERED"],
      ["00000000-0000-7000-8000-000000000002", "RESERVATION_CONFIRMED"],
      ["00000000-0000-7000-8000-000000000003", "RESERVATION_VACCINATED"],
    ]);
  });

  it("refuses a malformed event, naming the field, and stores nothing", async () => {
    const refused = async (reservation: Partial<ReservationSnapshot>) => {
      const ports = newPorts();
      const error = await whenReservationChanged(ports, change("CONFIRMED", reservation)).catch((e) => e);
      expect(ports.notifications.all()).toEqual([]);
      expect(ports.appointments.saved.size).toBe(0);
      expect(error).toBeInstanceOf(InvalidArgument);
      return (error as InvalidArgument).field;
    };
    expect(await refused({ personId: "" })).toBe("reservation.personId");
    expect(await refused({ personId: "p".repeat(65) })).toBe("reservation.personId");
    expect(await refused({ reservationId: " " })).toBe("reservation.reservationId");
    expect(await refused({ hospitalId: "" })).toBe("reservation.hospitalId");
    expect(await refused({ date: "2026-02-30" })).toBe("reservation.date");
    expect(await refused({ date: "tomorrow" })).toBe("reservation.date");
  });
});

describe("the appointment kept for its reminder", () => {
  const status = (ports: Ports) => ports.appointments.saved.get(RESERVATION.reservationId)?.status;

  it("is kept on registration and confirmation, due at 00:00 UTC of the day before", async () => {
    const ports = newPorts();
    await whenReservationChanged(ports, change("REGISTERED"));
    expect(ports.appointments.saved.get(RESERVATION.reservationId)).toEqual({
      reservationId: RESERVATION.reservationId,
      personId: "person-7",
      hospitalId: "seoul-central",
      vaccineId: "vaccine-a",
      date: "2026-12-01",
      status: "SCHEDULED",
      remindAt: new Date("2026-11-30T00:00:00.000Z"),
    });
    await whenReservationChanged(ports, change("CONFIRMED"));
    expect(status(ports)).toBe("SCHEDULED");
    expect(reminderTime("2026-03-01")).toEqual(new Date("2026-02-28T00:00:00.000Z"));
    expect(reminderTime("2028-03-01")).toEqual(new Date("2028-02-29T00:00:00.000Z"));
  });

  it.each(["REJECTED", "CANCELLED", "VACCINATED"] as const)(
    "is dropped when the reservation is %s",
    async (type) => {
      const ports = newPorts();
      await whenReservationChanged(ports, change("REGISTERED"));
      await whenReservationChanged(ports, change(type));
      expect(status(ports)).toBe("DROPPED");
    },
  );

  it("stays dropped when the drop arrives before the booking (events reordered)", async () => {
    const ports = newPorts();
    await whenReservationChanged(ports, change("CANCELLED", { cancelledBy: "PERSON" }));
    await whenReservationChanged(ports, change("REGISTERED"));
    await whenReservationChanged(ports, change("CONFIRMED"));
    expect(status(ports)).toBe("DROPPED");
  });

  it("is not kept for waitlist events, nor left behind when a waitlist entry closes", async () => {
    const ports = newPorts();
    await whenReservationChanged(ports, change("WAITLIST_JOINED", { date: "" }));
    await whenReservationChanged(ports, alerted(2));
    await whenReservationChanged(ports, change("CANCELLED", { date: "", cancelledBy: "BOOKED" }));
    expect(ports.appointments.saved.size).toBe(0);
  });
});

describe("the reminder the day before", () => {
  const reminders = (ports: Ports) =>
    ports.notifications.all().filter((n) => n.kind === "APPOINTMENT_REMINDER");

  async function booked(at = "2026-11-20T10:00:00.000Z", date = "2026-12-01") {
    const ports = newPorts(at);
    await whenReservationChanged(ports, change("REGISTERED", { date }));
    await whenReservationChanged(ports, change("CONFIRMED", { date }));
    return ports;
  }

  it("goes out once the clock reaches 00:00 UTC of the day before, and only once", async () => {
    const ports = await booked();
    ports.clock.advance(new Date("2026-11-30T00:00:00.000Z").getTime() - ports.clock.now().getTime() - 1);
    expect(await sendDueReminders(ports, { limit: 10 })).toBe(0);
    expect(reminders(ports)).toEqual([]);

    ports.clock.advance(1);
    expect(await sendDueReminders(ports, { limit: 10 })).toBe(1);
    expect(reminders(ports)).toEqual([
      expect.objectContaining({
        personId: "person-7",
        reservationId: RESERVATION.reservationId,
        delivery: "PENDING",
        createdAt: new Date("2026-11-30T00:00:00.000Z"),
        text: "Reminder: your vaccination is tomorrow, 2026-12-01, at hospital seoul-central (vaccine vaccine-a).",
      }),
    ]);
    expect(ports.appointments.saved.get(RESERVATION.reservationId)?.status).toBe("REMINDED");

    ports.clock.advance(HOUR);
    expect(await sendDueReminders(ports, { limit: 10 })).toBe(0);
    // A late confirmation (redelivered, or reordered) does not arm it again.
    await whenReservationChanged(ports, change("CONFIRMED"));
    expect(await sendDueReminders(ports, { limit: 10 })).toBe(0);
    expect(reminders(ports)).toHaveLength(1);
  });

  it("goes out when the scheduler first runs later that day", async () => {
    const ports = await booked();
    ports.clock.advance(new Date("2026-11-30T23:59:59.000Z").getTime() - ports.clock.now().getTime());
    await sendDueReminders(ports, { limit: 10 });
    expect(reminders(ports)).toHaveLength(1);
  });

  it("goes out at once for a booking made on the day before", async () => {
    const ports = await booked("2026-11-30T15:00:00.000Z");
    await sendDueReminders(ports, { limit: 10 });
    expect(reminders(ports)).toHaveLength(1);
  });

  it("never goes out for a dropped appointment", async () => {
    for (const type of ["REJECTED", "CANCELLED", "VACCINATED"] as const) {
      const ports = await booked();
      await whenReservationChanged(ports, change(type));
      ports.clock.advance(10 * 24 * HOUR);
      expect(await sendDueReminders(ports, { limit: 10 })).toBe(0);
      expect(reminders(ports)).toEqual([]);
    }
  });

  it("lapses without a reminder once the appointment's day has begun", async () => {
    const sameDay = await booked("2026-12-01T07:00:00.000Z");
    expect(await sendDueReminders(sameDay, { limit: 10 })).toBe(1);
    expect(reminders(sameDay)).toEqual([]);
    expect(sameDay.appointments.saved.get(RESERVATION.reservationId)?.status).toBe("LAPSED");
    sameDay.clock.advance(HOUR);
    expect(await sendDueReminders(sameDay, { limit: 10 })).toBe(0);
  });

  it("works through due appointments a batch at a time", async () => {
    const ports = newPorts();
    for (let n = 1; n <= 5; n++) {
      await whenReservationChanged(
        ports,
        change("REGISTERED", { reservationId: `0190a000-0000-7000-8000-00000000010${n}` }),
      );
    }
    ports.clock.advance(new Date("2026-11-30T00:00:00.000Z").getTime() - ports.clock.now().getTime());
    expect(await sendDueReminders(ports, { limit: 2 })).toBe(2);
    expect(await sendDueReminders(ports, { limit: 2 })).toBe(2);
    expect(await sendDueReminders(ports, { limit: 2 })).toBe(1);
    expect(await sendDueReminders(ports, { limit: 2 })).toBe(0);
    expect(reminders(ports)).toHaveLength(5);
  });
});

/** A channel that answers from a script, then delivers; it remembers what it was given. */
class ScriptedSender {
  readonly sent: OutgoingMessage[] = [];
  readonly #script: Array<SendResult | Error>;
  constructor(...script: Array<SendResult | Error>) {
    this.#script = script;
  }
  async send(message: OutgoingMessage): Promise<SendResult> {
    this.sent.push(message);
    const next = this.#script.shift() ?? DELIVERED;
    if (next instanceof Error) throw next;
    return next;
  }
}

describe("sending", () => {
  const retry = exponentialBackoff({ maxAttempts: 4, firstMs: SECOND, maxMs: 60 * SECOND });

  /** One round of the sending job, as the adapters run it: claim, attempt, record. */
  async function round(ports: Ports, sender: ScriptedSender): Promise<number> {
    const claimed = await claimDueNotifications(ports, { limit: 10, leaseMs: 60 * SECOND });
    for (const notificationId of claimed) {
      const result = await attemptDelivery({ ...ports, sender }, { notificationId });
      if (result) await recordDelivery({ ...ports, retry }, { notificationId, result });
    }
    return claimed.length;
  }

  async function pending() {
    const ports = newPorts();
    const made = await whenReservationChanged(ports, change("CONFIRMED"));
    const state = () => ports.notifications.saved.get(made.notificationId);
    return { ports, made, state };
  }

  it("sends a PENDING notification: SENT, with sent_at, after one attempt", async () => {
    const { ports, made, state } = await pending();
    const sender = new ScriptedSender();
    ports.clock.advance(SECOND);
    expect(await round(ports, sender)).toBe(1);
    expect(sender.sent).toEqual([
      {
        notificationId: made.notificationId,
        personId: "person-7",
        kind: "RESERVATION_CONFIRMED",
        reservationId: RESERVATION.reservationId,
        text: made.text,
        createdAt: made.createdAt,
      },
    ]);
    expect(state()).toMatchObject({
      delivery: "SENT",
      attempts: 1,
      sentAt: ports.clock.now(),
      nextAttemptAt: undefined,
      version: 2,
    });
    expect(await round(ports, sender)).toBe(0);
  });

  it("retries after 1 s, 2 s, 4 s, then gives up: FAILED, a dead letter kept with its error", async () => {
    const { ports, state } = await pending();
    const sender = new ScriptedSender(
      retryableFailure("HTTP 503"),
      retryableFailure("HTTP 503"),
      new Error("connection refused"),
      retryableFailure("timed out"),
    );
    const start = ports.clock.now().getTime();
    await round(ports, sender);
    expect(state()).toMatchObject({ delivery: "PENDING", attempts: 1, lastError: "HTTP 503" });
    expect(state()?.nextAttemptAt?.getTime()).toBe(start + SECOND);

    ports.clock.advance(SECOND - 1);
    expect(await round(ports, sender)).toBe(0);
    ports.clock.advance(1);
    await round(ports, sender);
    expect(state()).toMatchObject({ delivery: "PENDING", attempts: 2 });
    expect(state()?.nextAttemptAt?.getTime()).toBe(start + 3 * SECOND);

    ports.clock.advance(2 * SECOND);
    await round(ports, sender);
    expect(state()).toMatchObject({ delivery: "PENDING", attempts: 3, lastError: "connection refused" });
    expect(state()?.nextAttemptAt?.getTime()).toBe(start + 7 * SECOND);

    ports.clock.advance(4 * SECOND);
    await round(ports, sender);
    expect(state()).toMatchObject({ delivery: "FAILED", attempts: 4, lastError: "timed out" });
    expect(state()?.nextAttemptAt).toBeUndefined();
    expect(state()?.sentAt).toBeUndefined();

    ports.clock.advance(HOUR);
    expect(await round(ports, sender)).toBe(0);
    expect(sender.sent).toHaveLength(4);
  });

  it("delivers on a later attempt after retryable failures", async () => {
    const { ports, state } = await pending();
    const sender = new ScriptedSender(retryableFailure("HTTP 503"), retryableFailure("HTTP 503"));
    for (let n = 0; n < 3; n++) {
      await round(ports, sender);
      ports.clock.advance(10 * SECOND);
    }
    expect(state()).toMatchObject({ delivery: "SENT", attempts: 3 });
  });

  it("gives up at once on a permanent failure", async () => {
    const { ports, state } = await pending();
    const sender = new ScriptedSender(permanentFailure("HTTP 400"));
    await round(ports, sender);
    expect(state()).toMatchObject({ delivery: "FAILED", attempts: 1, lastError: "HTTP 400" });
    ports.clock.advance(HOUR);
    expect(await round(ports, sender)).toBe(0);
    expect(sender.sent).toHaveLength(1);
  });

  it("records an outcome once: a late second outcome for a SENT notification changes nothing", async () => {
    const { ports, made, state } = await pending();
    await recordDelivery(ports, { notificationId: made.notificationId, result: DELIVERED });
    const sent = state();
    expect(
      await recordDelivery(ports, { notificationId: made.notificationId, result: permanentFailure("late") }),
    ).toBeUndefined();
    expect(state()).toEqual(sent);
    expect(
      await attemptDelivery(
        { ...ports, sender: new ScriptedSender() },
        { notificationId: made.notificationId },
      ),
    ).toBeUndefined();
  });

  it("does not claim a notification another replica holds until its lease ends", async () => {
    const { ports } = await pending();
    expect(await claimDueNotifications(ports, { limit: 10, leaseMs: 30 * SECOND })).toHaveLength(1);
    expect(await claimDueNotifications(ports, { limit: 10, leaseMs: 30 * SECOND })).toHaveLength(0);
    ports.clock.advance(30 * SECOND);
    expect(await claimDueNotifications(ports, { limit: 10, leaseMs: 30 * SECOND })).toHaveLength(1);
  });

  it("backs off by doubling, up to the ceiling", () => {
    const schedule = exponentialBackoff({ maxAttempts: 10, firstMs: 1_000, maxMs: 5_000 });
    expect([1, 2, 3, 4, 5].map((n) => schedule.delayMs(n))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(DEFAULT_RETRY.maxAttempts).toBe(8);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => DEFAULT_RETRY.delayMs(n))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000,
    ]);
  });
});

describe("ListNotifications", () => {
  it("lists a person's notifications newest first, a page at a time", async () => {
    const ports = newPorts();
    await whenReservationChanged(ports, change("REGISTERED"));
    ports.clock.advance(SECOND);
    await whenReservationChanged(ports, change("CONFIRMED"));
    ports.clock.advance(SECOND);
    await whenReservationChanged(ports, change("REGISTERED", { personId: "someone-else" }));
    ports.clock.advance(SECOND);
    await whenReservationChanged(ports, change("VACCINATED"));

    const first = await listNotifications(ports, { personId: "person-7", limit: 2 });
    expect(first.map((n) => n.kind)).toEqual(["RESERVATION_VACCINATED", "RESERVATION_CONFIRMED"]);
    const last = first.at(-1) as NotificationState;
    const second = await listNotifications(ports, {
      personId: "person-7",
      limit: 2,
      after: { createdAt: last.createdAt, notificationId: last.notificationId },
    });
    expect(second.map((n) => n.kind)).toEqual(["RESERVATION_REGISTERED"]);
  });

  it("requires a person id of 1 to 64 characters", async () => {
    for (const personId of ["", "   ", "p".repeat(65)]) {
      const error = await listNotifications(newPorts(), { personId, limit: 20 }).catch((e) => e);
      expect(error).toBeInstanceOf(InvalidArgument);
      expect((error as InvalidArgument).field).toBe("personId");
    }
  });
});

describe("WatchNotifications", () => {
  function watching(ports: Ports, personId = "person-7") {
    const abort = new AbortController();
    const stream = watchNotifications(
      { notifications: ports.notifications, changes: ports.notifications.changes },
      { personId },
      abort.signal,
    );
    return {
      next: async () => (await stream.next()).value as NotificationState,
      stop: async () => {
        abort.abort();
        await stream.return(undefined);
      },
    };
  }

  it("sends each new notification and each later change of one, not what came before", async () => {
    const ports = newPorts();
    await whenReservationChanged(ports, change("REGISTERED"));
    const watch = watching(ports);
    const first = watch.next();
    await new Promise((resolve) => setImmediate(resolve));
    const confirmed = await whenReservationChanged(ports, change("CONFIRMED"));
    expect(await first).toMatchObject({ kind: "RESERVATION_CONFIRMED", delivery: "PENDING", version: 1 });

    const next = watch.next();
    await recordDelivery(ports, { notificationId: confirmed.notificationId, result: DELIVERED });
    expect(await next).toMatchObject({
      notificationId: confirmed.notificationId,
      delivery: "SENT",
      version: 2,
    });
    await watch.stop();
    expect(ports.notifications.changes.listening).toBe(0);
  });

  it("shows only the person's own notifications", async () => {
    const ports = newPorts();
    const watch = watching(ports, "person-7");
    const next = watch.next();
    await new Promise((resolve) => setImmediate(resolve));
    await whenReservationChanged(ports, change("REGISTERED", { personId: "someone-else" }));
    await whenReservationChanged(ports, change("CONFIRMED"));
    expect(await next).toMatchObject({ personId: "person-7", kind: "RESERVATION_CONFIRMED" });
    await watch.stop();
  });

  it("looks again after changes may have gone unheard, and shows no state twice", async () => {
    const ports = newPorts();
    const watch = watching(ports);
    const first = watch.next();
    await new Promise((resolve) => setImmediate(resolve));
    const registered = await whenReservationChanged(ports, change("REGISTERED"));
    expect(await first).toMatchObject({ notificationId: registered.notificationId, version: 1 });

    // Unheard: the listener lost these changes and only learns that it may have missed some.
    ports.notifications.changes.lose();
    ports.clock.advance(SECOND);
    const confirmed = await whenReservationChanged(ports, change("CONFIRMED"));
    ports.notifications.changes.lose();
    expect(await watch.next()).toMatchObject({ notificationId: confirmed.notificationId, version: 1 });

    const next = watch.next();
    ports.clock.advance(SECOND);
    await recordDelivery(ports, { notificationId: registered.notificationId, result: DELIVERED });
    expect(await next).toMatchObject({ notificationId: registered.notificationId, version: 2 });
    await watch.stop();
  });

  it("refuses a missing or too long person id before listening", async () => {
    const ports = newPorts();
    for (const personId of ["", "p".repeat(65)]) {
      const error = await watching(ports, personId)
        .next()
        .catch((e) => e);
      expect(error).toBeInstanceOf(InvalidArgument);
      expect((error as InvalidArgument).field).toBe("personId");
    }
    expect(ports.notifications.changes.listening).toBe(0);
  });
});
