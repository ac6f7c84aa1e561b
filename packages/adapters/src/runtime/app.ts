import { join } from "node:path";
import { type Logger, pino } from "pino";
import type { HttpRoute } from "../connect/server.ts";
import { createInProcessBus } from "../inprocess/bus.ts";
import { openJetStreamBus } from "../jetstream/background.ts";
import type { EventBus } from "../messaging/bus.ts";
import { openServiceDatabase } from "../postgres/database.ts";
import { startEmbeddedPostgres } from "../postgres/embedded.ts";
import { otlpTracesEndpoint, startTracing, traceLogFields } from "../telemetry/tracing.ts";
import { ConfigurationError, type Environment, readEnvironment, readServiceUrls } from "./config.ts";
import { requireFreePort } from "./port.ts";
import { securityFromEnvironment } from "./security.ts";
import type { ServiceModule } from "./service-module.ts";
import { startServices } from "./start.ts";

export interface AppOptions {
  /** Name in logs and on the bus connection. */
  readonly name: string;
  readonly modules: readonly ServiceModule[];
  /**
   * The all-in-one mode: without DATABASE_URL an embedded PostgreSQL runs under DATA_DIR, and
   * without NATS_URL the embedded in-process bus carries the events. A service on its own needs both URLs.
   */
  readonly allInOne: boolean;
  /** Plain HTTP routes beside the RPCs (documents, the console's files); see `serve`. */
  readonly httpRoutes?: readonly HttpRoute[];
  /** What else serves where (what those routes serve), by name, given the URL: announced at start. */
  readonly announce?: (url: string) => Readonly<Record<string, string>>;
}

/** The composition root's main: read the environment, build the adapters, serve until SIGTERM or SIGINT. */
export async function runApp(options: AppOptions): Promise<void> {
  let env: Environment;
  let serviceUrls: Record<string, string>;
  try {
    env = readEnvironment();
    serviceUrls = readServiceUrls(options.modules.flatMap((module) => module.calls ?? []));
    if (!options.allInOne) requireVariables(env, ["DATABASE_URL", "NATS_URL"]);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  }
  const logger = pino({ level: env.LOG_LEVEL, base: { app: options.name }, mixin: traceLogFields });
  const tracing = startTracing({
    serviceName: env.OTEL_SERVICE_NAME ?? options.name,
    endpoint: otlpTracesEndpoint(env),
    sampler: env.OTEL_TRACES_SAMPLER,
    samplerArg: env.OTEL_TRACES_SAMPLER_ARG,
  });
  const stops: Array<() => Promise<void>> = [];
  try {
    await requireFreePort(env.HOST, env.PORT);
    let databaseUrl = env.DATABASE_URL;
    let database = "DATABASE_URL";
    if (!databaseUrl) {
      const postgres = await startEmbeddedPostgres({
        dataDir: join(env.DATA_DIR, "postgres"),
        port: env.EMBEDDED_POSTGRES_PORT,
        log: (line) => logger.debug({ postgres: line }),
      });
      logger.info(
        { dataDir: postgres.dataDir, port: env.EMBEDDED_POSTGRES_PORT },
        "embedded PostgreSQL started",
      );
      databaseUrl = postgres.socketUrl;
      database = `embedded PostgreSQL on port ${env.EMBEDDED_POSTGRES_PORT}, data in ${postgres.dataDir}`;
      stops.push(() => postgres.stop());
    }
    const security = await securityFromEnvironment(env, {
      allInOne: options.allInOne,
      callsServices: options.modules.some((module) => (module.calls ?? []).length > 0),
    });
    const bus = await openBus(env, databaseUrl, options.name, logger, stops);
    const running = await startServices({
      modules: options.modules,
      databaseUrl,
      bus,
      host: env.HOST,
      port: env.PORT,
      logger,
      maxInFlight: env.MAX_IN_FLIGHT,
      queue: { maxQueued: env.MAX_QUEUED_CALLS, maxWaitMs: env.MAX_QUEUE_WAIT_MS },
      maxInternalInFlight: env.MAX_INTERNAL_IN_FLIGHT,
      deliveryPolicy: { maxDeliver: env.CONSUMER_MAX_DELIVER, backoffMs: [200, 1_000, 5_000, 15_000] },
      serviceUrls,
      drainDelayMs: env.SHUTDOWN_DRAIN_MS,
      databaseLivenessMs: env.DATABASE_LIVENESS_MS,
      security,
      build: { service: options.name, version: env.HEXA_VERSION },
      ...(options.httpRoutes ? { httpRoutes: options.httpRoutes } : {}),
    });
    stops.unshift(() => running.stop(env.SHUTDOWN_GRACE_MS));
    // Last of the stops: the spans still buffered, those of the shutdown included, are exported.
    stops.push(() => tracing.shutdown());
    announce(options, env, running.url, database, security.description, logger);
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "shutting down");
      // Whatever hangs (a dependency that never answers), the process ends within its grace.
      setTimeout(
        () => {
          logger.error({ signal }, "shutdown took longer than its grace; exiting");
          process.exit(1);
        },
        env.SHUTDOWN_DRAIN_MS + env.SHUTDOWN_GRACE_MS + SHUTDOWN_STEPS_MS,
      ).unref();
      await runStops(stops, logger);
      logger.info("stopped");
      process.exit(0);
    };
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
    process.once("SIGINT", () => void shutdown("SIGINT"));
  } catch (error) {
    await runStops(stops, logger);
    if (error instanceof ConfigurationError) {
      console.error(error.message);
      process.exit(2);
    }
    logger.fatal({ err: error }, "start failed");
    process.exit(1);
  }
}

