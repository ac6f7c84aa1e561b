import { z } from "zod";

/**
 * Configuration from environment variables, validated at start. Every variable is documented in
 * the README's configuration table; an invalid one stops the process with a message naming it.
 */
const port = z.coerce.number().int().min(0).max(65_535);
const positive = z.coerce.number().int().positive();

export const environment = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: port.default(8080),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  NATS_URL: z
    .string()
    .regex(/^(nats|tls|wss?):\/\//, "must be a nats:// URL")
    .optional(),
  BUS_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,30}$/, "must be lowercase letters, digits and dashes")
    .optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  MAX_IN_FLIGHT: positive.default(256),
  SHUTDOWN_GRACE_MS: positive.default(10_000),
  /**
   * On SIGTERM, how long the service reports not ready while still serving before it stops
   * accepting, so load balancers (Kubernetes endpoints) stop routing to it first. 0 locally.
   */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).default(0),
  CONSUMER_MAX_DELIVER: positive.default(5),
  DATA_DIR: z.string().min(1).default(".data"),
  EMBEDDED_POSTGRES_PORT: port.default(5433),
  /** Where the notification service sends messages: "log" (one JSON log line each) or "webhook". */
  NOTIFICATION_CHANNEL: z.enum(["log", "webhook"]).default("log"),
  /** The http(s) URL the notification service POSTs each message to when NOTIFICATION_CHANNEL is webhook. */
  NOTIFICATION_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
});

/** Rules between variables, checked even when other variables are bad, so one start names every problem. */
const consistentEnvironment = environment.refine(
  (env) => env.NOTIFICATION_CHANNEL !== "webhook" || env.NOTIFICATION_WEBHOOK_URL !== undefined,
  {
    path: ["NOTIFICATION_WEBHOOK_URL"],
    message: "required when NOTIFICATION_CHANNEL is webhook",
    when: () => true,
  },
);

export type Environment = z.infer<typeof environment>;

export class ConfigurationError extends Error {
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigurationError";
  }
}

/** Reads and checks the environment; throws a ConfigurationError naming every bad variable. */
export function readEnvironment(source: Record<string, string | undefined> = process.env): Environment {
  const present = Object.fromEntries(
    Object.entries(source).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = consistentEnvironment.safeParse(present);
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(
    parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const shown = /URL|SECRET|TOKEN|PASSWORD/.test(name)
        ? ""
        : ` (got ${JSON.stringify(present[name] ?? null)})`;
      return `${name}: ${issue.message}${shown}`;
    }),
  );
}

/** The variable holding a called service's base URL: `order` -> `ORDER_URL`. */
export function serviceUrlVariable(service: string): string {
  return `${service.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_URL`;
}

/** Base URLs of called services from their `<NAME>_URL` variables; a malformed one is named. */
export function readServiceUrls(
  services: readonly string[],
  source: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const urls: Record<string, string> = {};
  const problems: string[] = [];
  for (const service of new Set(services)) {
    const variable = serviceUrlVariable(service);
    const value = source[variable];
    if (!value) continue;
    if (/^https?:\/\/[^/\s]+\/?$/.test(value)) urls[service] = value.replace(/\/$/, "");
    else problems.push(`${variable}: must be an http(s) base URL such as http://${service}:8080`);
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return urls;
}
