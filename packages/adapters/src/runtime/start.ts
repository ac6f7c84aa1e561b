import { type Clock, type IdGenerator, systemClock, UuidV7Generator } from "@hexa/core/shared";
import type { Logger } from "pino";
import { bearerInterceptor } from "../auth/tokens.ts";
import { type Access, accessByProcedure, authInterceptor, requireAccessDeclared } from "../connect/auth.ts";
import { storableTextInterceptor } from "../connect/input.ts";
import { type HttpRoute, serve } from "../connect/server.ts";
import type { UnitOfWork } from "../kit/unit-of-work.ts";
import type { Consumer, DeliveryPolicy, EventBus, EventEnvelope, Subscription } from "../messaging/bus.ts";
import { openServiceDatabase, type ServiceDatabase } from "../postgres/database.ts";
import { handledOnce } from "../postgres/inbox.ts";
import { OutboxRelay } from "../postgres/outbox.ts";
import { platformMigrations } from "../postgres/platform-tables.ts";
import { callPolicies } from "../resilience/policy.ts";
import { inConsumerSpan, withPublishSpans } from "../telemetry/events.ts";
import { type BuildInfo, ServiceMetrics } from "../telemetry/metrics.ts";
import { ConfigurationError, readEnvironment, serviceUrlVariable } from "./config.ts";
import { JobRunner } from "./jobs.ts";
import { type Security, securityFromEnvironment } from "./security.ts";
import { policyConsumerName, type ServiceModule, type ServiceRuntime } from "./service-module.ts";

export interface StartServicesOptions {
  readonly modules: readonly ServiceModule[];
  readonly databaseUrl: string;
  readonly bus: EventBus;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly ids?: IdGenerator;
  /** Concurrent application calls before calls wait in `queue`, or get RESOURCE_EXHAUSTED. */
  readonly maxInFlight?: number;
  /** Calls waiting for a slot, and how long each may wait; default none wait. */
  readonly queue?: { readonly maxQueued: number; readonly maxWaitMs: number };
  /** Concurrent calls of the procedures only services may call, admitted apart. Default 1024. */
  readonly maxInternalInFlight?: number;
  readonly deliveryPolicy?: DeliveryPolicy;
  readonly outboxIdleMs?: number;
  /** Base URLs of called services that do not run in this process, by module name. */
  readonly serviceUrls?: Readonly<Record<string, string>>;
  /** At stop, how long to report not ready while still serving before the port stops accepting. */
  readonly drainDelayMs?: number;
  /** After the database has been unreachable this long, `/healthz` reports not alive; default: never. */
  readonly databaseLivenessMs?: number;
  /**
   * Token checks, service identity and request limits; default: from the environment
   * (AUTH_JWKS_URL, or the development key of AUTH_DEV_KEY_DIR).
   */
  readonly security?: Security;
  /** Where `/metrics` counts calls and samples the services; default: a registry of their own. */
  readonly metrics?: ServiceMetrics;
  /** What `hexa_build_info` reports (with the default registry). */
  readonly build?: BuildInfo;
  /** Plain HTTP routes beside the RPCs (documents, the console's files); see `serve`. */
  readonly httpRoutes?: readonly HttpRoute[];
}

export interface RunningServices {
  readonly url: string;
  readonly port: number;
  /**
   * Graceful stop: readiness goes false and the port stops accepting, in-flight calls finish
   * (up to `graceMs`), consumers stop after the message in hand, the outbox is flushed to the bus,
   * then the bus and the pools close.
   */
  stop(graceMs?: number): Promise<void>;
}

