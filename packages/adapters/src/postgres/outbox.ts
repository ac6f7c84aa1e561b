import type { Logger } from "pino";
import { UnitOfWork } from "../kit/unit-of-work.ts";
import type { EventBus, EventEnvelope } from "../messaging/bus.ts";
import type { EntityManager, ServiceDatabase } from "./database.ts";

/**
 * Units of work by entity manager, for stores that save through {@link appendToOutbox} rather than
 * the kit's aggregate store (kit/aggregate-store.ts), which hands events to its unit directly.
 */
const units = new WeakMap<EntityManager, UnitOfWork>();

/** A unit of work on `em`, the transaction's entity manager (see ServiceDatabase.unitOfWork). */
export function beginUnitOfWork(em: EntityManager, outboxTable: string): UnitOfWork {
  const unit = new UnitOfWork(em, outboxTable);
  units.set(em, unit);
  return unit;
}

/**
 * Adds events to the outbox of the unit of work `em` works in: they commit with the change, or not
 * at all. Outside a unit of work it throws, rather than lose the events.
 */
export function appendToOutbox(
  em: EntityManager,
  _db: Pick<ServiceDatabase, "table">,
  events: readonly EventEnvelope[],
): void {
  const unit = units.get(em);
  if (!unit) throw new Error("events appended outside a unit of work");
  unit.saved(events);
}

/** How long events published at once wait to be marked published together. */
const MARK_DELAY_MS = 20;

export interface OutboxRelayOptions {
  readonly db: ServiceDatabase;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Rows taken per round. */
  readonly batchSize?: number;
  /** Wait between rounds. */
  readonly idleMs?: number;
  /**
   * Rows younger than this are left to the process that committed them, which publishes them at
   * once ({@link OutboxRelay.publishCommitted}); the rounds take only older ones.
   */
  readonly graceMs?: number;
  /** Published rows are kept this long for inspection, then deleted. */
  readonly retentionMs?: number;
}

interface OutboxRow {
  position: string | number;
  event_id: string;
  event_type: string;
  aggregate_id: string;
  occurred_at: string | Date;
  payload: string;
  traceparent: string | null;
}

/**
 * Publishes committed outbox rows and marks them published, two ways:
 * - At once: a unit of work that committed events hands them over ({@link publishCommitted}); they
 *   are published from memory, and marked published soon after, many in one statement.
 * - In rounds, every `idleMs`: rows older than `graceMs` still unpublished (their process died
 *   before publishing them, or publishing failed), in commit order. Several replicas may run: each
 *   round locks its rows with FOR UPDATE SKIP LOCKED.
 * An event may so be published twice (a crash after publishing and before marking, or a round
 * meeting a slow publish); the bus deduplicates on the event id and consumers are idempotent.
 */
export class OutboxRelay {
  readonly #options: Required<OutboxRelayOptions>;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #lastCleanup = 0;
  /** Publishing at once, not finished yet. */
  readonly #inFlight = new Set<Promise<void>>();
  /** Ids published at once and not yet marked. */
  #toMark: string[] = [];
  #marking: Promise<void> | undefined;

