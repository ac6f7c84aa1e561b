import type { EventContext } from "../../shared/index.ts";
import { Appointment } from "./appointment.ts";
import {
  DEFAULT_RETRY,
  Notification,
  type NotificationState,
  type RetrySchedule,
  retryableFailure,
  type SendResult,
} from "./notification.ts";
import type {
  Appointments,
  NotificationChanges,
  NotificationPosition,
  NotificationReads,
  NotificationSender,
  Notifications,
} from "./ports.ts";
import { checkedSnapshot, type ReservationChange, requirePersonId } from "./reservation-change.ts";
import { changeText, KIND_OF_CHANGE } from "./texts.ts";

export interface NotificationPorts extends EventContext {
  readonly notifications: Notifications;
  readonly appointments: Appointments;
}

/**
 * Policy: a reservation changed (any of reservation's events). The person gets exactly one
 * notification about it, and the appointment's reminder is kept (registered, confirmed) or dropped
 * (rejected, cancelled, vaccinated).
 */
export async function whenReservationChanged(
  ports: NotificationPorts,
  change: ReservationChange,
): Promise<NotificationState> {
  const reservation = checkedSnapshot(change.reservation);
  const checked = { ...change, reservation } as ReservationChange;
  const notification = Notification.compose(
    {
      personId: reservation.personId,
      kind: KIND_OF_CHANGE[change.type],
      reservationId: reservation.reservationId,
      text: changeText(checked),
    },
    ports,
  );
  await ports.notifications.save(notification);
  if (Appointment.concerns(change.type)) {
    const appointment = Appointment.afterChange(
      await ports.appointments.get(reservation.reservationId),
      checked,
    );
    if (appointment) await ports.appointments.save(appointment);
  }
  return notification.state;
}

/**
 * The reminder scheduler's round: every appointment whose day before has come gets its one
 * reminder (or lapses, when its day has already begun). Returns how many appointments it handled.
 */
export async function sendDueReminders(ports: NotificationPorts, batch: { limit: number }): Promise<number> {
  const due = await ports.appointments.dueForReminder(ports.clock.now(), batch.limit);
  for (const appointment of due) {
    const reminder = appointment.remindIfDue(ports);
    await ports.appointments.save(appointment);
    if (reminder) await ports.notifications.save(reminder);
  }
  return due.length;
}

/** The sender's round, first step: claims the notifications due for an attempt. */
export async function claimDueNotifications(
  ports: Pick<NotificationPorts, "notifications" | "clock">,
  batch: { limit: number; leaseMs: number },
): Promise<string[]> {
  return ports.notifications.claimDue(ports.clock.now(), batch.limit, batch.leaseMs);
}

/**
 * Second step, outside any transaction: one attempt to send a claimed notification through the
 * channel. Undefined when it is no longer PENDING. A channel that throws failed retryably.
 */
export async function attemptDelivery(
  ports: { readonly notifications: NotificationReads; readonly sender: NotificationSender },
  claimed: { notificationId: string },
): Promise<SendResult | undefined> {
  const notification = await ports.notifications.get(claimed.notificationId);
  if (notification?.state.delivery !== "PENDING") return undefined;
  try {
    return await ports.sender.send(notification.message);
  } catch (error) {
    return retryableFailure(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Third step: records the attempt's outcome. SENT on delivery; after a retryable failure PENDING
 * again with its next attempt after the schedule's wait, or FAILED once the attempts are used up;
 * FAILED at once after a permanent failure. Undefined when there was nothing to record.
 */
export async function recordDelivery(
  ports: NotificationPorts & { readonly retry?: RetrySchedule | undefined },
  outcome: { notificationId: string; result: SendResult },
): Promise<NotificationState | undefined> {
  const notification = await ports.notifications.get(outcome.notificationId);
  if (!notification?.attempted(outcome.result, ports.retry ?? DEFAULT_RETRY, ports)) return undefined;
  await ports.notifications.save(notification);
  return notification.state;
}

export interface ListNotifications {
  readonly personId: string;
  readonly limit: number;
  readonly after?: NotificationPosition | undefined;
}

/** A person's notifications, newest first: SENT, PENDING and FAILED (dead letters) alike. */
export async function listNotifications(
  ports: { readonly notifications: NotificationReads },
  query: ListNotifications,
): Promise<NotificationState[]> {
  const personId = requirePersonId(query.personId);
  return ports.notifications.ofPerson(personId, { limit: query.limit, after: query.after });
}

/** How many of a person's latest changes a watcher looks at when it may have missed some. */
export const WATCH_LOOKBACK = 100;

/**
 * A person's notifications as they change, from the moment of the call until `signal` aborts: each
 * new notification, and each later change of one (an attempt failed, sent, given up), wherever the
 * change was made. Nothing from before the call (ListNotifications shows those); no state twice.
 */
export async function* watchNotifications(
  ports: { readonly notifications: NotificationReads; readonly changes: NotificationChanges },
  query: { personId: string },
  signal: AbortSignal,
): AsyncGenerator<NotificationState> {
  const personId = requirePersonId(query.personId);
  // What exists before listening is not news; what changes afterwards is. A change landing between
  // this read and the listener's start is found by the look that follows the start.
  const shown = new Map<string, number>();
  for (const known of await ports.notifications.recentlyChanged(personId, WATCH_LOOKBACK)) {
    shown.set(known.notificationId, known.version);
  }
  const listener = await ports.changes.listen(personId, signal);
  try {
    let heard: { readonly notificationIds: readonly string[]; readonly complete: boolean } = {
      notificationIds: [],
      complete: false,
    };
    for (;;) {
      const candidates = heard.complete
        ? await ports.notifications.someOfPerson(personId, heard.notificationIds)
        : (await ports.notifications.recentlyChanged(personId, WATCH_LOOKBACK)).reverse();
      for (const notification of candidates) {
        if (notification.version > (shown.get(notification.notificationId) ?? 0)) {
          shown.set(notification.notificationId, notification.version);
          yield notification;
        }
      }
      heard = await listener.changed();
    }
  } finally {
    listener.close();
  }
}
