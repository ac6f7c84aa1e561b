// `migrate <service>...`: applies the named services' database migrations (the platform's outbox and
// inbox tables, then the service's own) to DATABASE_URL, each in its own schema, and exits. The
// Helm chart runs it as a pre-install and pre-upgrade Job, so a migration that fails stops the
// release before any new pod starts. Services still migrate at start; after this command that is a
// no-op. Exit codes: 0 done, 1 a migration failed, 2 bad arguments or configuration.
import { openServiceDatabase } from "@hexa/adapters/postgres/database";
import { platformMigrations } from "@hexa/adapters/postgres/platform-tables";
import type { ServiceModule } from "@hexa/adapters/runtime/service-module";
import { services as modules } from "@hexa/adapters/services";
import { pino } from "pino";
import { commandLine, configuration, usageError } from "./cli.ts";

const usage = `usage: ./hexa migrate <service>...

Applies the services' migrations to DATABASE_URL, each in its own schema, and exits.
services: ${[...modules.keys()].join(", ")}`;

const { positionals: names } = commandLine(usage, {}, true);
const unknown = names.filter((name) => !modules.has(name));
if (names.length === 0) usageError("name at least one service", usage);
if (unknown.length > 0) usageError(`unknown service: ${unknown.join(", ")}`, usage);

const env = configuration();
const databaseUrl = env.DATABASE_URL;
if (!databaseUrl) {
  console.error("invalid configuration: DATABASE_URL: required to migrate");
  process.exit(2);
}

const logger = pino({ level: env.LOG_LEVEL, base: { app: "migrate" } });
let failed = false;
for (const name of new Set(names)) {
  const module = modules.get(name) as ServiceModule;
  const started = performance.now();
  try {
    // Opening a service's database applies its pending migrations, in name order, and records them.
    const db = await openServiceDatabase({
      url: databaseUrl,
      schema: module.schema,
      entities: module.entities,
      migrations: [...platformMigrations, ...module.migrations],
      logger: logger.child({ service: name }),
      poolSize: 1,
    });
    await db.close();
    logger.info(
      { service: name, schema: module.schema, durationMs: Math.round(performance.now() - started) },
      "schema up to date",
    );
  } catch (error) {
    failed = true;
    logger.error({ err: error, service: name, schema: module.schema }, "migration failed");
    break;
  }
}
process.exit(failed ? 1 : 0);
