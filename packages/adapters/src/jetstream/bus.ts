import {
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { connect, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { type Logger, pino } from "pino";
import {
  type BusMetrics,
  type Consumer,
  type DeliveryPolicy,
  defaultDeliveryPolicy,
  type EventBus,
  type EventEnvelope,
  Headers,
  type Subscription,
  streamOf,
  subjectOf,
} from "../messaging/bus.ts";
import { JetStreamDeadLetters } from "./dead-letters.ts";
import { bodyOf, copyHeaders, DeadLetterHeaders, headersOf, oneLine } from "./envelope.ts";
import {
  assertEventType,
  assertNamespace,
  deadLetterStreamOf,
  deadLetterSubjectOf,
  durableNameOf,
} from "./names.ts";
import { ensureDurable, ensureStream, type StreamSpec } from "./streams.ts";
import { type Failure, PullSubscription, validatePolicy } from "./subscription.ts";

export interface JetStreamBusOptions {
  /** NATS server URL(s), e.g. `nats://nats:4222`; several may be given comma-separated. */
  readonly url: string;
  /** Prefix of every subject (`<ns>.`) and stream name (`<NS>_`); "" in production. */
  readonly namespace?: string;
  readonly logger?: Logger;
  /** Connection name shown by the server's monitoring, e.g. the service name. */
  readonly name?: string;
  /** How long a stream remembers `Nats-Msg-Id`s to drop repeated publishes. Default 2 minutes. */
  readonly duplicateWindowMs?: number;
  /**
   * How long the server waits for an ack before redelivering. Default 5 s: the messages of a
   * process that died go to another replica after that; handlers in hand report progress.
   */
  readonly ackWaitMs?: number;
  /**
   * Messages one pull request of a subscription asks for (buffered ahead of its handler), and the
   * largest batch a consumer gets. Default 128: a subscription pulls again only once a request is
   * used up and its messages handled, so a larger request leaves fewer such pauses under load.
   */
  readonly batchSize?: number;
  /**
   * Messages one subscription handles at once (see PullLoopSettings.concurrency). Default 4: what
   * arrives while its lanes are busy waits and is taken as a batch, one transaction for several
   * events, rather than queueing for one of the service's pooled connections one by one.
   */
  readonly concurrency?: number;
  /**
   * How long one pull request stays open when no message comes, after one that brought some.
   * Default 2 s; at least 1 s.
   */
  readonly pullExpiresMs?: number;
  /**
   * How long at most while requests come back empty: each stays open twice as long as the last, up
   * to this (see subscription.ts). `close()` waits for the open requests of its subscriptions to
   * end, so this bounds how long it takes when idle. Default 4 s; at least `pullExpiresMs`.
   */
  readonly idlePullExpiresMs?: number;
  /** Unacknowledged messages a durable consumer allows across all its replicas. Default 1000. */
  readonly maxAckPending?: number;
  /** Timeout of JetStream API calls and publish acknowledgements. Default 5 s. */
  readonly requestTimeoutMs?: number;
}

const defaults = {
  duplicateWindowMs: 120_000,
  ackWaitMs: 5_000,
  batchSize: 128,
  concurrency: 4,
  pullExpiresMs: 2_000,
  idlePullExpiresMs: 4_000,
  maxAckPending: 1_000,
  requestTimeoutMs: 5_000,
};

/**
 * Connects to NATS and returns a bus on JetStream. The dead-letter stream is created (or brought up
 * to date) here, so a server without JetStream fails the start, not the first event.
 */
export async function connectJetStreamBus(options: JetStreamBusOptions): Promise<JetStreamBus> {
  assertNamespace(options.namespace ?? "");
  const requestTimeoutMs = options.requestTimeoutMs ?? defaults.requestTimeoutMs;
  const connection = await connect({
    servers: options.url.split(",").map((url) => url.trim()),
    name: options.name ?? "hexa-event-bus",
    timeout: requestTimeoutMs,
    maxReconnectAttempts: -1,
    // No stack captured ahead of every request and timer (each publish is one): they cost more than
    // a publish's own work, and a failure is logged with the event it concerns.
    noAsyncTraces: true,
  });
  try {
    const manager = await jetstreamManager(connection, { timeout: requestTimeoutMs });
    const bus = new JetStreamBus(connection, manager, options);
    await bus.deadLetterStreamReady();
    return bus;
  } catch (error) {
    await connection.close();
    throw error;
  }
}

/**
 * The event bus on NATS JetStream (see ARCHITECTURE.md, "Events and delivery guarantees"):
 * - one stream per publishing context (`streamOf`), created on first use, with a duplicate window so
 *   a publish repeated with the same event id is stored once;
 * - one durable pull consumer per policy, shared by the policy's replicas, explicit ack, bounded
 *   redelivery with the policy's backoff, then a dead letter in `<NS_>DEAD_LETTERS`;
 * - `deadLetters` lists and replays what failed.
 */
export class JetStreamBus implements EventBus {
  readonly deadLetters: JetStreamDeadLetters;
  readonly namespace: string;
  readonly #connection: NatsConnection;
  readonly #manager: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #log: Logger;
  readonly #settings: typeof defaults;
  readonly #deadLetterStream: { stream: string; subjects: string };
  /** Streams known to exist with our settings, by name (the promise of the check). */
  readonly #streams = new Map<string, Promise<void>>();
  readonly #subscriptions = new Set<PullSubscription>();
  /** Durable consumers subscribed through this bus, by consumer name (for `metrics()`). */
  readonly #durables = new Map<string, { stream: string; durable: string }>();
  #closing: Promise<void> | undefined;

  /** Use `connectJetStreamBus`; this takes an open connection it then owns. */
  constructor(
    connection: NatsConnection,
    manager: JetStreamManager,
    options: Omit<JetStreamBusOptions, "url">,
  ) {
    this.#connection = connection;
    this.#manager = manager;
    this.#js = jetstream(connection, { timeout: options.requestTimeoutMs ?? defaults.requestTimeoutMs });
    this.namespace = options.namespace ?? "";
    assertNamespace(this.namespace);
    this.#log = (options.logger ?? pino({ name: "event-bus" })).child({ component: "jetstream-bus" });
    const pullExpiresMs = Math.max(1_000, options.pullExpiresMs ?? defaults.pullExpiresMs);
    this.#settings = {
      duplicateWindowMs: options.duplicateWindowMs ?? defaults.duplicateWindowMs,
      ackWaitMs: options.ackWaitMs ?? defaults.ackWaitMs,
      batchSize: options.batchSize ?? defaults.batchSize,
      concurrency: options.concurrency ?? defaults.concurrency,
      pullExpiresMs,
      idlePullExpiresMs: Math.max(pullExpiresMs, options.idlePullExpiresMs ?? defaults.idlePullExpiresMs),
      maxAckPending: options.maxAckPending ?? defaults.maxAckPending,
      requestTimeoutMs: options.requestTimeoutMs ?? defaults.requestTimeoutMs,
    };
    this.#deadLetterStream = deadLetterStreamOf(this.namespace);
    this.deadLetters = new JetStreamDeadLetters({
      jsm: manager,
      stream: this.#deadLetterStream.stream,
      subjects: this.#deadLetterStream.subjects,
      ready: () => this.deadLetterStreamReady(),
      republish: (subject, body, headers, msgId) => this.#publishRaw(subject, body, headers, msgId),
    });
  }

  /** Publishes the event and waits until its stream has stored it (a duplicate counts as stored). */
  async publish(event: EventEnvelope): Promise<void> {
    this.#assertOpen();
    assertEventType(event.type);
    const headers = headersOf(event);
    const subject = subjectOf(event.type, this.namespace);
    const { stream, subjects } = streamOf(event.type, this.namespace);
    const spec = { name: stream, subjects, duplicateWindowMs: this.#settings.duplicateWindowMs };
    await this.#streamReady(spec);
    try {
      await this.#publishRaw(subject, bodyOf(event), headers, event.id);
    } catch (error) {
      // The stream may have been deleted since it was checked: check again (re-creating it), retry once.
      // The retry is safe: the same Nats-Msg-Id is stored once.
      this.#log.warn(
        { err: error, eventId: event.id, subject },
        "publish failed; checking the stream, retrying once",
      );
      this.#streams.delete(stream);
      await this.#streamReady(spec);
      await this.#publishRaw(subject, bodyOf(event), headers, event.id);
    }
  }

  /**
   * Starts handing the consumer's event type to it through its durable pull consumer (created on
   * first use). Replicas subscribing with the same consumer name share the work.
   */
  async subscribe(consumer: Consumer, policy: DeliveryPolicy = defaultDeliveryPolicy): Promise<Subscription> {
    this.#assertOpen();
    validatePolicy(policy);
    assertEventType(consumer.eventType);
    const durable = durableNameOf(consumer.name);
    const { stream, subjects } = streamOf(consumer.eventType, this.namespace);
    await this.#streamReady({ name: stream, subjects, duplicateWindowMs: this.#settings.duplicateWindowMs });
    const durableSpec = {
      stream,
      durable,
      filterSubject: subjectOf(consumer.eventType, this.namespace),
      // One spare delivery beyond the policy; see subscription.ts.
      maxDeliver: policy.maxDeliver + 1,
      ackWaitMs: this.#settings.ackWaitMs,
      maxAckPending: this.#settings.maxAckPending,
    };
    await ensureDurable(this.#manager, durableSpec);
    await this.deadLetterStreamReady();
    this.#assertOpen();
    const subscription: PullSubscription = new PullSubscription(
      {
        js: this.#js,
        stream,
        durable,
        consumer,
        policy,
        batchSize: this.#settings.batchSize,
        concurrency: this.#settings.concurrency,
        pullExpiresMs: this.#settings.pullExpiresMs,
        idlePullExpiresMs: this.#settings.idlePullExpiresMs,
        ackWaitMs: this.#settings.ackWaitMs,
        logger: this.#log,
        deadLetter: (message, failure) => this.#deadLetter(consumer, durable, message, failure),
        recreateDurable: async () => {
          await ensureDurable(this.#manager, durableSpec);
        },
        connectionClosed: () => this.#connection.isClosed(),
      },
      () => this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    this.#durables.set(consumer.name, { stream, durable });
    return subscription;
  }

  /** True when the connection is up and JetStream answers within a second. */
  async isReady(): Promise<boolean> {
    if (this.#closing || this.#connection.isClosed() || this.#connection.isDraining()) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), 1_000);
    });
    try {
      return await Promise.race([this.#manager.getAccountInfo().then(() => true), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Consumer lag (`num_pending` of each durable consumer subscribed here) and the dead letters of
   * those consumers (messages on their subjects of the dead-letter stream).
   */
  async metrics(): Promise<BusMetrics> {
    const durables = [...this.#durables];
    const consumers = await Promise.all(
      durables.map(async ([name, { stream, durable }]) => ({
        name,
        pending: (await this.#manager.consumers.info(stream, durable)).num_pending,
      })),
    );
    const info = await this.#manager.streams.info(this.#deadLetterStream.stream, {
      subjects_filter: this.#deadLetterStream.subjects,
    });
    const perSubject = info.state.subjects ?? {};
    const deadLetters = durables.map(([name, { durable }]) => ({
      consumer: name,
      count: perSubject[deadLetterSubjectOf(durable, this.namespace)] ?? 0,
    }));
    return { consumers, deadLetters };
  }

  /**
   * Stops every subscription (each finishes the message in hand and lets its open pull request end,
   * at most `idlePullExpiresMs`), then drains the connection.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const subscriptions = [...this.#subscriptions];
      await Promise.allSettled(subscriptions.map((subscription) => subscription.stop()));
      // Their open pull requests must end while the connection still listens (see subscription.ts).
      await Promise.allSettled(subscriptions.map((subscription) => subscription.finished()));
      if (!this.#connection.isClosed()) await this.#connection.drain();
    })();
    return this.#closing;
  }

  /** Makes sure the dead-letter stream exists with the bus's settings. */
  deadLetterStreamReady(): Promise<void> {
    return this.#streamReady({
      name: this.#deadLetterStream.stream,
      subjects: this.#deadLetterStream.subjects,
      duplicateWindowMs: this.#settings.duplicateWindowMs,
    });
  }

  #streamReady(spec: StreamSpec): Promise<void> {
    let ready = this.#streams.get(spec.name);
    if (!ready) {
      ready = ensureStream(this.#manager, spec);
      this.#streams.set(spec.name, ready);
      // A failed check is not cached: the next call tries again.
      ready.catch(() => {
        if (this.#streams.get(spec.name) === ready) this.#streams.delete(spec.name);
      });
    }
    return ready;
  }

  async #publishRaw(subject: string, body: Uint8Array, headers: MsgHdrs, msgId: string): Promise<void> {
    await this.#js.publish(subject, body, {
      msgID: msgId,
      headers,
      timeout: this.#settings.requestTimeoutMs,
    });
  }

  /**
   * Stores a message that failed its last attempt on `<ns.>deadletter.<durable>`: its body and
   * headers, plus who failed, why, how often, where it came from and when. The dead letter's own
   * `Nats-Msg-Id` is derived from the durable and the original stream sequence, so storing it twice
   * (the term was lost and the message came back) keeps one copy.
   */
  async #deadLetter(consumer: Consumer, durable: string, message: JsMsg, failure: Failure): Promise<void> {
    await this.deadLetterStreamReady();
    const headers = copyHeaders(message.headers, Object.values(DeadLetterHeaders));
    const error = oneLine(failure.error) || "(no error message)";
    headers.set(DeadLetterHeaders.consumer, oneLine(consumer.name, 500));
    headers.set(DeadLetterHeaders.error, error);
    headers.set(DeadLetterHeaders.attempts, String(failure.attempts));
    headers.set(DeadLetterHeaders.subject, message.subject);
    headers.set(DeadLetterHeaders.at, new Date().toISOString());
    const { stream, streamSequence } = message.info;
    await this.#publishRaw(
      deadLetterSubjectOf(durable, this.namespace),
      message.data,
      headers,
      `dead-${durable}-${stream}-${streamSequence}`,
    );
    const header = (name: string) => message.headers?.get(name) || undefined;
    this.#log.error(
      {
        consumer: consumer.name,
        eventId: failure.event?.id ?? header(Headers.eventId),
        eventType: failure.event?.type ?? header(Headers.eventType),
        aggregateId: failure.event?.aggregateId ?? header(Headers.aggregateId),
        attempts: failure.attempts,
        error,
        subject: message.subject,
        streamSequence,
      },
      "event dead-lettered",
    );
  }

  #assertOpen(): void {
    if (this.#closing || this.#connection.isClosed()) throw new Error("the JetStream bus is closed");
  }
}
