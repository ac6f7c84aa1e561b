import { randomUUID } from "node:crypto";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { createInProcessBus, type InProcessBus } from "@hexa/adapters/inprocess/bus";
import type { DeliveryPolicy, EventEnvelope } from "@hexa/adapters/messaging/bus";
import { encodeEvent } from "@hexa/adapters/messaging/encoding";
import { openServiceDatabase, type ServiceDatabase } from "@hexa/adapters/postgres/database";
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
      bus,
      host: "127.0.0.1",
      port: 0,
      logger,
      deliveryPolicy: options.deliveryPolicy ?? { maxDeliver: 1, backoffMs: [0] },
      outboxIdleMs: 20,
      ...(options.clock ? { clock: options.clock } : {}),
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
