// `./hexa dead-letters list | replay <id>... | replay --all`: the events that failed every delivery
// attempt, and their replay. With NATS_URL they are read from JetStream's dead-letter stream (under
// BUS_NAMESPACE); without it, from the embedded bus's table in DATABASE_URL, or in the running
// all-in-one's embedded PostgreSQL (EMBEDDED_POSTGRES_PORT). The configuration is the server's, read
// the same way. A replay from the embedded bus's table is carried out by the running all-in-one.
import { createDeadLetterStore } from "@hexa/adapters/inprocess/dead-letters";
import { connectJetStreamBus } from "@hexa/adapters/jetstream/bus";
import {
  deadLettersUsage,
  parseDeadLettersArgs,
  runDeadLettersCommand,
} from "@hexa/adapters/jetstream/dead-letters-cli";
import { openServiceDatabase } from "@hexa/adapters/postgres/database";
import { embeddedPostgresUrl } from "@hexa/adapters/postgres/embedded";
import { pino } from "pino";
import { configuration } from "./cli.ts";

const request = parseDeadLettersArgs(process.argv.slice(2));
if (request.command === "usage") {
  const where = request.code === 0 ? process.stdout : process.stderr;
  where.write(
    request.text === deadLettersUsage
      ? `${request.text}\nThe bus is the server's: NATS_URL and BUS_NAMESPACE, else the embedded bus in DATABASE_URL or\nthe all-in-one's embedded PostgreSQL on EMBEDDED_POSTGRES_PORT (default 5433).\n`
      : request.text,
  );
  process.exit(request.code);
}
const env = configuration();
const logger = pino({ level: "warn" });

let code: number;
if (env.NATS_URL) {
  const bus = await connectJetStreamBus({
    url: env.NATS_URL,
    namespace: env.BUS_NAMESPACE ?? "",
    logger,
    name: "dead-letters",
  });
  code = await runDeadLettersCommand(request, bus, process.stdout);
  await bus.close();
} else {
  const url = env.DATABASE_URL ?? embeddedPostgresUrl(env.EMBEDDED_POSTGRES_PORT);
  const store = await openServiceDatabase({
    url,
    schema: "hexa_bus",
    entities: [],
    migrations: [],
    logger,
  }).catch((error: unknown) => {
    console.error(
      `cannot reach the database of the embedded bus (${env.DATABASE_URL ? "DATABASE_URL" : `embedded PostgreSQL on EMBEDDED_POSTGRES_PORT ${env.EMBEDDED_POSTGRES_PORT}`}): ${error instanceof Error ? error.message : error}\n` +
        "Start the all-in-one first (./hexa start) with the same EMBEDDED_POSTGRES_PORT, or set NATS_URL or DATABASE_URL as the server has them.",
    );
    process.exit(1);
  });
  code = await runDeadLettersCommand(
    request,
    { deadLetters: await createDeadLetterStore(store.execute) },
    process.stdout,
  );
  await store.close();
}
process.exit(code);
