import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { Consumer } from "@hexa/adapters/messaging/bus";
import type { ServiceModule } from "@hexa/adapters/runtime/service-module";
import { startServices } from "@hexa/adapters/runtime/start";
import { systemClock, UuidV7Generator } from "@hexa/core/shared";
import { connectJsonClient, createTestDatabase, freePort } from "@hexa/testing";
import { pino } from "pino";
import { ScriptedIds } from "./ids.ts";
import { RecordingBus } from "./recording-bus.ts";

/**
 * Where a called service is said to be when a test does not make the call (nothing listens on port
 * 9, the discard port). Inventory calls reservation only from its hold-expiry job, for holds whose
 * lease (60 s) lapsed unconfirmed, and no contract test keeps one that long.
 */
export const NOT_CALLED_URL = "http://127.0.0.1:9";

/** Service modules running in this process, as a deployment runs them, on a database of their own. */
export interface RunningContext {
  /** Base URL of their one port (Connect, gRPC, gRPC-Web). */
  readonly url: string;
  /** Their database, for what no RPC shows. */
  readonly databaseUrl: string;
  /** The ids their use cases take; a test names the next ones to give a pact's example ids. */
  readonly ids: ScriptedIds;
  /** The consumers their policies subscribed, and what their outbox relays published. */
  readonly bus: RecordingBus;
  /** A generated client in Connect's JSON mode. */
  client<Service extends DescService>(service: Service): Client<Service>;
  /** The consumer of `eventType` that `policies(runtime)` returned: the handler inside its inbox. */
  consumer(eventType: string): Consumer;
  stop(): Promise<void>;
}

/**
 * Starts `modules` with the runtime every app uses (`startServices`): a real PostgreSQL database
 * of their own, migrations, outbox relays, inboxes and a real Connect server. Only the bus is the
 * recording one, so that a test hands each event to a consumer itself.
 */
export async function startContext(
  modules: readonly ServiceModule[],
  options: { readonly serviceUrls?: Readonly<Record<string, string>> } = {},
): Promise<RunningContext> {
  const database = await createTestDatabase();
  const bus = new RecordingBus();
  const ids = new ScriptedIds(new UuidV7Generator(systemClock));
  try {
    const running = await startServices({
      modules,
      databaseUrl: database.url,
      bus,
      host: "127.0.0.1",
      port: await freePort(),
      logger: pino({ level: "silent" }),
      ids,
      ...(options.serviceUrls ? { serviceUrls: options.serviceUrls } : {}),
    });
    return {
      url: running.url,
      databaseUrl: database.url,
      ids,
      bus,
      client: (service) => connectJsonClient(service, running.url),
      consumer: (eventType) => bus.consumer(eventType),
      stop: async () => {
        await running.stop(1_000);
        await database.drop();
      },
    };
  } catch (error) {
    await database.drop();
    throw error;
  }
}
