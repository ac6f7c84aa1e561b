import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { isUuid } from "@hexa/core/shared";
import {
  attemptDelivery,
  claimDueNotifications,
  DEFAULT_RETRY,
  DELIVERY_STATES,
  listNotifications,
  NOTIFICATION_KINDS,
  type NotificationPorts,
  type NotificationReads,
  type NotificationSender,
  type NotificationState,
  type RetrySchedule,
  recordDelivery,
  sendDueReminders,
  watchNotifications,
  whenReservationChanged,
} from "@hexa/core/vaccination/notification";
import {
  DeliveryStateSchema,
  type ListNotificationsRequest,
  NotificationKindSchema,
  type NotificationSchema,
  NotificationService,
} from "@hexa/proto/vaccination/notification/v1/notification_pb";
import { accessOf } from "../../connect/auth.ts";
import { bindContext, type ContextPorts } from "../../kit/context.ts";
import { enumMapping } from "../../kit/enum-mapping.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import { readEnvironment } from "../../runtime/config.ts";
import type { ServiceModule, ServiceRuntime } from "../../runtime/service-module.ts";
import { NotificationChangeFeed } from "./changes.ts";
import { channelFromEnvironment, createSender, type NotificationChannel } from "./channels.ts";
import { CONSUMED_EVENTS } from "./events.ts";
import {
  AppointmentRecord,
  appointments,
  NOTIFICATION_SCHEMA,
  NotificationRecord,
  notificationMigrations,
  notificationReads,
  notifications,
} from "./store.ts";

/**
 * The sending job: how often it looks while it finds some (or an event has just stored one), how
 * long it waits at most while it finds none, how many it sends at once, how long a replica holds
 * one, the retries.
 */
export interface SendingSettings {
  readonly everyMs: number;
  readonly maxIdleMs: number;
  readonly batch: number;
  /** Longer than one attempt can take (the webhook's timeout), so no other replica sends it meanwhile. */
  readonly leaseMs: number;
  readonly retry: RetrySchedule;
}

/** The reminder scheduler: how often it looks, and how many appointments it takes a round. */
export interface ReminderSettings {
  readonly everyMs: number;
  readonly batch: number;
}

export const SENDING: SendingSettings = {
  everyMs: 500,
  maxIdleMs: 5_000,
  batch: 20,
  leaseMs: 60_000,
  retry: DEFAULT_RETRY,
};
export const REMINDERS: ReminderSettings = { everyMs: 10_000, batch: 100 };

export interface NotificationModuleOptions {
  /**
   * Where notifications go. Default: what NOTIFICATION_CHANNEL and NOTIFICATION_WEBHOOK_URL say,
   * read when the module starts.
   */
  readonly channel?: NotificationChannel;
  /** A sender of one's own instead of a channel (tests, other messengers). */
  readonly sender?: (runtime: ServiceRuntime) => NotificationSender;
  readonly sending?: Partial<SendingSettings>;
  readonly reminders?: Partial<ReminderSettings>;
  /** Waits before reconnecting the listening connection of WatchNotifications after it dropped. */
  readonly watchReconnectMs?: readonly number[];
}

/**
 * Notification: a message to the person on every change of their reservation and on waitlist
 * alerts, and a reminder the day before the appointment. Each is stored PENDING in the transaction
 * of the event it answers (one per event, through the inbox), then sent by a job that every replica
 * runs, claiming notifications with a lease and retrying with backoff until SENT, or FAILED (a
 * dead letter that stays listable). People read theirs with ListNotifications and follow them with
 * WatchNotifications, which hears changes made by any replica through Postgres LISTEN/NOTIFY.
 */