/** Beyond the drain and the calls' grace: stopping consumers, flushing outboxes, closing pools. */
const SHUTDOWN_STEPS_MS = 5_000;

async function openBus(
  env: Environment,
  databaseUrl: string,
  name: string,
  logger: Logger,
  stops: Array<() => Promise<void>>,
): Promise<EventBus> {
  if (env.NATS_URL) {
    return openJetStreamBus({ url: env.NATS_URL, namespace: env.BUS_NAMESPACE ?? "", logger, name });
  }
  const store = await openServiceDatabase({
    url: databaseUrl,
    schema: "hexa_bus",
    entities: [],
    migrations: [],
    logger,
  });
  stops.push(() => store.close());
  logger.info("NATS_URL not set: events travel on the embedded in-process bus");
  return createInProcessBus({ sql: store.execute, logger });
}

async function runStops(stops: Array<() => Promise<void>>, logger: Logger): Promise<void> {
  for (const stop of stops) {
    await stop().catch((error: unknown) => logger.error({ err: error }, "shutdown step failed"));
  }
}

function requireVariables(env: Environment, names: Array<keyof Environment>): void {
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new ConfigurationError(missing.map((name) => `${name}: required when a service runs on its own`));
  }
}

/**
 * Says what serves where: always as one JSON log line, so stdout holds nothing but JSON lines; and,
 * for a person at a terminal (stderr is a TTY), as a short banner on stderr with a call to paste.
 */
function announce(
  options: AppOptions,
  env: Environment,
  url: string,
  database: string,
  auth: string,
  logger: Logger,
): void {
  const services = options.modules.map((module) => module.name);
  const events = env.NATS_URL ? `NATS JetStream at ${env.NATS_URL}` : "embedded in-process bus";
  const more = options.announce?.(url) ?? {};
  logger.info({ url, host: env.HOST, services, database, events, auth, ...more }, "serving");
  if (!process.stderr.isTTY) return;
  const everywhere =
    env.HOST === "0.0.0.0" || env.HOST === "::" ? ` (listening on every interface, ${env.HOST})` : "";
  const lines = [
    `${options.name} is serving ${services.join(", ")} on ${url}${everywhere} (gRPC, gRPC-Web and Connect on one port)`,
    `  database: ${database}`,
    `  events:   ${events}`,
    `  probes:   ${url}/healthz  ${url}/readyz`,
    `  auth:     ${auth}`,
    ...Object.entries(more).map(([name, value]) => `  ${`${name}:`.padEnd(9)} ${value}`),
  ];
  if (services.includes("marketing")) {
    lines.push(
      "  try:",
      `    curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $(./hexa token --role marketer --sub m1)" -d '{"productId":"espresso-machine","name":"Espresso week","trialDays":7}' ${url}/trial.marketing.v1.MarketingService/StartTrialPlan`,
    );
  }
  process.stderr.write(`${lines.join("\n")}\n`);
}
