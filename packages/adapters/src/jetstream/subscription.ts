import {
  type ConsumerMessages,
  JetStreamApiCodes,
  type JetStreamClient,
  type JsMsg,
  type Consumer as PullConsumer,
} from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { Consumer, DeliveryPolicy, EventEnvelope, Subscription } from "../messaging/bus.ts";
import { isPoison } from "../messaging/encoding.ts";
import { isDatabaseUnreachable } from "../postgres/database.ts";
import { envelopeOf, errorText, MalformedEventError } from "./envelope.ts";
import { isApiError } from "./streams.ts";

/**
 * One subscription: a pull loop on a durable consumer that hands its messages to the consumer.
 *
 * Handing over. Up to `concurrency` lanes each take waiting messages until none is left. For most
 * consumers a lane takes one message at a time. A consumer that handles batches (`handleAll`) gets
 * one message at a time while they come slowly; when they pile up behind busy lanes, each lane
 * takes its share of them as one batch, in one unit of work, so a busy consumer commits once per
 * batch rather than once per event. A batch that fails is handed over again one message at a time,
 * so only the failing message is retried and dead-lettered.
 *
 * Pulling. The loop issues one pull request at a time for up to `batchSize` messages that stays
 * open at most `pullExpiresMs`, and handles what arrives before it asks again. While requests come
 * back empty, each stays open twice as long as the last, up to `idlePullExpiresMs`; one that brings
 * a message starts again from `pullExpiresMs`. An idle subscription so asks less often (a message
 * still arrives at once: while idle, a request is open). It never abandons an
 * open pull request: NATS 2.9 servers keep a pull request whose subscriber went away until it
 * expires, and a redelivery the server routes to it is lost until the ack wait runs out, while the
 * consumer's position steps back so other messages are delivered twice (fixed in nats-server 2.10,
 * nats-io/nats-server#5305). So a stopped subscription keeps listening until its open request runs
 * out (or fills up), giving back whatever arrives meanwhile, and the bus closes its connection only
 * after that.
 *
 * Ack wait. It is short (seconds), so the messages a process that died had pulled are redelivered
 * to another replica soon. Handlers in progress report progress well within it, and so do messages
 * pulled and still waiting for a lane, so a slow batch is not redelivered while in hand.
 *
 * Outages. A handler failing because the database is unreachable is not an attempt: the message
 * stays in hand and is handled again after a pause, until the database answers or the subscription
 * stops (then it is given back), so an outage longer than the backoff dead-letters nothing.
 *
 * Attempts and the server's max_deliver. The handler gets at most `policy.maxDeliver` attempts;
 * when the last one fails the message is dead-lettered and terminated. The durable consumer itself
 * is created with `max_deliver = policy.maxDeliver + 1`: that spare delivery only happens when the
 * outcome of the last attempt never reached the server (the process died mid-handling, or storing
 * the dead letter failed), and it dead-letters the message without calling the handler again. With
 * `max_deliver` equal to the policy, such a message would silently stop being delivered instead.
 */
export interface PullLoopSettings {
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly durable: string;
  readonly consumer: Consumer;
  readonly policy: DeliveryPolicy;
  /** Messages one pull request asks for (pulled ahead of the handler); also the largest batch. */
  readonly batchSize: number;
  /**
   * Lanes handling messages at once. Above 1, events of one subscription may finish out of order;
   * the project's handlers lock what they change and tolerate any order.
   */
  readonly concurrency: number;
  /** How long one pull request stays open while messages come. */
  readonly pullExpiresMs: number;
  /** How long one stays open at most while they do not; also the longest `stop()` waits when idle. */
  readonly idlePullExpiresMs: number;
  /** The consumer's ack wait; a running handler reports progress well within it. */
  readonly ackWaitMs: number;
  readonly logger: Logger;
  /** Stores the message as a dead letter; rejects when it could not be stored. */
  readonly deadLetter: (message: JsMsg, failure: Failure) => Promise<void>;
  /** Creates the durable consumer again (it was deleted from under a running subscription). */
  readonly recreateDurable: () => Promise<void>;
  /** True once the connection is closed for good: the loop ends. */
  readonly connectionClosed: () => boolean;
}

