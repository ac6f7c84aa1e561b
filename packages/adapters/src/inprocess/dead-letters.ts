import type { DeadLetter, DeadLetters, EventEnvelope } from "../messaging/bus.ts";
import type { Sql } from "./sql.ts";

/**
 * Dead letters of the embedded bus, kept in Postgres (`hexa_bus.dead_letter`) so they survive a
 * restart and an operator's command in another process can list and replay them.
 *
 * Replay is a request, not a delivery: `replay(id)` marks the row (`replay_requested_at`), and
 * whichever running bus has that consumer subscribed picks the row up on its next poll, hands the
 * event to the consumer again, and deletes the row on success (or records the new error).
 */

/** A dead letter as the embedded bus keeps it: the contract's fields plus the replay mark. */
export interface StoredDeadLetter extends DeadLetter {
  /** RFC 3339 time a replay was asked for and not yet taken up by a running bus. */
  readonly replayRequestedAt?: string | undefined;
}

export class DeadLetterNotFoundError extends Error {
  readonly id: string;
  constructor(id: string) {
    super(`dead letter ${JSON.stringify(id)} not found in hexa_bus.dead_letter`);
    this.name = "DeadLetterNotFoundError";
    this.id = id;
  }
}

/** The dead-letter table and the statements on it. */
export interface DeadLetterStore extends DeadLetters {
  list(): Promise<StoredDeadLetter[]>;
  /** Marks the dead letter for replay; throws {@link DeadLetterNotFoundError} for an unknown id. */
  replay(id: string): Promise<void>;
  /** Records a failed delivery; the same event failing again for the same consumer updates the row. */
  record(consumer: string, event: EventEnvelope, error: string, attempts: number): Promise<string>;
  /** Takes up to `limit` rows marked for replay whose consumer is one of `consumers`, clearing the mark. */
  claimReplays(consumers: readonly string[], limit: number): Promise<StoredDeadLetter[]>;
  /** Marks a row for replay again (a replay interrupted by shutdown). */
  requestReplay(id: string): Promise<boolean>;
  /** A replayed event was handled: the dead letter goes. */
  remove(id: string): Promise<void>;
  /** A replay failed again: keep the row with the new error; `attempts` adds to the count. */
  recordReplayFailure(id: string, error: string, attempts: number): Promise<void>;
}

const TABLE = "hexa_bus.dead_letter";

// One statement (a DO block runs in one transaction); the advisory lock keeps two processes
// starting at once from racing on CREATE SCHEMA / CREATE TABLE.
const CREATE = `DO $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('${TABLE}'));
  CREATE SCHEMA IF NOT EXISTS hexa_bus;
  CREATE TABLE IF NOT EXISTS ${TABLE} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer text NOT NULL,
    event_id text NOT NULL,
    event_type text NOT NULL,
    aggregate_id text NOT NULL,
    occurred_at text NOT NULL,
    payload text NOT NULL,
    traceparent text,
    error text NOT NULL,
    attempts integer NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now(),
    replay_requested_at timestamptz,
    CONSTRAINT dead_letter_consumer_event_key UNIQUE (consumer, event_id)
  );
  CREATE INDEX IF NOT EXISTS dead_letter_replay_requested_idx
    ON ${TABLE} (replay_requested_at) WHERE replay_requested_at IS NOT NULL;
END
$$`;

const RFC3339 = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

// Every column as text or a JS number, whatever the driver's type parsing.
const COLUMNS = `id::text AS id, consumer, event_id, event_type, aggregate_id, occurred_at, payload,
  traceparent, error, attempts,
  to_char(failed_at AT TIME ZONE 'UTC', ${RFC3339}) AS failed_at,
  to_char(replay_requested_at AT TIME ZONE 'UTC', ${RFC3339}) AS replay_requested_at`;

/** Creates the schema and table when missing, and returns the store over them. */
export async function createDeadLetterStore(sql: Sql): Promise<DeadLetterStore> {
  await sql(CREATE);
  return {
    async list() {
      const rows = await sql(`SELECT ${COLUMNS} FROM ${TABLE} ORDER BY id`);
      return rows.map(toDeadLetter);
    },

    async replay(id) {
      const rows = await sql(
        `UPDATE ${TABLE} SET replay_requested_at = now() WHERE id::text = ? RETURNING id`,
        [id],
      );
      if (rows.length === 0) throw new DeadLetterNotFoundError(id);
    },

    async record(consumer, event, error, attempts) {
      const rows = await sql(
        `INSERT INTO ${TABLE} AS d
           (consumer, event_id, event_type, aggregate_id, occurred_at, payload, traceparent, error, attempts)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (consumer, event_id) DO UPDATE SET
           event_type = EXCLUDED.event_type, aggregate_id = EXCLUDED.aggregate_id,
           occurred_at = EXCLUDED.occurred_at, payload = EXCLUDED.payload,
           traceparent = EXCLUDED.traceparent, error = EXCLUDED.error,
           attempts = d.attempts + EXCLUDED.attempts, failed_at = now(), replay_requested_at = NULL
         RETURNING id::text AS id`,
        [
          consumer,
          event.id,
          event.type,
          event.aggregateId,
          event.occurredAt,
          event.payload,
          event.traceparent ?? null,
          error,
          attempts,
        ],
      );
      return String(rows[0]?.id);
    },

    async claimReplays(consumers, limit) {
      if (consumers.length === 0) return [];
      const rows = await sql(
        `UPDATE ${TABLE} SET replay_requested_at = NULL
         WHERE id IN (
           SELECT id FROM ${TABLE}
           WHERE replay_requested_at IS NOT NULL
             AND consumer IN (SELECT jsonb_array_elements_text(?::jsonb))
           ORDER BY id
           LIMIT ?
           FOR UPDATE SKIP LOCKED)
         RETURNING ${COLUMNS}`,
        [JSON.stringify(consumers), limit],
      );
      return rows.map(toDeadLetter).sort((a, b) => Number(a.id) - Number(b.id));
    },

    async requestReplay(id) {
      const rows = await sql(
        `UPDATE ${TABLE} SET replay_requested_at = now() WHERE id::text = ? RETURNING id`,
        [id],
      );
      return rows.length > 0;
    },

    async remove(id) {
      await sql(`DELETE FROM ${TABLE} WHERE id::text = ?`, [id]);
    },

    async recordReplayFailure(id, error, attempts) {
      await sql(
        `UPDATE ${TABLE} SET error = ?, attempts = attempts + ?, failed_at = now() WHERE id::text = ?`,
        [error, attempts, id],
      );
    },
  };
}

function toDeadLetter(row: Record<string, unknown>): StoredDeadLetter {
  const traceparent = row.traceparent;
  const replayRequestedAt = row.replay_requested_at;
  return {
    id: String(row.id),
    consumer: String(row.consumer),
    event: {
      id: String(row.event_id),
      type: String(row.event_type),
      aggregateId: String(row.aggregate_id),
      occurredAt: String(row.occurred_at),
      payload: String(row.payload),
      ...(typeof traceparent === "string" ? { traceparent } : {}),
    },
    error: String(row.error),
    attempts: Number(row.attempts),
    failedAt: String(row.failed_at),
    ...(typeof replayRequestedAt === "string" ? { replayRequestedAt } : {}),
  };
}
