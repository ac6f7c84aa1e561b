// `./hexa dead-letters list | replay <id>... | replay --all`: the events that failed every delivery
// attempt, and their replay. With NATS_URL they are read from JetStream's dead-letter stream;
// without it, from the embedded bus's table in DATABASE_URL, or in the running all-in-one's embedded
// PostgreSQL. A replay from the embedded bus's table is carried out by the running all-in-one.
import { createDeadLetterStore } from "@hexa/adapters/inprocess/dead-letters";
import { connectJetStreamBus } from "@hexa/adapters/jetstream/bus";
import { runDeadLettersCommand } from "@hexa/adapters/jetstream/dead-letters-cli";
import { openServiceDatabase } from "@hexa/adapters/postgres/database";
import { readEnvironment } from "@hexa/adapters/runtime/config";
import { pino } from "pino";

const env = readEnvironment();
const logger = pino({ level: "warn" });
const argv = process.argv.slice(2);

let code: number;
if (env.NATS_URL) {
  const bus = await connectJetStreamBus({
    url: env.NATS_URL,
    namespace: env.BUS_NAMESPACE ?? "",
    logger,
    name: "dead-letters",
  });
  code = await runDeadLettersCommand(argv, bus, process.stdout);
  await bus.close();
} else {
  const url =
    env.DATABASE_URL ?? `postgres://postgres:postgres@127.0.0.1:${env.EMBEDDED_POSTGRES_PORT}/postgres`;
  const store = await openServiceDatabase({
    url,
    schema: "hexa_bus",
    entities: [],
    migrations: [],
    logger,
  }).catch((error: unknown) => {
    console.error(
      `cannot reach the database of the embedded bus (${env.DATABASE_URL ? "DATABASE_URL" : `embedded PostgreSQL on port ${env.EMBEDDED_POSTGRES_PORT}`}): ${error instanceof Error ? error.message : error}\n` +
        "Start the all-in-one first (./hexa start), or set NATS_URL or DATABASE_URL.",
    );
    process.exit(1);
  });
  code = await runDeadLettersCommand(
    argv,
    { deadLetters: await createDeadLetterStore(store.execute) },
    process.stdout,
  );
  await store.close();
}
process.exit(code);