/** Why a message is being dead-lettered. */
export interface Failure {
  readonly error: string;
  readonly attempts: number;
  /** The envelope, when the message carried a usable one. */
  readonly event?: EventEnvelope;
}

/** Delay before the redelivery that follows failed attempt `attempt` (1-based); the last delay repeats. */
export function backoffFor(policy: DeliveryPolicy, attempt: number): number {
  const { backoffMs } = policy;
  if (backoffMs.length === 0) return 0;
  return backoffMs[Math.min(Math.max(attempt, 1), backoffMs.length) - 1] ?? 0;
}

export function validatePolicy(policy: DeliveryPolicy): void {
  if (!Number.isInteger(policy.maxDeliver) || policy.maxDeliver < 1) {
    throw new Error(`delivery policy maxDeliver must be an integer >= 1, got ${policy.maxDeliver}`);
  }
  for (const delay of policy.backoffMs) {
    if (!Number.isFinite(delay) || delay < 0) {
      throw new Error(`delivery policy backoffMs must hold finite delays >= 0, got ${delay}`);
    }
  }
}

/** Pauses before handling a message again while the database is unreachable; the last repeats. */
const outagePausesMs = [250, 1_000, 2_000, 5_000];
/** Waits after a failed pull before the next, growing with consecutive failures. */
const restartDelaysMs = [250, 1_000, 5_000];
/** Allowance for the server receiving a pull request a little after it was sent. */
const expiryMarginMs = 250;

export class PullSubscription implements Subscription {
  readonly #settings: PullLoopSettings;
  readonly #log: Logger;
  #stopping = false;
  readonly #stopped = new AbortController();
  #wake: () => void = () => {};
  /** Messages pulled and not yet taken by a lane, in stream order. */
  readonly #waiting: JsMsg[] = [];
  /** While messages wait: tells the server they are in hand, so none is redelivered meanwhile. */
  #waitingInHand: NodeJS.Timeout | undefined;
  /** How long the next pull request stays open (see "Pulling" above). */
  #nextExpiresMs: number;
  /** Lanes at work: each takes waiting messages until none is left. */
  readonly #inHand = new Set<Promise<void>>();
  #lanesBusy = 0;
  readonly #finished: Promise<void>;
  readonly #onStopped: () => void;

  constructor(settings: PullLoopSettings, onStopped: () => void) {
    this.#settings = settings;
    this.#nextExpiresMs = settings.pullExpiresMs;
    this.#onStopped = onStopped;
    this.#log = settings.logger.child({ consumer: settings.consumer.name, stream: settings.stream });
    this.#finished = this.#run();
  }

