import { type Logger, pino } from "pino";
import {
  type BusMetrics,
  type Consumer,
  type DeliveryPolicy,
  defaultDeliveryPolicy,
  type EventBus,
  type EventEnvelope,
  type Subscription,
} from "../messaging/bus.ts";
import { isPoison } from "../messaging/encoding.ts";
import { createDeadLetterStore, type DeadLetterStore, type StoredDeadLetter } from "./dead-letters.ts";
import type { Sql } from "./sql.ts";

export {
  createDeadLetterStore,
  DeadLetterNotFoundError,
  type DeadLetterStore,
  type StoredDeadLetter,
} from "./dead-letters.ts";
export type { Sql } from "./sql.ts";

/**
 * The embedded event bus: the `EventBus` contract inside one process, for the all-in-one mode
 * when no NATS is configured.
 *
 * - `publish` hands the envelope to every consumer (by name) subscribed to its type, all at once,
 *   and resolves when each has handled it or been dead-lettered. The outbox relay marks its row
 *   published only then; a crash before that republishes the row, and the inbox absorbs the repeat.
 * - Subscriptions sharing a consumer name are replicas: each delivery attempt goes to one of them
 *   (round robin), so the event is handled once between them.
 * - A consumer gets `maxDeliver` attempts with the policy's backoff between them (the policy of
 *   the replica that got the first attempt); after the last failure the event is written to
 *   `hexa_bus.dead_letter` (attempts add up when the same event fails again for the same
 *   consumer) and logged. `publish` rejects only when a consumer neither handled the event nor
 *   had it dead-lettered (bus closing, dead-letter write failed), so the outbox tries again.
 * - Replays are asked for in the table (`deadLetters.replay(id)`, from any process, or
 *   `createDeadLetterStore(sql).replay(id)` in an operator command without a bus). A running bus
 *   with that consumer subscribed polls for them, delivers under the consumer's policy again,
 *   deletes the row on success, or keeps it with the new error.
 * - `close()` stops the poller and new publishes, cuts backoff waits short (such a publish rejects,
 *   and an interrupted replay stays asked for), and waits for the handler calls in hand.
 */

export interface InProcessBusOptions {
  readonly sql: Sql;
  readonly logger?: Logger;
  /** How often to look for dead letters marked for replay. Default 500 ms. */
  readonly replayPollMs?: number;
}

/** Raised by `publish` and `subscribe` once the bus is closing, and by deliveries it cut short. */
export class BusClosedError extends Error {
  constructor() {
    super("the in-process bus is closed");
    this.name = "BusClosedError";
  }
}

/** Creates the dead-letter table when missing and starts the replay poller. */
export async function createInProcessBus(options: InProcessBusOptions): Promise<InProcessBus> {
  const store = await createDeadLetterStore(options.sql);
  return new InProcessBus(store, options);
}

interface Replica {
  readonly consumer: Consumer;
  readonly policy: DeliveryPolicy;
  /** Handler calls running on this subscription. */
  readonly inHand: Set<Promise<unknown>>;
}

interface Group {
  readonly name: string;
  readonly eventType: string;
  readonly replicas: Replica[];
  next: number;
}

type Outcome =
  | { readonly handled: true; readonly attempts: number }
  | { readonly handled: false; readonly attempts: number; readonly error: string; readonly cause: unknown };

const REPLAY_BATCH = 20;

/** The bus's view of its dead letters: list them, and ask for a replay (taken up by the poller). */
export type InProcessDeadLetters = Pick<DeadLetterStore, "list" | "replay">;

export class InProcessBus implements EventBus {
  readonly deadLetters: InProcessDeadLetters;
  readonly #store: DeadLetterStore;
  readonly #logger: Logger;
  readonly #pollMs: number;
  /** Consumers by name. */
  readonly #groups = new Map<string, Group>();
  /** Publishes and replays in progress. */
  readonly #work = new Set<Promise<unknown>>();
  /** Aborted by `close()`: wakes backoff waits so nothing new starts. */
  readonly #closing = new AbortController();
  #closed: Promise<void> | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #pollAgain = false;