  constructor(options: OutboxRelayOptions) {
    this.#options = { batchSize: 100, idleMs: 250, graceMs: 1_000, retentionMs: 24 * 3_600_000, ...options };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /**
   * Publishes events a unit of work has just committed, without waiting for a round, then marks them
   * published. When publishing fails, a round publishes them once they are older than `graceMs`.
   */
  publishCommitted(events: readonly EventEnvelope[]): void {
    if (events.length === 0) return;
    const { bus, logger, db } = this.#options;
    const publishing: Promise<void> = Promise.all(events.map((event) => bus.publish(event)))
      .then(() => {
        for (const event of events) this.#toMark.push(event.id);
        this.#marking ??= this.#markPublished();
      })
      .catch((error: unknown) =>
        logger.warn({ err: error, schema: db.schema }, "publishing committed events failed; a round will"),
      )
      .finally(() => this.#inFlight.delete(publishing));
    this.#inFlight.add(publishing);
  }

  /** Publishes every unpublished row now, whatever its age; returns how many were published. */
  async publishPending(): Promise<number> {
    return this.#drain(0);
  }

  async #drain(minAgeMs: number): Promise<number> {
    let total = 0;
    for (;;) {
      const published = await this.#round(minAgeMs);
      total += published;
      if (published < this.#options.batchSize) return total;
    }
  }

  /** Marks what was published at once, in one statement per batch, until nothing is left to mark. */
  async #markPublished(): Promise<void> {
    const { db, logger } = this.#options;
    try {
      while (this.#toMark.length > 0) {
        // Lets the events of units of work committing meanwhile join this statement: marking is off
        // the path to consumers, so it can wait a little.
        await new Promise((resolve) => setTimeout(resolve, MARK_DELAY_MS));
        const ids = this.#toMark.splice(0, 1_000);
        await db
          .execute(
            `update ${db.table("outbox")} set published_at = now()
              where event_id in (${ids.map(() => "?").join(", ")}) and published_at is null`,
            ids,
          )
          .catch((error: unknown) =>
            // The rows stay unpublished: a round publishes them again, and the bus drops the repeat.
            logger.warn({ err: error, schema: db.schema }, "marking published events failed"),
          );
      }
    } finally {
      this.#marking = undefined;
    }
  }

  /** Rows committed and not yet published (the backlog `/metrics` reports). */
  async unpublished(): Promise<number> {
    const { db } = this.#options;
    const rows = await db.execute<{ count: string | number }>(
      `select count(*) as count from ${db.table("outbox")} where published_at is null`,
    );
    return Number(rows[0]?.count ?? 0);
  }

  /** Stops the loop after publishing what is pending (bounded by the caller's shutdown grace). */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    await Promise.all(this.#inFlight);
    await this.#marking;
    await this.publishPending().catch((error) =>
      this.#options.logger.warn(
        { err: error, schema: this.#options.db.schema },
        "outbox flush at shutdown failed",
      ),
    );
  }

  async #run(): Promise<void> {
    const { logger, db, idleMs, graceMs } = this.#options;
    let failures = 0;
    while (this.#running) {
      try {
        await this.#drain(graceMs);
        failures = 0;
        await this.#cleanup();
      } catch (error) {
        failures += 1;
        logger.warn({ err: error, schema: db.schema, failures }, "outbox relay round failed; retrying");
      }
      await this.#sleep(failures > 0 ? Math.min(idleMs * 2 ** failures, 10_000) : idleMs);
    }
  }

  /**
   * One round: marks up to a batch of unpublished rows published and takes them in one statement,
   * publishes them, then commits. A failed publish rolls the marks back, and the rows stay locked
   * (FOR UPDATE SKIP LOCKED) until then, so no other relay takes them meanwhile.
   */
  async #round(minAgeMs: number): Promise<number> {
    const { db, bus, batchSize } = this.#options;
    return db.transaction(async (em) => {
      const rows: OutboxRow[] = await em.execute(
        `update ${db.table("outbox")} set published_at = now()
          where position in (select position from ${db.table("outbox")}
                              where published_at is null and created_at <= now() - (? * interval '1 millisecond')
                              order by position limit ? for update skip locked)
          returning position, event_id, event_type, aggregate_id, occurred_at, payload::text as payload, traceparent`,
        [minAgeMs, batchSize],
      );
      rows.sort((a, b) => Number(a.position) - Number(b.position));
      for (const row of rows) await bus.publish(toEnvelope(row));
      return rows.length;
    });
  }

  async #cleanup(): Promise<void> {
    const { db, retentionMs } = this.#options;
    if (Date.now() - this.#lastCleanup < 60_000) return;
    this.#lastCleanup = Date.now();
    await db.transaction((em) =>
      em.execute(
        `delete from ${db.table("outbox")} where published_at < now() - (? * interval '1 millisecond')`,
        [retentionMs],
      ),
    );
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}

function toEnvelope(row: OutboxRow): EventEnvelope {
  return {
    id: row.event_id,
    type: row.event_type,
    aggregateId: row.aggregate_id,
    occurredAt: new Date(row.occurred_at).toISOString(),
    payload: row.payload,
    traceparent: row.traceparent ?? undefined,
  };
}
