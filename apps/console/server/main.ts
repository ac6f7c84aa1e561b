// The console on its own (the chart's console Deployment): its files and configuration, the
// probes, nothing else. Sign-in is OpenID Connect (CONSOLE_OIDC_*); the API is routed to the
// services by the Ingress or HTTPRoute on the same host.
import { serve } from "@hexa/adapters/connect/server";
import { readEnvironment } from "@hexa/adapters/runtime/config";
import { pino } from "pino";
import { oidcConfig } from "./config.ts";
import { consoleRoutes } from "./routes.ts";

const env = readEnvironment();
const logger = pino({ level: env.LOG_LEVEL, base: { app: "console" } });
const server = await serve({
  host: env.HOST,
  port: env.PORT,
  logger,
  routes: () => {},
  drainDelayMs: env.SHUTDOWN_DRAIN_MS,
  httpRoutes: consoleRoutes(oidcConfig()),
});
logger.info({ url: server.url }, "console serving");
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => void server.close(env.SHUTDOWN_GRACE_MS).then(() => process.exit(0)));
}
