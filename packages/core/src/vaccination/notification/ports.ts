import type { Appointment } from "./appointment.ts";
import type { Notification, NotificationState, OutgoingMessage, SendResult } from "./notification.ts";

/** Where a listing of a person's notifications stands: the last one already shown (newest first). */
export interface NotificationPosition {
  readonly createdAt: Date;
  readonly notificationId: string;
}

/** The notifications kept for people. */
export interface Notifications extends NotificationReads {
  /** Stores it, and lets the person's watchers in every replica know once it commits. */
  save(notification: Notification): Promise<void>;
  /**
   * Up to `limit` PENDING notifications whose next attempt is due at `now`, claimed for `leaseMs`:
   * no other replica claims them before the lease ends, so each attempt is made by one replica.
   */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<string[]>;
}

/** Notifications as queries read them: outside a unit of work, nothing locked. */
export interface NotificationReads {
  /** Through a unit of work's port ({@link Notifications}), the notification is held until commit. */
  get(notificationId: string): Promise<Notification | undefined>;
  /** A person's notifications, newest first (ties by id, descending), after `after`. */
  ofPerson(
    personId: string,
    page: { readonly limit: number; readonly after?: NotificationPosition | undefined },
  ): Promise<NotificationState[]>;
  /** A person's most recently changed notifications, the latest change first. */
  recentlyChanged(personId: string, limit: number): Promise<NotificationState[]>;
  /** Those of `notificationIds` that belong to the person, in the order of the ids. */
  someOfPerson(personId: string, notificationIds: readonly string[]): Promise<NotificationState[]>;
}

/** Notification's record of booked appointments, for their reminders. */
export interface Appointments {
  /** In a unit of work, `get` holds the reservation id until commit, even before a record exists. */
  get(reservationId: string): Promise<Appointment | undefined>;
  save(appointment: Appointment): Promise<void>;
  /**
   * Up to `limit` SCHEDULED appointments whose reminder is due at `now`, held until commit and
   * skipping those another replica holds.
   */
  dueForReminder(now: Date, limit: number): Promise<Appointment[]>;
}

/** The channel that carries notifications to people (a log, a messenger's webhook, …). */
export interface NotificationSender {
  /** Sends one message. Resolves with the outcome; a rejection counts as a retryable failure. */
  send(message: OutgoingMessage): Promise<SendResult>;
}

/** What was heard of a person's notifications changing since the listener last asked. */
export interface HeardChanges {
  /** Ids of the notifications that changed, in the order they were heard, without repeats. */
  readonly notificationIds: readonly string[];
  /**
   * False when changes may have gone unheard (the listening connection was lost and is back, or
   * too many piled up): the watcher looks at the person's notifications again.
   */
  readonly complete: boolean;
}

/** Tells watchers that a person's notifications changed, wherever the change was made. */
export interface NotificationChanges {
  /**
   * Starts listening to one person's notifications. Resolves once listening: every change committed
   * afterwards is heard. Rejects with Unavailable when changes cannot be listened to.
   */
  listen(personId: string, signal: AbortSignal): Promise<NotificationChangeListener>;
}

export interface NotificationChangeListener {
  /** Resolves with what changed since the previous call; rejects with the signal's reason once it aborts. */
  changed(): Promise<HeardChanges>;
  /** Stops listening. */
  close(): void;
}
