import type { EventEnvelope } from "../messaging/bus.ts";
import type { EntityManager } from "../postgres/database.ts";
import { lockKey, lockKeys } from "../postgres/locks.ts";
import { activeTraceparent } from "../telemetry/tracing.ts";
import { holdWrite, RowsText } from "./statements.ts";

/**
 * One transaction of one service: the entity manager it works on, and the events of the aggregates
 * saved in it. A store's `save` hands its aggregate's events to the unit ({@link saved}); the unit
 * writes all of them to the outbox in one insert just before it commits, so a save cannot forget its
 * events and nothing else has to be called. Only a unit of work can lock (see aggregate-store.ts).
 */
export class UnitOfWork {
  readonly em: EntityManager;
  readonly #outbox: string;
  readonly #outboxInsert: RowsText;
  readonly #events: EventEnvelope[] = [];
  /** The advisory locks it holds, as `<namespace>:<key>`. */
  readonly #locked = new Set<string>();

  constructor(em: EntityManager, outboxTable: string) {
    this.em = em;
    this.#outbox = outboxTable;
    this.#outboxInsert = outboxInsertOf(outboxTable);
  }

  /**
   * Holds the keys (advisory locks) until the unit ends, in key order; keys it holds already cost no
   * statement (the locks are re-entrant, so asking again would only wait on the server for nothing).
   */
  async lockKeys(namespace: string, keys: readonly string[]): Promise<void> {
    const wanted = [...new Set(keys)].filter((key) => !this.#locked.has(`${namespace}:${key}`));
    const [only] = wanted;
    if (only === undefined) return;
    if (wanted.length === 1) await lockKey(this.em, namespace, only);
    else await lockKeys(this.em, namespace, wanted);
    for (const key of wanted) this.#locked.add(`${namespace}:${key}`);
  }

  /** Records keys a statement of the unit's own locked (e.g. `pg_try_advisory_xact_lock` in a claim). */
  lockedKeys(namespace: string, keys: readonly string[]): void {
    for (const key of keys) this.#locked.add(`${namespace}:${key}`);
  }

  /**
   * Records the events of an aggregate just saved. An event without a traceparent of its own gets the
   * active span's (the RPC or the consumer that caused it), so its consumers continue that trace.
   */
  saved(events: readonly EventEnvelope[]): void {
    if (events.length === 0) return;
    const traceparent = activeTraceparent();
    for (const event of events)
      this.#events.push(event.traceparent || !traceparent ? event : { ...event, traceparent });
  }

  /** The events saved so far, in the order saved; they reach the outbox when the unit commits. */
  get events(): readonly EventEnvelope[] {
    return this.#events;
  }

  /**
   * Writes the saved events to the outbox in one insert, sent with the writes held back for the
   * commit (statements.ts); the transaction runs it just before commit.
   */
  async writeOutbox(): Promise<void> {
    if (this.#events.length === 0) return;
    await holdWrite(this.em, {
      table: this.#outbox,
      sql: this.#outboxInsert.of(this.#events.length),
      params: this.#events.flatMap((event) => [
        event.id,
        event.type,
        event.aggregateId,
        event.occurredAt,
        event.payload,
        event.traceparent ?? null,
      ]),
    });
  }
}

/** The outbox insert of each outbox table, for any number of events. */
const outboxInserts = new Map<string, RowsText>();

function outboxInsertOf(table: string): RowsText {
  let insert = outboxInserts.get(table);
  if (!insert) {
    insert = new RowsText(
      `insert into ${table} (event_id, event_type, aggregate_id, occurred_at, payload, traceparent)`,
      6,
    );
    outboxInserts.set(table, insert);
  }
  return insert;
}

/**
 * Reads outside any transaction. A store's read port takes one of these, never a unit of work, so a
 * read cannot take a lock; and a unit of work's ports always lock (see aggregate-store.ts).
 */
export class ReadSession {
  // Private, so the type is nominal: a unit of work is not a read session, nor the other way round.
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  get em(): EntityManager {
    return this.#em;
  }
}
