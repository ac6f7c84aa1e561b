import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { Clock, DomainEvent, IdGenerator } from "@hexa/core/shared";
import type { EntitySchema } from "@mikro-orm/core";
import type { Logger } from "pino";
import type { ServiceAccess } from "../connect/auth.ts";
import type { UnitOfWork } from "../kit/unit-of-work.ts";
import type { Consumer, EventEnvelope } from "../messaging/bus.ts";
import type { SchemaMigration, ServiceDatabase } from "../postgres/database.ts";

/** What a service module is given at start: its own store, the domain's clock and ids, a logger. */
export interface ServiceRuntime {
  readonly db: ServiceDatabase;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly logger: Logger;
  /**
   * Runs one command's unit of work in a transaction; once it commits, hands the events of the
   * aggregates saved in it to the outbox relay to publish.
   */
  command<T>(work: (unit: UnitOfWork) => Promise<T>): Promise<T>;
  /**
   * A policy as a durable consumer `<service>-<policy>` of one event type; its effect and the
   * inbox row commit together in one unit of work, so each event has exactly one effect.
   */
  onEvent(
    name: string,
    eventType: string,
    handle: (unit: UnitOfWork, event: EventEnvelope) => Promise<void>,
  ): Consumer;
  /**
   * Base URL of a service this one calls, by name (one the module lists in `calls`): from
   * `<NAME>_URL`, or this process's own port when the service runs in the same process.
   */
  serviceUrl(service: string): string;
  /**
   * A client interceptor that sends this service's own bearer token (role `service`); every
   * transport to another service uses it.
   */
  readonly callCredentials: Interceptor;
}

/** The durable consumer name of a module's policy: `<service>-<policy>`. */
export function policyConsumerName(module: Pick<ServiceModule, "name">, policy: string): string {
  return `${module.name}-${policy}`;
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
  /**
   * Who may call each RPC it mounts (see connect/auth.ts); a mounted RPC without a declaration
   * stops the start.
   */
  readonly access?: readonly ServiceAccess[];
  /** Its policies, each reacting to one event type. */
  policies?(runtime: ServiceRuntime): Consumer[];
  /** Services it calls synchronously, by module name; each needs `<NAME>_URL` unless it runs in the same process. */
  readonly calls?: readonly string[];
  /** Its periodic work (schedulers, retries), run in every replica. */
  jobs?(runtime: ServiceRuntime): Job[];
}

/**
 * Periodic work. Every replica runs it, so a job must claim what it works on (e.g. FOR UPDATE SKIP
 * LOCKED, or a lease) to do each piece once. Idle, a job that says what its rounds found backs off
 * (see runtime/jobs.ts).
 */
export interface Job {
  readonly name: string;
  /** Pause after a round that found work (or failed, or cannot tell): the job's pace under load. */
  readonly everyMs: number;
  /**
   * Longest pause while rounds find nothing: after each such round the pause doubles from
   * `everyMs` up to this. Default `everyMs`, a fixed pace. Work that no wake announces (work made
   * by another replica, or falling due) waits at most this long.
   */
  readonly maxIdleMs?: number;
  /**
   * Event types whose commit in this module makes work for the job: an event one of its policies
   * handled, or one the module wrote to its outbox. After such a commit the next round comes at most
   * `everyMs` after the last.
   */
  readonly wakeOn?: readonly string[];
  /**
   * One round; resolves to how many pieces of work it found (0 lets the pause grow), or to nothing
   * when it cannot tell. A failure is logged and the next round comes after `everyMs`.
   */
  run(): Promise<number | undefined>;
}

/** Encodes a context's domain events into envelopes for the outbox. */
export type EventEncoder<Event extends DomainEvent> = (event: Event) => EventEnvelope;
