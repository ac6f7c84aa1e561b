import type { SchemaMigration } from "./database.ts";
import { LISTENERS_TABLE } from "./notifications.ts";

/**
 * Tables every service has in its own schema:
 * - outbox: events committed with the change that caused them, until the relay has published them;
 * - inbox: which consumer has already handled which event, so a redelivery has no second effect;
 * - listener: the connections listening to the channels the schema's triggers announce on.
 * Migration names start with 0000 so the platform tables exist before a service's own (applied in
 * name order, so a later platform migration's name must sort after the earlier ones').
 */
const outboxAndInbox: SchemaMigration = {
  name: "0000_platform_outbox_inbox",
  sql: [
    `create table outbox (
      position bigserial primary key,
      event_id uuid not null unique,
      event_type text not null,
      aggregate_id text not null,
      occurred_at timestamptz not null,
      payload jsonb not null,
      traceparent text null,
      published_at timestamptz null
    )`,
    "create index outbox_unpublished on outbox (position) where published_at is null",
    `create table inbox (
      consumer text not null,
      event_id uuid not null,
      handled_at timestamptz not null default now(),
      primary key (consumer, event_id)
    )`,
  ],
};

/** When a row was written, so the relay's rounds leave fresh rows to the process that committed them. */
const outboxCreatedAt: SchemaMigration = {
  name: "0000_platform_outbox_row_created_at",
  sql: ["alter table outbox add column created_at timestamptz not null default now()"],
};

/**
 * The connections listening to a channel the schema's triggers announce on (notifications.ts): a
 * trigger announces only while one is known. A row whose connection ended without leaving is
 * removed by the next connection to listen; until then the writers announce for nothing.
 */
const listeners: SchemaMigration = {
  name: "0000_platform_quiet_announcements",
  sql: [
    `create table ${LISTENERS_TABLE} (
      channel text not null,
      pid integer not null,
      primary key (channel, pid)
    )`,
  ],
};

export const platformMigrations: readonly SchemaMigration[] = [outboxAndInbox, outboxCreatedAt, listeners];
