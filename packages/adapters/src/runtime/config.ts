import { z } from "zod";
import { samplerNames } from "../telemetry/tracing.ts";

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
  /** End users' calls waiting for a slot beyond MAX_IN_FLIGHT, and how long each may wait. */
  MAX_QUEUED_CALLS: z.coerce.number().int().min(0).default(1024),
  MAX_QUEUE_WAIT_MS: positive.default(60_000),
  /** Calls only services make (role `service`, e.g. TakeBookingSlot), admitted apart from end users. */
  MAX_INTERNAL_IN_FLIGHT: positive.default(1024),
  SHUTDOWN_GRACE_MS: positive.default(10_000),
  /**
   * On SIGTERM, how long the service reports not ready while still serving before it stops
   * accepting, so load balancers (Kubernetes endpoints) stop routing to it first. 0 locally.
   */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).default(0),
  /** After the database has been unreachable this long, `/healthz` answers 503 so the orchestrator restarts the process. */
  DATABASE_LIVENESS_MS: positive.default(60_000),
  CONSUMER_MAX_DELIVER: positive.default(5),
  /** How long inventory holds a booking's dose and slot before reservation must have confirmed it. */
  BOOKING_HOLD_LEASE_S: z.coerce.number().int().min(1).max(3_600).default(60),
  DATA_DIR: z.string().min(1).default(".data"),
  EMBEDDED_POSTGRES_PORT: port.default(5433),
  /** Where the notification service sends messages: "log" (one JSON log line each) or "webhook". */
  NOTIFICATION_CHANNEL: z.enum(["log", "webhook"]).default("log"),
  /** The http(s) URL the notification service POSTs each message to when NOTIFICATION_CHANNEL is webhook. */
  NOTIFICATION_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
  /** Security: the identity provider's JWKS; without it, tokens are checked against the development key. */
  AUTH_JWKS_URL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
  /** The `iss` and `aud` every token must carry (required with AUTH_JWKS_URL). */
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  /** The claim holding the roles: a name, or a dotted path such as realm_access.roles. */
  AUTH_ROLE_CLAIM: z.string().min(1).default("roles"),
  /** Directory of the development signing key (a service on its own without AUTH_JWKS_URL). */
  AUTH_DEV_KEY_DIR: z.string().min(1).optional(),
  /** Client credentials a service presents to get its own token (with AUTH_JWKS_URL). */
  AUTH_CLIENT_TOKEN_URL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
  AUTH_CLIENT_ID: z.string().min(1).optional(),
  AUTH_CLIENT_SECRET: z.string().min(1).optional(),
  /** Largest request body accepted, in bytes; larger ones get resource_exhausted. */
  MAX_REQUEST_BYTES: positive.default(1_048_576),
  /** Per caller (token subject): calls per second on average, and at once after a pause. */
  RATE_LIMIT_PER_SECOND: positive.default(50),
  RATE_LIMIT_BURST: positive.default(100),
  /** Browser origins allowed to call (gRPC-Web, Connect), comma-separated; none by default. */
  CORS_ALLOWED_ORIGINS: z
    .string()
    .transform((list) =>
      list
        .split(",")
        .map((origin) => origin.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, "must be origins such as https://app.example.com")),
    )
    .default([]),
  /** OpenTelemetry: where spans are sent (OTLP/HTTP); without either, tracing is off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
    .optional(),
  /** The build's version, reported by `hexa_build_info`; the chart sets the image tag. */
  HEXA_VERSION: z.string().min(1).default("dev"),
  /** `service.name` of the spans; default the app's name (e.g. order, all-in-one). */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  OTEL_TRACES_SAMPLER: z.enum(samplerNames).default("parentbased_always_on"),
  /** Ratio of the traceidratio samplers. */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
});

/** Rules between variables, checked even when other variables are bad, so one start names every problem. */
const consistentEnvironment = environment
  .refine((env) => env.NOTIFICATION_CHANNEL !== "webhook" || env.NOTIFICATION_WEBHOOK_URL !== undefined, {
    path: ["NOTIFICATION_WEBHOOK_URL"],
    message: "required when NOTIFICATION_CHANNEL is webhook",
    when: () => true,
  })
  .refine((env) => !env.AUTH_JWKS_URL || env.AUTH_ISSUER !== undefined, {
    path: ["AUTH_ISSUER"],
    message: "required with AUTH_JWKS_URL",
    when: () => true,
  })
  .refine((env) => !env.AUTH_JWKS_URL || env.AUTH_AUDIENCE !== undefined, {
    path: ["AUTH_AUDIENCE"],
    message: "required with AUTH_JWKS_URL",
    when: () => true,
  })
  .refine((env) => !env.AUTH_CLIENT_TOKEN_URL || (env.AUTH_CLIENT_ID && env.AUTH_CLIENT_SECRET), {
    path: ["AUTH_CLIENT_ID"],
    message: "AUTH_CLIENT_ID and AUTH_CLIENT_SECRET are required with AUTH_CLIENT_TOKEN_URL",
    when: () => true,
  });

export type Environment = z.infer<typeof environment>;

/** Names every bad variable: one problem on one line, several as a list. */
export class ConfigurationError extends Error {
  constructor(problems: string[]) {
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`,
    );
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
