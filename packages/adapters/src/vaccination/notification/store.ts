import { isUuid } from "@hexa/core/shared";
import {
  Appointment,
  type Appointments,
  Notification,
  type NotificationPosition,
  type NotificationState,
  type Notifications,
} from "@hexa/core/vaccination/notification";
import { defineEntity, type InferEntity, LockMode, p } from "@mikro-orm/core";
import {
  type EntityManager,
  quotedList,
  type SchemaMigration,
  type ServiceDatabase,
} from "../../postgres/database.ts";
import { lockKey } from "../../postgres/locks.ts";
import { notifyChannel } from "../../postgres/notifications.ts";

const KINDS = [
  "RESERVATION_REGISTERED",
  "RESERVATION_CONFIRMED",
  "RESERVATION_REJECTED",
  "RESERVATION_CANCELLED",
  "RESERVATION_VACCINATED",
  "WAITLIST_JOINED",
  "WAITLIST_ALERT",
  "APPOINTMENT_REMINDER",
] as const;
const DELIVERY = ["PENDING", "SENT", "FAILED"] as const;
const APPOINTMENT_STATUSES = ["SCHEDULED", "REMINDED", "DROPPED", "LAPSED"] as const;

/** The Postgres channel announcing each committed change of a notification: topic person id, message notification id. */
export const NOTIFICATION_CHANGES_CHANNEL = "vaccination_notification_changes";