/** Starts service modules in this process: their stores, outbox relays, policies and one port for their RPCs. */
export async function startServices(options: StartServicesOptions): Promise<RunningServices> {
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? new UuidV7Generator(clock);
  const started: Array<{
    module: ServiceModule;
    db: ServiceDatabase;
    relay: OutboxRelay;
    runtime: ServiceRuntime;
    wakes: JobWakes;
  }> = [];
  const subscriptions: Subscription[] = [];
  const jobs = new JobRunner(options.logger);
  const serviceUrl = serviceDirectory(options);
  const security =
    options.security ??
    (await securityFromEnvironment(readEnvironment(), {
      allInOne: false,
      callsServices: options.modules.some((module) => (module.calls ?? []).length > 0),
    }));
  const accessRules = accessByProcedure(options.modules.flatMap((module) => module.access ?? []));
  let ownUrl: string | undefined;
  // The relays publish through it: each publish is a span of the trace that committed the event.
  const relayBus = withPublishSpans(options.bus);
  try {
    for (const module of options.modules) {
      const logger = options.logger.child({ service: module.name });
      const db = await openServiceDatabase({
        url: options.databaseUrl,
        schema: module.schema,
        entities: module.entities,
        migrations: [...platformMigrations, ...module.migrations],
        logger,
      });
      const relay = new OutboxRelay({
        db,
        bus: relayBus,
        logger,
        ...(options.outboxIdleMs ? { idleMs: options.outboxIdleMs } : {}),
      });
      const wakes = new JobWakes();
      const command = async <T>(work: (unit: UnitOfWork) => Promise<T>): Promise<T> => {
        const { result, events } = await db.unitOfWork(work);
        relay.publishCommitted(events);
        wakes.committed(events);
        return result;
      };
      const onEvent = (
        name: string,
        eventType: string,
        handle: (unit: UnitOfWork, event: EventEnvelope) => Promise<void>,
      ): Consumer => {
        const consumer = policyConsumerName(module, name);
        const once = handledOnce(db, consumer, (unit, event) =>
          inConsumerSpan(consumer, event, () => handle(unit, event)),
        );
        const handleAll = async (events: readonly EventEnvelope[]) => {
          const { written } = await once(events);
          relay.publishCommitted(written);
          wakes.committed(events);
          wakes.committed(written);
        };
        return { name: consumer, eventType, handle: (event) => handleAll([event]), handleAll };
      };
      const runtime: ServiceRuntime = {
        db,
        clock,
        ids,
        logger,
        command,
        onEvent,
        serviceUrl: (service) => {
          const url = serviceUrl(service) ?? ownUrl;
          if (!url) throw new Error(`${service} is called before this process serves`);
          return url;
        },
        callCredentials: (module.calls ?? []).length
          ? bearerInterceptor(security.serviceTokens(module.name))
          : (next) => next,
      };
      started.push({ module, db, relay, runtime, wakes });
    }
    for (const { module, runtime } of started) {
      for (const consumer of module.policies?.(runtime) ?? []) {
        subscriptions.push(await options.bus.subscribe(consumer, options.deliveryPolicy));
      }
    }
    for (const { relay } of started) relay.start();
    for (const { module, runtime, wakes } of started) {
      for (const job of module.jobs?.(runtime) ?? []) wakes.add(job.wakeOn ?? [], jobs.start(job));
    }
    const metrics =
      options.metrics ??
      new ServiceMetrics({ logger: options.logger, ...(options.build ? { build: options.build } : {}) });
    const bus = options.bus;
    metrics.sample({
      outboxes: started.map(({ module, relay }) => ({
        schema: module.schema,
        unpublished: () => relay.unpublished(),
      })),
      bus: async () => (await bus.metrics?.()) ?? { consumers: [], deadLetters: [] },
      busConnected: () => bus.isReady(),
      breakers: callPolicies,
    });
    const server = await serve({
      metrics,
      host: options.host,
      port: options.port,
      logger: options.logger,
      ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
      ...(options.queue ? { queue: options.queue } : {}),
      internalCalls: {
        procedures: serviceOnlyProcedures(accessRules),
        maxInFlight: options.maxInternalInFlight ?? 1024,
      },
      ...(options.drainDelayMs ? { drainDelayMs: options.drainDelayMs } : {}),
      routes: (router) => {
        for (const { module, runtime } of started) module.routes(router, runtime);
        requireAccessDeclared(router, accessRules);
      },
      interceptors: [
        authInterceptor({ verifier: security.verifier, rules: accessRules, rateLimit: security.rateLimit }),
        storableTextInterceptor(),
      ],
      ...(options.httpRoutes ? { httpRoutes: options.httpRoutes } : {}),
      maxRequestBytes: security.maxRequestBytes,
      corsAllowedOrigins: security.corsAllowedOrigins,
      // Ready = can take calls: the database is needed, the bus is not (the outbox holds the events).
      readiness: [
        ...started.map(({ module, db }) => ({
          name: `postgres:${module.schema}`,
          check: () => db.isReachable(),
          ...(options.databaseLivenessMs ? { livenessBoundMs: options.databaseLivenessMs } : {}),
        })),
        { name: "bus", check: () => options.bus.isReady(), required: false },
      ],
    });
    ownUrl = server.url;
    return {
      url: server.url,
      port: server.port,
      stop: async (graceMs = 10_000) => {
        await server.close(graceMs);
        await jobs.stop();
        await Promise.all(subscriptions.map((subscription) => subscription.stop()));
        await Promise.all(started.map(({ relay }) => relay.stop()));
        await options.bus.close();
        await Promise.all(started.map(({ db }) => db.close()));
      },
    };
  } catch (error) {
    await jobs.stop();
    await Promise.allSettled(subscriptions.map((subscription) => subscription.stop()));
    await Promise.allSettled(started.map(({ relay, db }) => relay.stop().then(() => db.close())));
    throw error;
  }
}

/** A module's jobs to wake, by the event types whose commit makes work for them (Job.wakeOn). */
class JobWakes {
  readonly #byType = new Map<string, Array<() => void>>();

  add(eventTypes: readonly string[], wake: () => void): void {
    for (const type of eventTypes) this.#byType.set(type, [...(this.#byType.get(type) ?? []), wake]);
  }

  committed(events: readonly EventEnvelope[]): void {
    if (this.#byType.size === 0) return;
    for (const event of events) for (const wake of this.#byType.get(event.type) ?? []) wake();
  }
}

/** The procedures whose access names the role `service` alone: calls between services. */
function serviceOnlyProcedures(rules: ReadonlyMap<string, Access>): ReadonlySet<string> {
  return new Set(
    [...rules]
      .filter(
        ([, access]) => !access.own && access.roles.length > 0 && access.roles.every((r) => r === "service"),
      )
      .map(([procedure]) => procedure),
  );
}

/**
 * Where each called service is: its `<NAME>_URL`, or (undefined) this process when it runs here.
 * A called service that is neither stops the start, naming the variable.
 */
function serviceDirectory(options: StartServicesOptions): (service: string) => string | undefined {
  const local = new Set(options.modules.map((module) => module.name));
  const missing = options.modules
    .flatMap((module) => module.calls ?? [])
    .filter((service) => !local.has(service) && !options.serviceUrls?.[service]);
  if (missing.length > 0) {
    throw new ConfigurationError(
      [...new Set(missing)].map(
        (service) => `${serviceUrlVariable(service)}: required, the URL of the ${service} service`,
      ),
    );
  }
  return (service) => options.serviceUrls?.[service];
}