  constructor(store: DeadLetterStore, options: InProcessBusOptions) {
    this.#logger = options.logger ?? pino({ name: "inprocess-bus" });
    this.#pollMs = options.replayPollMs ?? 500;
    this.#store = store;
    const wake = () => this.#pollSoon();
    // Replay marks the row; when the consumer lives in this process, take it up right away.
    this.deadLetters = {
      list: () => store.list(),
      async replay(id: string) {
        await store.replay(id);
        wake();
      },
    };
    this.#schedulePoll();
  }

  async publish(event: EventEnvelope): Promise<void> {
    if (this.#closed) throw new BusClosedError();
    const groups = [...this.#groups.values()].filter((group) => group.eventType === event.type);
    if (groups.length === 0) return;
    const results = await this.#track(
      Promise.allSettled(groups.map((group) => this.#deliverOrDeadLetter(group, event))),
    );
    const failures = results.flatMap((result) => (result.status === "rejected" ? [result.reason] : []));
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      throw new AggregateError(
        failures,
        `event ${event.id} (${event.type}) was not delivered to every consumer`,
      );
    }
  }

  async subscribe(consumer: Consumer, policy: DeliveryPolicy = defaultDeliveryPolicy): Promise<Subscription> {
    if (this.#closed) throw new BusClosedError();
    if (!Number.isInteger(policy.maxDeliver) || policy.maxDeliver < 1) {
      throw new RangeError(
        `consumer ${consumer.name}: maxDeliver must be a positive integer, got ${policy.maxDeliver}`,
      );
    }
    let group = this.#groups.get(consumer.name);
    if (group && group.eventType !== consumer.eventType) {
      throw new Error(
        `consumer ${consumer.name} is already subscribed to ${group.eventType}; one consumer name reacts to one event type (got ${consumer.eventType})`,
      );
    }
    if (!group) {
      group = { name: consumer.name, eventType: consumer.eventType, replicas: [], next: 0 };
      this.#groups.set(consumer.name, group);
    }
    const replica: Replica = { consumer, policy, inHand: new Set() };
    group.replicas.push(replica);
    const owner = group;
    let stopped: Promise<void> | undefined;
    return {
      stop: () => {
        stopped ??= (async () => {
          const index = owner.replicas.indexOf(replica);
          if (index >= 0) owner.replicas.splice(index, 1);
          if (owner.replicas.length === 0 && this.#groups.get(owner.name) === owner)
            this.#groups.delete(owner.name);
          await Promise.allSettled([...replica.inHand]);
        })();
        return stopped;
      },
    };
  }

  async isReady(): Promise<boolean> {
    return this.#closed === undefined;
  }

  /**
   * Events in hand per consumer (the embedded bus delivers at once, so that is its lag), and the
   * dead letters of the consumers subscribed here.
   */
  async metrics(): Promise<BusMetrics> {
    const groups = [...this.#groups.values()];
    const stored = await this.#store.list();
    return {
      consumers: groups.map((group) => ({
        name: group.name,
        pending: group.replicas.reduce((sum, replica) => sum + replica.inHand.size, 0),
      })),
      deadLetters: groups.map((group) => ({
        consumer: group.name,
        count: stored.filter((letter) => letter.consumer === group.name).length,
      })),
    };
  }

  /** Stops the replay poller, cuts backoff waits short, and waits for the handler calls in hand. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      clearTimeout(this.#pollTimer);
      await this.#polling;
      while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
      this.#groups.clear();
    })();
    return this.#closed;
  }

  /** One consumer's share of a publish: handled, or dead-lettered. Rejects only when neither happened. */
  async #deliverOrDeadLetter(group: Group, event: EventEnvelope): Promise<void> {
    const outcome = await this.#deliver(group, event);
    if (outcome.handled) return;
    const id = await this.#store.record(group.name, event, outcome.error, outcome.attempts);
    this.#logger.error(
      {
        consumer: group.name,
        eventId: event.id,
        eventType: event.type,
        aggregateId: event.aggregateId,
        attempts: outcome.attempts,
        err: outcome.cause,
        deadLetterId: id,
      },
      "event dead-lettered",
    );
  }

  /** Up to `maxDeliver` attempts with backoff, each on one live replica of the consumer. */
  async #deliver(group: Group, event: EventEnvelope): Promise<Outcome> {
    const first = this.#pick(group);
    const { maxDeliver, backoffMs } = first.policy;
    let replica = first;
    for (let attempt = 1; ; attempt++) {
      let cause: unknown;
      try {
        await this.#handle(replica, event);
        return { handled: true, attempts: attempt };
      } catch (failure) {
        cause = failure;
      }
      const error = errorText(cause);
      if (attempt >= maxDeliver || isPoison(cause))
        return { handled: false, attempts: attempt, error, cause };
      const wait = backoffMs[Math.min(attempt - 1, backoffMs.length - 1)] ?? 0;
      this.#logger.warn(
        {
          consumer: group.name,
          eventId: event.id,
          eventType: event.type,
          attempt,
          maxDeliver,
          retryInMs: wait,
          error,
        },
        "event handler failed; will retry",
      );
      await sleep(wait, this.#closing.signal);
      replica = this.#pick(group);
    }
  }

  #handle(replica: Replica, event: EventEnvelope): Promise<void> {
    const call = Promise.resolve().then(() => replica.consumer.handle(event));
    replica.inHand.add(call);
    const forget = () => replica.inHand.delete(call);
    call.then(forget, forget);
    return call;
  }

  #pick(group: Group): Replica {
    if (this.#closing.signal.aborted) throw new BusClosedError();
    const replica = group.replicas[group.next % Math.max(group.replicas.length, 1)];
    if (!replica) throw new Error(`consumer ${group.name} has no subscription left in this process`);
    group.next = (group.next + 1) % group.replicas.length;
    return replica;
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#work.add(work);
    const forget = () => this.#work.delete(work);
    work.then(forget, forget);
    return work;
  }

  #schedulePoll(): void {
    if (this.#closing.signal.aborted) return;
    this.#pollTimer = setTimeout(() => this.#pollSoon(), this.#pollMs);
    this.#pollTimer.unref();
  }

  /** Runs a replay poll now, or right after the one in progress. */
  #pollSoon(): void {
    if (this.#closing.signal.aborted) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    clearTimeout(this.#pollTimer);
    this.#polling = this.#pollReplays()
      .catch((error: unknown) =>
        this.#logger.warn({ error: errorText(error) }, "dead-letter replay poll failed"),
      )
      .finally(() => {
        this.#polling = undefined;
        if (this.#pollAgain) {
          this.#pollAgain = false;
          this.#pollSoon();
        } else {
          this.#schedulePoll();
        }
      });
  }

  async #pollReplays(): Promise<void> {
    for (;;) {
      const rows = await this.#store.claimReplays([...this.#groups.keys()], REPLAY_BATCH);
      if (rows.length === 0) return;
      await Promise.all(rows.map((row) => this.#track(this.#replay(row))));
      if (rows.length < REPLAY_BATCH || this.#closing.signal.aborted) return;
    }
  }

  async #replay(row: StoredDeadLetter): Promise<void> {
    const group = this.#groups.get(row.consumer);
    const log = {
      deadLetterId: row.id,
      consumer: row.consumer,
      eventId: row.event.id,
      eventType: row.event.type,
    };
    let outcome: Outcome;
    try {
      if (!group) throw new Error(`consumer ${row.consumer} is no longer subscribed in this process`);
      outcome = await this.#deliver(group, row.event);
    } catch (cause) {
      // Cut short (shutdown, or the consumer went away): leave the replay asked for, for the next bus.
      await this.#store.requestReplay(row.id).catch(() => false);
      this.#logger.warn(
        { ...log, error: errorText(cause) },
        "dead-letter replay interrupted; left marked for replay",
      );
      return;
    }
    if (outcome.handled) {
      await this.#store.remove(row.id);
      this.#logger.info({ ...log, attempts: outcome.attempts }, "dead letter replayed");
    } else {
      await this.#store.recordReplayFailure(row.id, outcome.error, outcome.attempts);
      this.#logger.error(
        { ...log, attempts: outcome.attempts, err: outcome.cause },
        "dead-letter replay failed; kept with the new error",
      );
    }
  }
}

/** What the dead-letter row keeps of an error: its name and message (the log has the stack). */
function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new BusClosedError());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new BusClosedError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