export const NotificationRecord = defineEntity({
  name: "NotificationRecord",
  tableName: "notification",
  properties: {
    notificationId: p.uuid().primary(),
    personId: p.string(),
    kind: p.enum(KINDS),
    reservationId: p.string(),
    text: p.string(),
    delivery: p.enum(DELIVERY),
    attempts: p.integer(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    sentAt: p.datetime().nullable(),
    nextAttemptAt: p.datetime().nullable(),
    lastError: p.string().nullable(),
    version: p.integer(),
  },
});

export const AppointmentRecord = defineEntity({
  name: "AppointmentRecord",
  tableName: "appointment",
  properties: {
    reservationId: p.string().primary(),
    personId: p.string(),
    hospitalId: p.string(),
    vaccineId: p.string(),
    date: p.string(),
    status: p.enum(APPOINTMENT_STATUSES),
    remindAt: p.datetime().nullable(),
  },
});

type NotificationRow = InferEntity<typeof NotificationRecord>;
type AppointmentRow = InferEntity<typeof AppointmentRecord>;

export const notificationMigrations: SchemaMigration[] = [
  {
    name: "0001_notification_and_appointment",
    sql: [
      `create table notification (
        notification_id uuid primary key,
        person_id varchar(64) not null,
        kind text not null check (kind in (${quotedList(KINDS)})),
        reservation_id varchar(64) not null,
        text varchar(1000) not null,
        delivery text not null check (delivery in (${quotedList(DELIVERY)})),
        attempts integer not null check (attempts >= 0),
        created_at timestamptz not null,
        updated_at timestamptz not null,
        sent_at timestamptz null,
        next_attempt_at timestamptz null,
        last_error varchar(500) null,
        version integer not null check (version >= 1)
      )`,
      "create index notification_of_person on notification (person_id, created_at desc, notification_id desc)",
      "create index notification_changes_of_person on notification (person_id, updated_at desc, notification_id desc)",
      "create index notification_due on notification (next_attempt_at) where delivery = 'PENDING'",
      // However the scheduler's rounds interleave across replicas, a reservation has one reminder.
      "create unique index notification_one_reminder on notification (reservation_id) where kind = 'APPOINTMENT_REMINDER'",
      `create table appointment (
        reservation_id varchar(64) primary key,
        person_id varchar(64) not null,
        hospital_id varchar(64) not null,
        vaccine_id varchar(64) not null,
        date varchar(10) not null,
        status text not null check (status in (${quotedList(APPOINTMENT_STATUSES)})),
        remind_at timestamptz null
      )`,
      "create index appointment_reminders_due on appointment (remind_at) where status = 'SCHEDULED'",
    ],
  },
];

/**
 * Queries read the rows as they are now, past the entity manager's identity map: a watcher asks the
 * same entity manager again and again, and must not be answered from what it saw before.
 */
const READ = { disableIdentityMap: true } as const;

/** Notifications in notification's schema. In a unit of work (`lock`), `get` locks the row until commit. */
export class NotificationStore implements Notifications {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: { lock: boolean }) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(notificationId: string): Promise<Notification | undefined> {
    if (!isUuid(notificationId)) return undefined;
    const record = await this.#em.findOne(
      NotificationRecord,
      { notificationId },
      this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
    );
    return record ? Notification.restore(toState(record)) : undefined;
  }

  async save(notification: Notification): Promise<void> {
    const { sentAt, nextAttemptAt, lastError, ...state } = notification.state;
    await this.#em.upsert(NotificationRecord, {
      ...state,
      sentAt: sentAt ?? null,
      nextAttemptAt: nextAttemptAt ?? null,
      lastError: lastError ?? null,
    });
    await notifyChannel(this.#em, NOTIFICATION_CHANGES_CHANNEL, state.personId, state.notificationId);
  }

  async ofPerson(
    personId: string,
    page: { readonly limit: number; readonly after?: NotificationPosition | undefined },
  ): Promise<NotificationState[]> {
    const after = page.after;
    const records = await this.#em.find(
      NotificationRecord,
      after
        ? {
            personId,
            $or: [
              { createdAt: { $lt: after.createdAt } },
              { createdAt: after.createdAt, notificationId: { $lt: after.notificationId } },
            ],
          }
        : { personId },
      { orderBy: [{ createdAt: "desc" }, { notificationId: "desc" }], limit: page.limit, ...READ },
    );
    return records.map(toState);
  }

  async recentlyChanged(personId: string, limit: number): Promise<NotificationState[]> {
    const records = await this.#em.find(
      NotificationRecord,
      { personId },
      { orderBy: [{ updatedAt: "desc" }, { notificationId: "desc" }], limit, ...READ },
    );
    return records.map(toState);
  }

  async someOfPerson(personId: string, notificationIds: readonly string[]): Promise<NotificationState[]> {
    const ids = notificationIds.filter(isUuid);
    if (ids.length === 0) return [];
    const records = await this.#em.find(NotificationRecord, { personId, notificationId: { $in: ids } }, READ);
    const byId = new Map(records.map((record) => [record.notificationId, toState(record)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async claimDue(now: Date, limit: number, leaseMs: number): Promise<string[]> {
    const table = this.#db.table("notification");
    const rows: Array<{ notification_id: string }> = await this.#em.execute(
      `update ${table} set next_attempt_at = ?
        where notification_id in (
          select notification_id from ${table}
           where delivery = 'PENDING' and next_attempt_at <= ?
           order by next_attempt_at limit ? for update skip locked)
        returning notification_id`,
      [new Date(now.getTime() + leaseMs), now, limit],
    );
    return rows.map((row) => row.notification_id);
  }
}

function toState(record: NotificationRow): NotificationState {
  return {
    notificationId: record.notificationId,
    personId: record.personId,
    kind: record.kind,
    reservationId: record.reservationId,
    text: record.text,
    delivery: record.delivery,
    attempts: record.attempts,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    sentAt: record.sentAt ?? undefined,
    nextAttemptAt: record.nextAttemptAt ?? undefined,
    lastError: record.lastError ?? undefined,
    version: record.version,
  };
}

/** Appointments kept for their reminders. In a unit of work (`lock`), `get` holds the reservation id until commit. */
export class AppointmentStore implements Appointments {
  readonly #em: EntityManager;
  readonly #lock: boolean;

  constructor(em: EntityManager, options: { lock: boolean }) {
    this.#em = em;
    this.#lock = options.lock;
  }

  async get(reservationId: string): Promise<Appointment | undefined> {
    if (this.#lock) await lockKey(this.#em, "appointment", reservationId);
    const record = await this.#em.findOne(
      AppointmentRecord,
      { reservationId },
      this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
    );
    return record ? Appointment.restore(toAppointment(record)) : undefined;
  }

  async save(appointment: Appointment): Promise<void> {
    const { remindAt, ...state } = appointment.state;
    await this.#em.upsert(AppointmentRecord, { ...state, remindAt: remindAt ?? null });
  }

  async dueForReminder(now: Date, limit: number): Promise<Appointment[]> {
    const records = await this.#em.find(
      AppointmentRecord,
      { status: "SCHEDULED", remindAt: { $lte: now } },
      { orderBy: { remindAt: "asc" }, limit, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE },
    );
    return records.map((record) => Appointment.restore(toAppointment(record)));
  }
}

function toAppointment(record: AppointmentRow) {
  return {
    reservationId: record.reservationId,
    personId: record.personId,
    hospitalId: record.hospitalId,
    vaccineId: record.vaccineId,
    date: record.date,
    status: record.status,
    remindAt: record.remindAt ?? undefined,
  };
}
