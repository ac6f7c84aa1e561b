import { Unavailable } from "@hexa/core/shared";
import type {
  BusMetrics,
  Consumer,
  DeadLetters,
  DeliveryPolicy,
  EventBus,
  EventEnvelope,
  Subscription,
} from "../messaging/bus.ts";
import { connectJetStreamBus, type JetStreamBus, type JetStreamBusOptions } from "./bus.ts";

/** Waits between attempts to connect (and to subscribe once connected); the last one repeats. */
const RETRY_MS = [250, 1_000, 2_000, 5_000];

/**
 * A service's JetStream bus, connected in the background, so the service starts and takes calls
 * while NATS is unreachable: the outbox holds their events. Until the first connection, publishing
 * fails with Unavailable (the outbox relay publishes the rows later), the bus reports not ready,
 * and subscriptions wait; once connected, they subscribe (streams and durable consumers are created
 * then). Outages after the first connection are NATS' own reconnection's business.
 */
export function openJetStreamBus(options: JetStreamBusOptions): EventBus {
  return new BackgroundJetStreamBus(options);
}

class BackgroundJetStreamBus implements EventBus {
  readonly deadLetters: DeadLetters;
  readonly #options: JetStreamBusOptions;
  readonly #closed = new AbortController();
  readonly #connected: Promise<JetStreamBus | undefined>;
  #bus: JetStreamBus | undefined;

  constructor(options: JetStreamBusOptions) {
    this.#options = options;
    this.#connected = this.#connect();
    this.deadLetters = {
      list: () => this.#connectedBus().deadLetters.list(),
      replay: (id) => this.#connectedBus().deadLetters.replay(id),
    };
  }

  async publish(event: EventEnvelope): Promise<void> {
    await this.#connectedBus().publish(event);
  }

  async subscribe(consumer: Consumer, policy?: DeliveryPolicy): Promise<Subscription> {
    if (this.#bus) return this.#bus.subscribe(consumer, policy);
    return new PendingSubscription(this.#connected, (bus) => bus.subscribe(consumer, policy), this.#options);
  }

  async isReady(): Promise<boolean> {
    return (await this.#bus?.isReady()) ?? false;
  }

  async metrics(): Promise<BusMetrics> {
    return (await this.#bus?.metrics()) ?? { consumers: [], deadLetters: [] };
  }

  async close(): Promise<void> {
    this.#closed.abort();
    await this.#connected;
    await this.#bus?.close();
  }

  #connectedBus(): JetStreamBus {
    if (!this.#bus) throw new Unavailable("the event bus is not connected yet");
    return this.#bus;
  }

  async #connect(): Promise<JetStreamBus | undefined> {
    const logger = this.#options.logger;
    for (let attempt = 0; !this.#closed.signal.aborted; attempt++) {
      try {
        const bus = await connectJetStreamBus(this.#options);
        if (this.#closed.signal.aborted) {
          await bus.close();
          return undefined;
        }
        this.#bus = bus;
        if (attempt > 0) logger?.info({ attempts: attempt + 1 }, "connected to NATS");
        return bus;
      } catch (error) {
        const retryInMs = retryDelay(attempt);
        logger?.warn(
          { err: error, retryInMs },
          "NATS unreachable: taking calls into the outbox, connecting again",
        );
        await pause(retryInMs, this.#closed.signal);
      }
    }
    return undefined;
  }
}

/** A subscription made once the bus connects, tried again until it succeeds or is stopped. */
class PendingSubscription implements Subscription {
  #stopped = false;
  readonly #wake = new AbortController();
  #subscription: Subscription | undefined;

  constructor(
    connected: Promise<JetStreamBus | undefined>,
    subscribe: (bus: JetStreamBus) => Promise<Subscription>,
    options: JetStreamBusOptions,
  ) {
    void connected.then(async (bus) => {
      for (let attempt = 0; bus && !this.#stopped; attempt++) {
        try {
          const subscription = await subscribe(bus);
          if (this.#stopped) await subscription.stop();
          else this.#subscription = subscription;
          return;
        } catch (error) {
          const retryInMs = retryDelay(attempt);
          options.logger?.warn({ err: error, retryInMs }, "subscribing failed; retrying");
          await pause(retryInMs, this.#wake.signal);
        }
      }
    });
  }

  /** Stops the subscription once made; one not made yet never will be. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake.abort();
    await this.#subscription?.stop();
  }
}

function retryDelay(attempt: number): number {
  return RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)] ?? 5_000;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
