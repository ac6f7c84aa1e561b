import { COUNTED_STATUSES, RESERVATION_STATUSES } from "@hexa/core/vaccination/dashboard";
import { quotedList, type SchemaMigration } from "../../postgres/database.ts";
import { announcement } from "../../postgres/notifications.ts";
import { DASHBOARD_CHANGES_CHANNEL, DASHBOARD_CHANGES_TOPIC } from "./changes.ts";

/** The dashboard's own Postgres schema; no other service reads or writes it. */
export const SCHEMA = "vaccination_dashboard";

/** A table of the dashboard's schema, qualified and quoted for raw SQL. */
export function table(name: string): string {
  return `"${SCHEMA}"."${name}"`;
}

/**
 * One table per status query, plus the directory of names they share:
 *
 * - `counter`: vaccination counts, key-value shaped (see counters.ts);
 * - `hospital_tally`: available, given and discarded doses per hospital (hospital rates);
 * - `reservation`: the latest state of each reservation (a person's reservations);
 * - `daily_reservation`: reservations per hospital, day and status (daily reservations);
 * - `hospital_stock`: the newest stock per hospital and vaccine (hospital stock);
 * - `hospital`, `vaccine`: names, and each hospital's daily capacity.
 *
 * Counts are never negative (CHECK): a count going below zero would be a bug in a projection,
 * and the transaction fails rather than store it.
 */
const READ_MODEL_TABLES = [
  "hospital",
  "vaccine",
  "counter",
  "hospital_tally",
  "reservation",
  "daily_reservation",
  "hospital_stock",
] as const;

export const dashboardMigrations: SchemaMigration[] = [
  {
    name: "0001_read_models",
    sql: [
      `create table hospital (
        hospital_id uuid primary key,
        name varchar(200) not null,
        daily_capacity integer not null check (daily_capacity >= 0)
      )`,
      `create table vaccine (
        vaccine_id uuid primary key,
        name varchar(200) not null
      )`,
      `create table counter (
        key text collate "C" primary key,
        value bigint not null check (value >= 0)
      )`,
      `create table hospital_tally (
        hospital_id uuid primary key,
        available_doses bigint not null check (available_doses >= 0),
        vaccinations bigint not null check (vaccinations >= 0),
        discarded_doses bigint not null check (discarded_doses >= 0)
      )`,
      `create table reservation (
        reservation_id uuid primary key,
        person_id varchar(64) not null,
        hospital_id uuid not null,
        vaccine_id uuid not null,
        day date null,
        status text not null check (status in (${quotedList(RESERVATION_STATUSES)})),
        updated_at timestamptz not null,
        event_id uuid not null
      )`,
      "create index reservation_by_person on reservation (person_id, updated_at desc, reservation_id desc)",
      `create table daily_reservation (
        hospital_id uuid not null,
        day date not null,
        ${COUNTED_STATUSES.map((status) => `${status.toLowerCase()} integer not null check (${status.toLowerCase()} >= 0)`).join(",\n        ")},
        primary key (hospital_id, day)
      )`,
      `create table hospital_stock (
        hospital_id uuid not null,
        vaccine_id uuid not null,
        available integer not null,
        given integer not null,
        discarded integer not null,
        remaining integer not null,
        booked integer not null,
        bookable integer not null,
        changed_at timestamptz not null,
        event_id uuid not null,
        primary key (hospital_id, vaccine_id)
      )`,
    ],
  },
  {
    // Every statement that writes a read model announces the change to the watchers
    // (WatchDashboard) when its transaction commits, without a statement of its own; Postgres
    // delivers the identical notifications of one transaction once.
    name: "0002_read_model_change_announcements",
    sql: [
      `create function notify_read_models_changed() returns trigger language plpgsql as $$
       begin
         perform pg_notify('${DASHBOARD_CHANGES_CHANNEL}', json_build_array('${DASHBOARD_CHANGES_TOPIC}', 'changed')::text);
         return null;
       end $$`,
      ...READ_MODEL_TABLES.map(
        (name) => `create trigger ${name}_changed after insert or update or delete on ${name}
         for each statement execute function notify_read_models_changed()`,
      ),
    ],
  },
  {
    // Announced only while a process listens (postgres/notifications.ts's `announcement`).
    name: "0003_read_models_announced_while_listened",
    sql: [
      `create or replace function notify_read_models_changed() returns trigger language plpgsql as $$
       begin
         ${announcement(SCHEMA, DASHBOARD_CHANGES_CHANNEL, `json_build_array('${DASHBOARD_CHANGES_TOPIC}', 'changed')::text`)}
         return null;
       end $$`,
    ],
  },
];