  /**
   * Stops taking messages and resolves once the message in hand is handled. The open pull request
   * still runs out in the background (at most `idlePullExpiresMs`), giving back whatever it brings;
   * `finished()` tells when it has.
   */
  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#stopped.abort();
      this.#wake();
    }
    await Promise.all(this.#inHand);
  }

  /** Resolves once the loop has ended and no pull request of it is open any more. */
  finished(): Promise<void> {
    return this.#finished;
  }

  async #run(): Promise<void> {
    let failures = 0;
    let pullConsumer: PullConsumer | undefined;
    try {
      while (!this.#stopping && !this.#settings.connectionClosed()) {
        try {
          pullConsumer ??= await this.#settings.js.consumers.get(
            this.#settings.stream,
            this.#settings.durable,
          );
          await this.#pullOnce(pullConsumer);
          failures = 0;
        } catch (error) {
          pullConsumer = undefined;
          if (this.#stopping || this.#settings.connectionClosed()) break;
          const delay = restartDelaysMs[Math.min(failures, restartDelaysMs.length - 1)] ?? 1_000;
          failures++;
          this.#log.warn(
            { err: error, retryInMs: delay },
            "pulling from the durable consumer failed; retrying",
          );
          if (isApiError(error, JetStreamApiCodes.ConsumerNotFound)) await this.#recreate();
          await this.#sleep(delay);
        }
      }
    } finally {
      clearInterval(this.#waitingInHand);
      this.#onStopped();
    }
  }

  /** One pull request: handles what it brings until it is filled or expires. */
  async #pullOnce(pullConsumer: PullConsumer): Promise<void> {
    const { batchSize, concurrency } = this.#settings;
    if (this.#stopping) return;
    const expires = this.#nextExpiresMs;
    const openUntil = Date.now() + expires;
    const messages: ConsumerMessages = await pullConsumer.fetch({
      max_messages: batchSize,
      expires,
    });
    // Pulled but not handled: give it back. While this pull request may still be open, delay the
    // redelivery until it has expired, or the server would hand the message straight back here.
    const giveBack = (message: JsMsg) => {
      const requestFilled = messages.getReceived() >= batchSize;
      message.nak(requestFilled ? 0 : Math.max(0, openUntil - Date.now()) + expiryMarginMs);
    };
    let received = 0;
    // Leaving this loop early would abandon the open pull request (see above).
    for await (const message of messages) {
      received += 1;
      if (this.#stopping) {
        giveBack(message);
        continue;
      }
      this.#waiting.push(message);
      this.#reportWaiting();
      if (this.#lanesBusy < concurrency) this.#startLane(giveBack);
    }
    const { pullExpiresMs, idlePullExpiresMs } = this.#settings;
    this.#nextExpiresMs = received > 0 ? pullExpiresMs : Math.min(expires * 2, idlePullExpiresMs);
    await Promise.all(this.#inHand);
  }

  /** Reports the waiting messages in progress every so often, as long as any wait (no timer while idle). */
  #reportWaiting(): void {
    if (this.#waitingInHand) return;
    this.#waitingInHand = setInterval(() => {
      if (this.#waiting.length === 0) {
        clearInterval(this.#waitingInHand);
        this.#waitingInHand = undefined;
        return;
      }
      for (const message of this.#waiting) message.working();
    }, progressEvery(this.#settings.ackWaitMs));
    this.#waitingInHand.unref();
  }

  /**
   * A lane: takes waiting messages and handles them, until none is waiting. A consumer that handles
   * batches takes its share of what is waiting (split between the lanes); any other takes one.
   */
  #startLane(giveBack: (message: JsMsg) => void): void {
    const { consumer, concurrency, batchSize } = this.#settings;
    const share = () =>
      consumer.handleAll ? Math.min(batchSize, Math.ceil(this.#waiting.length / concurrency)) : 1;
    this.#lanesBusy++;
    const lane: Promise<void> = (async () => {
      try {
        while (this.#waiting.length > 0) {
          if (this.#stopping) {
            for (const message of this.#waiting.splice(0)) giveBack(message);
            return;
          }
          const taken = this.#waiting.splice(0, share());
          await this.#handleTaken(taken).catch((error: unknown) => {
            // Unexpected: the messages are redelivered after the ack wait.
            this.#log.error(
              { err: error, streamSequences: taken.map((message) => message.info.streamSequence) },
              "could not process messages",
            );
          });
        }
      } finally {
        // Synchronously with the last look at #waiting, so a message pushed next starts a lane.
        this.#lanesBusy--;
      }
    })().finally(() => this.#inHand.delete(lane));
    this.#inHand.add(lane);
  }

  /** Messages taken together: one batch for a consumer that handles batches, else one by one. */
  async #handleTaken(messages: JsMsg[]): Promise<void> {
    const { consumer, policy } = this.#settings;
    const handleAll = consumer.handleAll?.bind(consumer);
    if (!handleAll || messages.length === 1) {
      for (const message of messages) await this.#process(message);
      return;
    }
    const batch: Array<{ message: JsMsg; event: EventEnvelope }> = [];
    for (const message of messages) {
      const event = message.info.deliveryCount <= policy.maxDeliver ? envelopeOrNothing(message) : undefined;
      // Malformed, or out of attempts: dead-lettered on its own.
      if (event) batch.push({ message, event });
      else await this.#process(message);
    }
    if (batch.length === 0) return;
    let handled = true;
    try {
      await this.#working(
        batch.map(({ message }) => message),
        () => handleAll(batch.map(({ event }) => event)),
      );
    } catch (error) {
      handled = false;
      this.#log.debug(
        { err: error, messages: batch.length },
        "a batch failed; handling its messages one at a time",
      );
    }
    for (const { message } of batch) {
      if (handled) message.ack();
      else await this.#process(message);
    }
  }

  /** Runs `work`, telling the server meanwhile that the messages are in hand, so none is redelivered. */
  async #working<T>(messages: readonly JsMsg[], work: () => Promise<T>): Promise<T> {
    const { ackWaitMs } = this.#settings;
    const progress = setInterval(() => {
      for (const message of messages) message.working();
    }, progressEvery(ackWaitMs));
    progress.unref();
    try {
      return await work();
    } finally {
      clearInterval(progress);
    }
  }

  async #recreate(): Promise<void> {
    try {
      await this.#settings.recreateDurable();
      this.#log.warn("the durable consumer was missing and has been created again");
    } catch (error) {
      this.#log.error({ err: error }, "could not create the missing durable consumer");
    }
  }

  async #process(message: JsMsg): Promise<void> {
    const { consumer, policy } = this.#settings;
    const attempt = message.info.deliveryCount;
    let event: EventEnvelope;
    try {
      event = envelopeOf(message.headers, message.data);
    } catch (error) {
      if (!(error instanceof MalformedEventError)) throw error;
      await this.#deadLetter(message, { error: `malformed event: ${error.message}`, attempts: attempt });
      return;
    }
    if (attempt > policy.maxDeliver) {
      await this.#deadLetter(message, {
        error: `the outcome of attempt ${policy.maxDeliver} was never recorded (process stopped or dead letter not stored)`,
        attempts: policy.maxDeliver,
        event,
      });
      return;
    }
    let failure: unknown;
    let failed = false;
    try {
      await this.#working([message], () => this.#handleOutlastingOutages(consumer, event));
    } catch (error) {
      failed = true;
      failure = error;
    }
    if (!failed) {
      message.ack();
      return;
    }
    if (this.#stopping && isDatabaseUnreachable(failure)) {
      message.nak(backoffFor(policy, attempt)); // an outage outlasted by another replica, or this one restarted
      return;
    }
    const error = errorText(failure);
    if (attempt >= policy.maxDeliver || isPoison(failure)) {
      await this.#deadLetter(message, { error, attempts: attempt, event });
      return;
    }
    const delay = backoffFor(policy, attempt);
    this.#log.warn(
      {
        eventId: event.id,
        eventType: event.type,
        attempt,
        maxDeliver: policy.maxDeliver,
        retryInMs: delay,
        error,
      },
      "event handler failed; will retry",
    );
    message.nak(delay);
  }

  async #handleOutlastingOutages(consumer: Consumer, event: EventEnvelope): Promise<void> {
    for (let pause = 0; ; pause++) {
      try {
        return await consumer.handle(event);
      } catch (error) {
        if (!isDatabaseUnreachable(error) || this.#stopping) throw error;
        const retryInMs = outagePausesMs[Math.min(pause, outagePausesMs.length - 1)] ?? 5_000;
        this.#log.warn(
          { eventId: event.id, retryInMs },
          "database unreachable; handling the event again then",
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, retryInMs);
          const signal = this.#stopped.signal;
          signal.addEventListener("abort", done, { once: true });
          function done(): void {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
          }
        });
      }
    }
  }

  async #deadLetter(message: JsMsg, failure: Failure): Promise<void> {
    try {
      await this.#settings.deadLetter(message, failure);
      message.term();
    } catch (error) {
      const { policy } = this.#settings;
      const lastChance = message.info.deliveryCount > policy.maxDeliver;
      this.#log.error(
        {
          err: error,
          eventId: failure.event?.id,
          eventType: failure.event?.type,
          streamSequence: message.info.streamSequence,
          lastChance,
        },
        lastChance
          ? "could not store the dead letter on the last delivery; the message stays unacknowledged in its stream"
          : "could not store the dead letter; the message will be delivered once more to try again",
      );
      message.nak(backoffFor(policy, message.info.deliveryCount));
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** How often messages in hand tell the server so: three times per ack wait. */
function progressEvery(ackWaitMs: number): number {
  return Math.max(500, Math.floor(ackWaitMs / 3));
}

function envelopeOrNothing(message: JsMsg): EventEnvelope | undefined {
  try {
    return envelopeOf(message.headers, message.data);
  } catch (error) {
    if (error instanceof MalformedEventError) return undefined;
    throw error;
  }
}
