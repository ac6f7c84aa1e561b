import type { Logger } from "pino";
import type { EventBus, EventEnvelope } from "../messaging/bus.ts";
import { activeTraceparent } from "../telemetry/tracing.ts";
import type { EntityManager, ServiceDatabase } from "./database.ts";

/** Events each unit of work has appended and not yet written, with the outbox they go to. */
const appended = new WeakMap<EntityManager, { outbox: string; events: EventEnvelope[] }>();
/** Units of work that have appended events, written yet or not. */
const withEvents = new WeakSet<EntityManager>();

/** True when `em`'s unit of work has events for the outbox: once it commits, the relay has work. */
export function wroteEvents(em: EntityManager): boolean {
  return withEvents.has(em);
}

/**
 * Adds events to the outbox of the unit of work `em` works in: they commit with the change, or not
 * at all. The unit of work writes all it appended in one insert just before it commits
 * ({@link writeAppendedEvents}). An event without a traceparent of its own records the active
 * span's (the RPC or the consumer that caused it), so its consumers continue that trace.
 */
export function appendToOutbox(
  em: EntityManager,
  db: Pick<ServiceDatabase, "table">,
  events: readonly EventEnvelope[],
): void {
  if (events.length === 0) return;
  withEvents.add(em);
  const traceparent = activeTraceparent();
  const pending = appended.get(em) ?? { outbox: db.table("outbox"), events: [] };
  appended.set(em, pending);
  for (const event of events)
    pending.events.push(event.traceparent || !traceparent ? event : { ...event, traceparent });
}

/** Writes the events appended in `em`'s unit of work, in the order appended, in one insert. */
export async function writeAppendedEvents(em: EntityManager): Promise<void> {
  const pending = appended.get(em);
  appended.delete(em);
  if (!pending || pending.events.length === 0) return;
  await em.execute(
    `insert into ${pending.outbox} (event_id, event_type, aggregate_id, occurred_at, payload, traceparent)
     values ${pending.events.map(() => "(?, ?, ?, ?, ?::jsonb, ?)").join(", ")}`,
    pending.events.flatMap((event) => [
      event.id,
      event.type,
      event.aggregateId,
      event.occurredAt,
      event.payload,
      event.traceparent ?? null,
    ]),
  );
}

export interface OutboxRelayOptions {
  readonly db: ServiceDatabase;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Rows taken per round. */
  readonly batchSize?: number;
  /** Wait between rounds when nothing was pending and nobody nudged. */
  readonly idleMs?: number;
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
 * Publishes committed outbox rows in commit order and marks them published. Several replicas may
 * run: each round locks its rows with FOR UPDATE SKIP LOCKED. A crash after publishing and before
 * the round commits republishes the rows; the bus deduplicates on the event id and consumers are
 * idempotent.
 */
export class OutboxRelay {
  readonly #options: Required<OutboxRelayOptions>;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #nudged = false;
  #lastCleanup = 0;

  constructor(options: OutboxRelayOptions) {
    this.#options = { batchSize: 100, idleMs: 250, retentionMs: 24 * 3_600_000, ...options };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Asks for a round now, e.g. right after a unit of work committed events. */
  nudge(): void {
    this.#nudged = true;
    this.#wake?.();
  }

  /** Publishes everything pending now; returns how many rows were published. */
  async publishPending(): Promise<number> {
    let total = 0;
    for (;;) {
      const published = await this.#round();
      total += published;
      if (published < this.#options.batchSize) return total;
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
    await this.publishPending().catch((error) =>
      this.#options.logger.warn(
        { err: error, schema: this.#options.db.schema },
        "outbox flush at shutdown failed",
      ),
    );
  }

  async #run(): Promise<void> {
    const { logger, db, idleMs } = this.#options;
    let failures = 0;
    while (this.#running) {
      try {
        // Drains the backlog; then waits for a nudge (at once if one came meanwhile) or the idle time.
        await this.publishPending();
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
  async #round(): Promise<number> {
    const { db, bus, batchSize } = this.#options;
    return db.transaction(async (em) => {
      const rows: OutboxRow[] = await em.execute(
        `update ${db.table("outbox")} set published_at = now()
          where position in (select position from ${db.table("outbox")} where published_at is null
                              order by position limit ? for update skip locked)
          returning position, event_id, event_type, aggregate_id, occurred_at, payload::text as payload, traceparent`,
        [batchSize],
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
    if (this.#nudged) {
      this.#nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        this.#nudged = false;
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
