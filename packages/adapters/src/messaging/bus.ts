/**
 * The contract every event bus keeps (JetStream, and the embedded in-process bus).
 * The outbox relay publishes envelopes; consumers receive them, at least once, and are made
 * idempotent by the inbox (see ../postgres).
 */

/** One event as it travels: the domain event encoded as the protobuf JSON of its proto message. */
export interface EventEnvelope {
  /** Event id (UUIDv7). JetStream deduplicates on it (`Nats-Msg-Id`); the inbox keys on it. */
  readonly id: string;
  /** Full proto name of the event, e.g. `trial.marketing.v1.PlanStarted`; also its subject. */
  readonly type: string;
  /** Id of the aggregate the event belongs to: the correlation key. */
  readonly aggregateId: string;
  /** RFC 3339 time the event happened. */
  readonly occurredAt: string;
  /** Protobuf JSON of the event message. */
  readonly payload: string;
  /** W3C trace context of the command that caused the event, when there is one. */
  readonly traceparent?: string | undefined;
}

/** Header names an envelope travels with on NATS (besides `Nats-Msg-Id`). */
export const Headers = {
  eventId: "Hexa-Event-Id",
  eventType: "Hexa-Event-Type",
  aggregateId: "Hexa-Aggregate-Id",
  occurredAt: "Hexa-Occurred-At",
  traceparent: "traceparent",
} as const;

/** A policy reacting to one event type. One durable consumer per policy: `<service>-<policy>`. */
export interface Consumer {
  /** Durable name, `<service>-<policy>`; replicas sharing it share the work. */
  readonly name: string;
  /** The one event type (full proto name) it reacts to. */
  readonly eventType: string;
  /** Handles one event. Throwing means "retry later"; after the last attempt it is dead-lettered. */
  handle(event: EventEnvelope): Promise<void>;
  /**
   * Handles several events, in the order given, as one unit of work: all of their effects or none.
   * A bus may hand over what has piled up this way instead of one event at a time. When it throws,
   * the bus hands each of the events to `handle` on its own, so only a failing event is retried
   * and dead-lettered.
   */
  handleAll?(events: readonly EventEnvelope[]): Promise<void>;
}

export interface DeliveryPolicy {
  /** Attempts before a message is dead-lettered (the first delivery counts). */
  readonly maxDeliver: number;
  /** Waits before each redelivery, in milliseconds; the last one repeats. */
  readonly backoffMs: readonly number[];
}

export const defaultDeliveryPolicy: DeliveryPolicy = {
  maxDeliver: 5,
  backoffMs: [200, 1_000, 5_000, 15_000],
};

/** A message that failed its last attempt, kept with its error until replayed. */
export interface DeadLetter {
  /** Id of the dead letter within its store (a stream sequence, or a row id). */
  readonly id: string;
  readonly consumer: string;
  readonly event: EventEnvelope;
  readonly error: string;
  readonly attempts: number;
  readonly failedAt: string;
}

export interface DeadLetters {
  /** Every dead letter, oldest first. */
  list(): Promise<DeadLetter[]>;
  /**
   * Hands the event to its consumer again and removes the dead letter; rejects when no dead letter
   * has that id. A bus may deliver the replay to every consumer of the event type (JetStream
   * republishes it on its subject); consumers that had handled it skip it through their inbox.
   */
  replay(id: string): Promise<void>;
}

/** What `/metrics` reports of a bus, sampled at each scrape. */
export interface BusMetrics {
  /** Messages not yet delivered, per consumer subscribed in this process. */
  readonly consumers: ReadonlyArray<{ readonly name: string; readonly pending: number }>;
  /** Dead letters waiting for a replay, per consumer subscribed in this process. */
  readonly deadLetters: ReadonlyArray<{ readonly consumer: string; readonly count: number }>;
}

export interface Subscription {
  /** Stops taking new messages and waits for those in hand. */
  stop(): Promise<void>;
}

export interface EventBus {
  publish(event: EventEnvelope): Promise<void>;
  subscribe(consumer: Consumer, policy?: DeliveryPolicy): Promise<Subscription>;
  readonly deadLetters: DeadLetters;
  /** True when the bus can take publishes now (readiness). */
  isReady(): Promise<boolean>;
  /** Consumer lag and dead letters of the consumers subscribed here, for `/metrics`. */
  metrics?(): Promise<BusMetrics>;
  /** Stops every subscription, flushes, closes connections. */
  close(): Promise<void>;
}

/**
 * The stream an event type belongs to: one stream per publishing context.
 * `trial.marketing.v1.PlanStarted` -> stream `TRIAL_MARKETING`, subjects `trial.marketing.>`.
 * A namespace (e.g. per test run or per tenant) prefixes both subject and stream.
 */
export function streamOf(eventType: string, namespace = ""): { stream: string; subjects: string } {
  const [suite, context] = eventType.split(".");
  if (!suite || !context)
    throw new Error(`event type ${eventType} is not <suite>.<context>.<version>.<Name>`);
  const prefix = namespace ? `${namespace}.` : "";
  const streamPrefix = namespace ? `${namespace.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_` : "";
  return {
    stream: `${streamPrefix}${suite.toUpperCase()}_${context.toUpperCase()}`,
    subjects: `${prefix}${suite}.${context}.>`,
  };
}

/** The subject an event type is published on. */
export function subjectOf(eventType: string, namespace = ""): string {
  return namespace ? `${namespace}.${eventType}` : eventType;
}
