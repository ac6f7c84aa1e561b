import { isUuid } from "@hexa/core/shared";
import {
  APPOINTMENT_STATUSES,
  Appointment,
  type Appointments,
  DELIVERY_STATES,
  NOTIFICATION_KINDS,
  Notification,
  type NotificationPosition,
  type NotificationReads,
  type NotificationState,
  type Notifications,
} from "@hexa/core/vaccination/notification";
import { defineEntity, type InferEntity, LockMode, p } from "@mikro-orm/core";
import { type AggregateTable, aggregateStore } from "../../kit/aggregate-store.ts";
import { EntityTable, execute } from "../../kit/statements.ts";
import type { ReadSession, UnitOfWork } from "../../kit/unit-of-work.ts";
import { type EntityManager, quotedList, type SchemaMigration } from "../../postgres/database.ts";
import { announcement } from "../../postgres/notifications.ts";

/** The Postgres channel announcing each committed change of a notification: topic person id, message notification id. */
export const NOTIFICATION_CHANGES_CHANNEL = "vaccination_notification_changes";

/** The schema of notification's tables. */
export const NOTIFICATION_SCHEMA = "vaccination_notification";

export const NotificationRecord = defineEntity({
  name: "NotificationRecord",
  tableName: "notification",
  properties: {
    notificationId: p.uuid().primary(),
    personId: p.string(),
    kind: p.enum(NOTIFICATION_KINDS),
    reservationId: p.string(),
    text: p.string(),
    delivery: p.enum(DELIVERY_STATES),
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
        kind text not null check (kind in (${quotedList(NOTIFICATION_KINDS)})),
        reservation_id varchar(64) not null,
        text varchar(1000) not null,
        delivery text not null check (delivery in (${quotedList(DELIVERY_STATES)})),
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
  {
    // Every new notification and every change of one (a new version) announces itself (payload
    // [person id, notification id]) when its transaction commits, without a statement of its own.
    // A lease claimed by the sending job changes no version, and announces nothing.
    name: "0002_notification_change_announcements",
    sql: [
      `create function notify_notification_changed() returns trigger language plpgsql as $$
       begin
         perform pg_notify('${NOTIFICATION_CHANGES_CHANNEL}', json_build_array(new.person_id, new.notification_id)::text);
         return null;
       end $$`,
      `create trigger notification_changed after insert or update of version on notification
       for each row execute function notify_notification_changed()`,
    ],
  },
  {
    // Announced only while a process listens (postgres/notifications.ts's `announcement`).
    name: "0003_notification_announced_while_listened",
    sql: [
      `create or replace function notify_notification_changed() returns trigger language plpgsql as $$
       begin
         ${announcement(NOTIFICATION_SCHEMA, NOTIFICATION_CHANGES_CHANNEL, "json_build_array(new.person_id, new.notification_id)::text")}
         return null;
       end $$`,
    ],
  },
];

/**
 * Queries read the rows as they are now, past the entity manager's identity map: a watcher asks the
 * same entity manager again and again, and must not be answered from what it saw before.
 */
const READ = { disableIdentityMap: true } as const;

/**
 * Notifications. In a unit of work, `get` locks the row until commit (only notification creates one,
 * under a new id). Each write announces itself to the person's watchers (the table's trigger).
 */
export const notificationStore = aggregateStore({
  entity: NotificationRecord,
  key: (notificationId: string) => ({ notificationId }),
  lock: "row",
  restore: (row) => Notification.restore(toState(row)),
  record: (notification: Notification) => {
    const { sentAt, nextAttemptAt, lastError, ...state } = notification.state;
    return {
      ...state,
      sentAt: sentAt ?? null,
      nextAttemptAt: nextAttemptAt ?? null,
      lastError: lastError ?? null,
    };
  },
});

const notificationRows = new EntityTable(NotificationRecord);

/** Notifications in a unit of work: the store's write port, the queries, and the sending job's claim. */
export function notifications(unit: UnitOfWork): Notifications {
  const port = notificationStore.writer(unit);
  return {
    ...notificationQueries(unit.em),
    get: (notificationId) => (isUuid(notificationId) ? port.get(notificationId) : Promise.resolve(undefined)),
    save: port.save,
    claimDue: async (now, limit, leaseMs) => {
      const table = notificationRows.name(unit.em);
      const rows = await execute<{ notification_id: string }>(
        unit.em,
        `update ${table} set next_attempt_at = $1
          where notification_id in (
            select notification_id from ${table}
             where delivery = 'PENDING' and next_attempt_at <= $2
             order by next_attempt_at limit $3 for update skip locked)
          returning notification_id`,
        [new Date(now.getTime() + leaseMs), now, limit],
      );
      return rows.map((row) => row.notification_id);
    },
  };
}

/** Notifications as queries read them, locking nothing. */
export function notificationReads(session: ReadSession): NotificationReads {
  const port = notificationStore.reader(session);
  return {
    ...notificationQueries(session.em),
    get: (notificationId) => (isUuid(notificationId) ? port.get(notificationId) : Promise.resolve(undefined)),
  };
}

function notificationQueries(em: EntityManager): Omit<NotificationReads, "get"> {
  return {
    ofPerson: async (
      personId,
      page: { readonly limit: number; readonly after?: NotificationPosition | undefined },
    ) => {
      const after = page.after;
      const records = await em.find(
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
    },
    recentlyChanged: async (personId, limit) => {
      const records = await em.find(
        NotificationRecord,
        { personId },
        { orderBy: [{ updatedAt: "desc" }, { notificationId: "desc" }], limit, ...READ },
      );
      return records.map(toState);
    },
    someOfPerson: async (personId, notificationIds) => {
      const ids = notificationIds.filter(isUuid);
      if (ids.length === 0) return [];
      const records = await em.find(NotificationRecord, { personId, notificationId: { $in: ids } }, READ);
      const byId = new Map(records.map((record) => [record.notificationId, toState(record)]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },
  };
}

function toState(record: NotificationRow): NotificationState {
  return {
    ...record,
    sentAt: record.sentAt ?? undefined,
    nextAttemptAt: record.nextAttemptAt ?? undefined,
    lastError: record.lastError ?? undefined,
  };
}

const appointmentTable = {
  entity: AppointmentRecord,
  key: (reservationId: string) => ({ reservationId }),
  restore: (row: AppointmentRow) => Appointment.restore({ ...row, remindAt: row.remindAt ?? undefined }),
  record: (appointment: Appointment) => ({
    ...appointment.state,
    remindAt: appointment.state.remindAt ?? null,
  }),
} satisfies Omit<AggregateTable<Appointment, string, AppointmentRow, never>, "lock">;

/**
 * Appointments kept for their reminders. In a unit of work, `get` locks the row; of two events
 * creating it at once, the second fails on the primary key and is handled again.
 */
export const appointmentStore = aggregateStore({ ...appointmentTable, lock: "row-or-insert" });

/** The appointments the reminder scheduler holds already (FOR UPDATE SKIP LOCKED): written as they are. */
const heldAppointmentStore = aggregateStore({ ...appointmentTable, lock: "row" });

/** Appointments in a unit of work: the store's write port, and those due for their reminder. */
export function appointments(unit: UnitOfWork): Appointments {
  const port = appointmentStore.writer(unit);
  const held = heldAppointmentStore.writer(unit);
  const due = new WeakSet<Appointment>();
  return {
    get: port.get,
    save: (appointment) => (due.has(appointment) ? held : port).save(appointment),
    dueForReminder: async (now, limit) => {
      const records = await unit.em.find(
        AppointmentRecord,
        { status: "SCHEDULED", remindAt: { $lte: now } },
        { orderBy: { remindAt: "asc" }, limit, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE },
      );
      return records.map((record) => {
        const appointment = appointmentTable.restore(record);
        due.add(appointment);
        return appointment;
      });
    },
  };
}
