import type { ConnectRouter } from "@connectrpc/connect";
import type { Clock, DomainEvent, IdGenerator } from "@hexa/core/shared";
import type { EntitySchema } from "@mikro-orm/core";
import type { Logger } from "pino";
import type { Consumer, EventEnvelope } from "../messaging/bus.ts";
import type { EntityManager, SchemaMigration, ServiceDatabase } from "../postgres/database.ts";

/** What a service module is given at start: its own store, the domain's clock and ids, a logger. */
export interface ServiceRuntime {
  readonly db: ServiceDatabase;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly logger: Logger;
  /** Runs one command's unit of work in a transaction, then wakes the outbox relay. */
  unitOfWork<T>(work: (em: EntityManager) => Promise<T>): Promise<T>;
  /**
   * A policy as a durable consumer `<service>-<policy>` of one event type; its effect and the
   * inbox row commit together, so each event has exactly one effect.
   */
  policy(
    name: string,
    eventType: string,
    handle: (em: EntityManager, event: EventEnvelope) => Promise<void>,
  ): Consumer;
}

/** One deployable service: its schema, its RPCs and its policies. An app composes one or several. */
export interface ServiceModule {
  /** Short name, e.g. "marketing"; prefixes its consumers' durable names. */
  readonly name: string;
  /** Its own Postgres schema. */
  readonly schema: string;
  // biome-ignore lint/suspicious/noExplicitAny: entity schemas of any shape
  readonly entities: readonly EntitySchema<any, any>[];
  /** Its own migrations; the platform's outbox and inbox tables are added by the runtime. */
  readonly migrations: readonly SchemaMigration[];
  /** Mounts its Connect services. */
  routes(router: ConnectRouter, runtime: ServiceRuntime): void;
  /** Its policies, each reacting to one event type. */
  policies?(runtime: ServiceRuntime): Consumer[];
}

/** Encodes a context's domain events into envelopes for the outbox. */
export type EventEncoder<Event extends DomainEvent> = (event: Event) => EventEnvelope;
