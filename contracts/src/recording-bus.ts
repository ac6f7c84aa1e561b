import type {
  Consumer,
  DeadLetters,
  EventBus,
  EventEnvelope,
  Subscription,
} from "@hexa/adapters/messaging/bus";

/**
 * An event bus that delivers nothing by itself: it keeps the consumers the services subscribe, so a
 * test hands each event to the very consumer a module's policies returned (its handler inside the
 * inbox), and it keeps what the outbox relays publish.
 */
export class RecordingBus implements EventBus {
  readonly #consumers = new Map<string, Consumer>();
  readonly #published: EventEnvelope[] = [];

  readonly deadLetters: DeadLetters = {
    list: async () => [],
    replay: async (id) => {
      throw new Error(`the recording bus keeps no dead letters (asked to replay ${id})`);
    },
  };

  async publish(event: EventEnvelope): Promise<void> {
    this.#published.push(event);
  }

  async subscribe(consumer: Consumer): Promise<Subscription> {
    if (this.#consumers.has(consumer.eventType)) {
      throw new Error(`two consumers of ${consumer.eventType}; a contract test runs one context at a time`);
    }
    this.#consumers.set(consumer.eventType, consumer);
    return { stop: async () => {} };
  }

  /** The consumer subscribed to `eventType`. */
  consumer(eventType: string): Consumer {
    const consumer = this.#consumers.get(eventType);
    if (!consumer) {
      const known = [...this.#consumers.keys()].join(", ") || "none";
      throw new Error(`no consumer of ${eventType} was subscribed (subscribed: ${known})`);
    }
    return consumer;
  }

  /** Event types with a subscribed consumer. */
  consumedTypes(): string[] {
    return [...this.#consumers.keys()];
  }

  /** Everything the outbox relays published so far, oldest first. */
  published(type?: string): EventEnvelope[] {
    return this.#published.filter((event) => type === undefined || event.type === type);
  }

  async isReady(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}