export function createNotificationModule(options: NotificationModuleOptions = {}): ServiceModule {
  const sending: SendingSettings = { ...SENDING, ...options.sending };
  const reminders: ReminderSettings = { ...REMINDERS, ...options.reminders };
  return {
    name: "notification",
    schema: NOTIFICATION_SCHEMA,
    entities: [NotificationRecord, AppointmentRecord],
    migrations: notificationMigrations,
    // A person reads and watches their own notifications.
    access: [
      accessOf(NotificationService, {
        listNotifications: { roles: [], own: { role: "person", field: "personId" } },
        watchNotifications: { roles: [], own: { role: "person", field: "personId" } },
      }),
    ],
    routes(router, runtime) {
      // One listening connection per process, open while anyone watches.
      const changes = new NotificationChangeFeed({
        connectionString: runtime.db.url,
        schema: runtime.db.schema,
        logger: runtime.logger,
        ...(options.watchReconnectMs ? { reconnectMs: options.watchReconnectMs } : {}),
      });
      const { query, reading } = bindContext(runtime, ports);
      router.service(NotificationService, {
        listNotifications: query(
          async (read, request: ListNotificationsRequest) => {
            const page = readPage(request, isCursor);
            const notifications = await listNotifications(read, {
              personId: request.personId,
              limit: page.limit,
              after: page.after && {
                createdAt: new Date(page.after.createdAt),
                notificationId: page.after.notificationId,
              },
            });
            return { notifications, limit: page.limit };
          },
          ({ notifications, limit }) => ({
            notifications: notifications.map(toProto),
            nextPageToken: nextPageToken(notifications, limit, cursorOf),
          }),
        ),
        async *watchNotifications(request, context) {
          for await (const notification of watchNotifications(
            { ...reading(), changes },
            request,
            context.signal,
          )) {
            yield { notification: toProto(notification) };
          }
        },
      });
    },
    policies: (runtime) => {
      const { policy } = bindContext(runtime, ports);
      return CONSUMED_EVENTS.map(({ policy: name, schema, read }) =>
        policy(name, schema, (p, event) => whenReservationChanged(p, read(event))),
      );
    },
    jobs: (runtime) => {
      const { inUnitOfWork, reading } = bindContext(runtime, ports);
      const sender =
        options.sender?.(runtime) ??
        createSender(options.channel ?? channelFromEnvironment(readEnvironment()), runtime.logger);
      const deliver = async (notificationId: string) => {
        const result = await attemptDelivery({ ...reading(), sender }, { notificationId });
        if (!result) return;
        const recorded = await inUnitOfWork((p) =>
          recordDelivery({ ...p, retry: sending.retry }, { notificationId, result }),
        );
        logOutcome(runtime, recorded);
      };
      return [
        {
          name: "notification-sending",
          everyMs: sending.everyMs,
          maxIdleMs: sending.maxIdleMs,
          // Each event the policies handle stores a notification to send.
          wakeOn: CONSUMED_EVENTS.map(({ schema }) => schema.typeName),
          run: async () => {
            let claimed: string[];
            let total = 0;
            do {
              claimed = await inUnitOfWork((p) =>
                claimDueNotifications(p, { limit: sending.batch, leaseMs: sending.leaseMs }),
              );
              // Each attempt on its own: one failing to record leaves the others' outcomes recorded,
              // and its notification is tried again once its lease ends.
              const failed = (await Promise.allSettled(claimed.map(deliver))).find(
                (outcome) => outcome.status === "rejected",
              );
              if (failed) throw failed.reason;
              total += claimed.length;
            } while (claimed.length === sending.batch);
            return total;
          },
        },
        {
          name: "notification-reminders",
          everyMs: reminders.everyMs,
          run: async () => {
            let handled: number;
            do {
              handled = await inUnitOfWork((p) => sendDueReminders(p, { limit: reminders.batch }));
            } while (handled === reminders.batch);
          },
        },
      ];
    },
  };
}

/** The notification service as configured by the environment (NOTIFICATION_CHANNEL, NOTIFICATION_WEBHOOK_URL). */
export const notificationModule: ServiceModule = createNotificationModule();

const ports: ContextPorts<NotificationPorts, { readonly notifications: NotificationReads }> = {
  write: (unit) => ({ notifications: notifications(unit), appointments: appointments(unit) }),
  read: (session) => ({ notifications: notificationReads(session) }),
};

function logOutcome(runtime: ServiceRuntime, notification: NotificationState | undefined): void {
  if (!notification || notification.delivery === "SENT") return;
  const { notificationId, personId, kind, attempts, lastError } = notification;
  if (notification.delivery === "FAILED") {
    runtime.logger.error(
      { notificationId, personId, kind, attempts, error: lastError },
      "notification could not be sent; kept as FAILED",
    );
  } else {
    runtime.logger.warn(
      { notificationId, attempts, error: lastError, nextAttemptAt: notification.nextAttemptAt },
      "sending a notification failed; will retry",
    );
  }
}

/** A page token: the sort key of the last notification of the page. */
interface Cursor {
  readonly createdAt: string;
  readonly notificationId: string;
}

function isCursor(value: unknown): value is Cursor {
  if (typeof value !== "object" || value === null) return false;
  const { createdAt, notificationId } = value as Record<string, unknown>;
  if (typeof createdAt !== "string" || typeof notificationId !== "string" || !isUuid(notificationId))
    return false;
  const time = new Date(createdAt);
  return !Number.isNaN(time.getTime()) && time.toISOString() === createdAt;
}

function cursorOf(notification: NotificationState): Cursor {
  return { createdAt: notification.createdAt.toISOString(), notificationId: notification.notificationId };
}

const KIND = enumMapping(NOTIFICATION_KINDS, NotificationKindSchema);
const DELIVERY = enumMapping(DELIVERY_STATES, DeliveryStateSchema);

export function toProto(notification: NotificationState): MessageInitShape<typeof NotificationSchema> {
  return {
    notificationId: notification.notificationId,
    personId: notification.personId,
    kind: KIND.toProto(notification.kind),
    reservationId: notification.reservationId,
    text: notification.text,
    delivery: DELIVERY.toProto(notification.delivery),
    attempts: notification.attempts,
    createdAt: timestampFromDate(notification.createdAt),
    ...(notification.sentAt ? { sentAt: timestampFromDate(notification.sentAt) } : {}),
  };
}
