import type { Logger } from "pino";
import { execute } from "../kit/statements.ts";
import type { EventBus, EventEnvelope } from "../messaging/bus.ts";
import type { ServiceDatabase } from "./database.ts";

/**
 * How long events published at once wait to be marked published together: under load one statement
 * (its own transaction) marks a relay's events of a fifth of a second, well before a round would
 * take them as leftovers (`graceMs`).
 */
const MARK_DELAY_MS = 200;

export interface OutboxRelayOptions {
  readonly db: ServiceDatabase;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Rows taken per round. */
  readonly batchSize?: number;
  /** Wait after the first round; it doubles after each round, as long as no failure brings one forward. */
  readonly idleMs?: number;
  /** The longest wait between rounds while nothing is left over. */
  readonly maxIdleMs?: number;
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
 * - At once, woken by the commit: a unit of work that committed events hands them over
 *   ({@link publishCommitted}); they are published from memory, and marked published soon after,
 *   many in one statement.
 * - In rounds, only for leftovers: rows older than `graceMs` still unpublished, in commit order. A
 *   round runs at start (a process that died left them), `graceMs` after a publish or a mark failed
 *   here, and otherwise with back-off: `idleMs` after the first, the wait doubling after each, up
 *   to `maxIdleMs` (for the rows of a replica that died and is not replaced).
 *   So an idle relay issues a statement every `maxIdleMs`, not several a second. Several replicas
 *   may run: each round locks its rows with FOR UPDATE SKIP LOCKED.
 * An event may so be published twice (a crash after publishing and before marking, or a round
 * meeting a slow publish); the bus deduplicates on the event id and consumers are idempotent.
 */
export class OutboxRelay {
  readonly #options: Required<OutboxRelayOptions>;
  #running = false;
  #loop: Promise<void> | undefined;
  /** When the next round is due, and its timer (while the loop waits). */
  #nextRoundAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #lastCleanup = 0;
  /** Publishing at once, not finished yet. */
  readonly #inFlight = new Set<Promise<void>>();
  /** Ids published at once and not yet marked. */
  #toMark: string[] = [];
  #marking: Promise<void> | undefined;

  constructor(options: OutboxRelayOptions) {
    this.#options = {
      batchSize: 100,
      idleMs: 250,
      maxIdleMs: 30_000,
      graceMs: 1_000,
      retentionMs: 24 * 3_600_000,
      ...options,
    };
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
      .catch((error: unknown) => {
        logger.warn({ err: error, schema: db.schema }, "publishing committed events failed; a round will");
        this.#roundWithin(this.#options.graceMs);
      })
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
        // One prepared text for any number of ids: the ids travel as one array parameter.
        await execute(
          db.reader(),
          `update ${db.table("outbox")} set published_at = now()
            where event_id = any($1::uuid[]) and published_at is null`,
          [ids],
        ).catch((error: unknown) => {
          // The rows stay unpublished: a round publishes them again, and the bus drops the repeat.
          logger.warn({ err: error, schema: db.schema }, "marking published events failed");
          this.#roundWithin(this.#options.graceMs);
        });
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
    clearTimeout(this.#timer);
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
    const { logger, db, idleMs, maxIdleMs, graceMs } = this.#options;
    let failures = 0;
    let idle = 0; // the first round at once: rows a process that died left
    this.#nextRoundAt = performance.now();
    while (this.#running) {
      await this.#untilRoundDue();
      if (!this.#running) return;
      this.#nextRoundAt = Number.POSITIVE_INFINITY; // brought forward meanwhile by a failed publish
      try {
        // A round takes every leftover there is: until the next one is expected, wait longer each time.
        // Looking costs one statement; taking them, a transaction.
        if (await this.#anyLeftover(graceMs)) await this.#drain(graceMs);
        failures = 0;
        idle = Math.min(Math.max(idle * 2, idleMs), maxIdleMs);
        await this.#cleanup();
      } catch (error) {
        failures += 1;
        idle = Math.min(idleMs * 2 ** failures, 10_000);
        logger.warn({ err: error, schema: db.schema, failures }, "outbox relay round failed; retrying");
      }
      this.#nextRoundAt = Math.min(this.#nextRoundAt, performance.now() + idle);
    }
  }

  /** Brings the next round forward to within `ms` (leftovers are expected then). */
  #roundWithin(ms: number): void {
    const at = performance.now() + ms;
    if (at >= this.#nextRoundAt) return;
    this.#nextRoundAt = at;
    this.#wake?.(); // the loop waits again, until the new time
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

  async #anyLeftover(minAgeMs: number): Promise<boolean> {
    const { db } = this.#options;
    const [row] = await db.execute<{ found: boolean }>(
      `select exists (select 1 from ${db.table("outbox")}
                       where published_at is null and created_at <= now() - (? * interval '1 millisecond')) as found`,
      [minAgeMs],
    );
    return row?.found === true;
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

  /** Waits until the next round is due, or the relay stops. */
  async #untilRoundDue(): Promise<void> {
    while (this.#running && performance.now() < this.#nextRoundAt) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(this.#timer);
          this.#wake = undefined;
          resolve();
        };
        // The round may have come due since the check above: no negative delay (Node warns of one).
        this.#timer = setTimeout(done, Math.max(0, this.#nextRoundAt - performance.now()));
        this.#wake = done;
      });
    }
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
