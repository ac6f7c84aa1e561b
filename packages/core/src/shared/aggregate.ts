import type { Clock } from "./clock.ts";
import type { DomainEvent } from "./events.ts";
import type { IdGenerator } from "./ids.ts";

/** What an aggregate needs to stamp the events it records. */
export interface EventContext {
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

/** Base of every aggregate root: it records the events its transitions cause. */
export abstract class AggregateRoot<Event extends DomainEvent> {
  #pending: Event[] = [];

  abstract get id(): string;

  protected record<E extends Event>(type: E["type"], data: E["data"], context: EventContext): void {
    this.#pending.push({
      id: context.ids.next(),
      type,
      aggregateId: this.id,
      occurredAt: context.clock.now(),
      data,
    } as E);
  }

  /** Hands over the events recorded since the last call; the repository writes them to the outbox. */
  pullEvents(): Event[] {
    const events = this.#pending;
    this.#pending = [];
    return events;
  }
}
