import { randomUUID } from "node:crypto";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { createInProcessBus, type InProcessBus } from "@hexa/adapters/inprocess/bus";
import type { DeliveryPolicy, EventBus, EventEnvelope } from "@hexa/adapters/messaging/bus";
import { encodeEvent } from "@hexa/adapters/messaging/encoding";
import { openServiceDatabase, type ServiceDatabase } from "@hexa/adapters/postgres/database";
import { readEnvironment } from "@hexa/adapters/runtime/config";
import { type Security, securityFromEnvironment } from "@hexa/adapters/runtime/security";
import type { ServiceModule } from "@hexa/adapters/runtime/service-module";
import { type RunningServices, startServices } from "@hexa/adapters/runtime/start";
import type { Clock } from "@hexa/core/shared";
import { pino } from "pino";
import { createTestDatabase, type TestDatabase } from "./index.ts";

/** Service modules running in this process on a fresh database, with the embedded bus. */
export interface ModulesInProcess {
  readonly url: string;
  readonly databaseUrl: string;
  readonly bus: InProcessBus;
  /** Delivers an event through the bus, as its publisher's outbox relay would: the real consumer path. */
  publish(event: EventEnvelope): Promise<void>;
  stop(): Promise<void>;
}

export interface ModulesInProcessOptions {
  readonly clock?: Clock;
  /** Default: one attempt, so a failing handler is dead-lettered at once and a test sees it. */
  readonly deliveryPolicy?: DeliveryPolicy;
  /** A database shared with other instances (replicas); default: a fresh one, dropped at stop. */
  readonly databaseUrl?: string;
  /** The bus the services use, built on the embedded bus (e.g. one that fails on demand); default: the embedded bus. */
  readonly bus?: (embedded: InProcessBus) => EventBus;
  /** Concurrent application calls before the server answers RESOURCE_EXHAUSTED; default: startServices' own. */
  readonly maxInFlight?: number;
  /** Base URLs of called services that do not run in this process, by module name. */
  readonly serviceUrls?: Readonly<Record<string, string>>;
  /** Token checks and limits; default: the run's development key (AUTH_DEV_KEY_DIR) and limits. */
  readonly security?: Security;
}

/** Starts `modules` as the all-in-one runs them, on 127.0.0.1, port 0. */
export async function startModules(
  modules: readonly ServiceModule[],
  options: ModulesInProcessOptions = {},
): Promise<ModulesInProcess> {
  const logger = pino({ level: "silent" });
  const database: TestDatabase | undefined = options.databaseUrl ? undefined : await createTestDatabase();
  const databaseUrl = options.databaseUrl ?? database?.url ?? "";
  let busStore: ServiceDatabase | undefined;
  let services: RunningServices | undefined;
  try {
    busStore = await openServiceDatabase({
      url: databaseUrl,
      schema: "hexa_bus",
      entities: [],
      migrations: [],
      logger,
    });
    const bus = await createInProcessBus({ sql: busStore.execute, logger });
    services = await startServices({
      modules,
      databaseUrl,
      bus: options.bus ? options.bus(bus) : bus,
      host: "127.0.0.1",
      port: 0,
      logger,
      deliveryPolicy: options.deliveryPolicy ?? { maxDeliver: 1, backoffMs: [0] },
      outboxIdleMs: 20,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
      ...(options.serviceUrls ? { serviceUrls: options.serviceUrls } : {}),
      security:
        options.security ??
        (await securityFromEnvironment(readEnvironment(), { allInOne: false, callsServices: true })),
    });
    const running = services;
    const store = busStore;
    return {
      url: running.url,
      databaseUrl,
      bus,
      publish: (event) => bus.publish(event),
      stop: async () => {
        await running.stop(1_000);
        await store.close();
        await database?.drop();
      },
    };
  } catch (error) {
    await services?.stop(0);
    await busStore?.close();
    await database?.drop();
    throw error;
  }
}

/** An event as its publisher's outbox relay would put it on the bus. */
export function envelope<Desc extends DescMessage>(
  schema: Desc,
  aggregateId: string,
  init: MessageInitShape<Desc>,
  occurredAt = new Date(),
): EventEnvelope {
  return encodeEvent({ id: randomUUID(), type: schema.typeName, aggregateId, occurredAt }, schema, init);
}
