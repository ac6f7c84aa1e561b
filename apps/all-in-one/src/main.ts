// Every service of both suites in one process on one port. Without DATABASE_URL it runs an embedded
// PostgreSQL; without NATS_URL the embedded in-process bus carries the events.
import { runApp } from "@hexa/adapters/runtime/app";
import { services } from "@hexa/adapters/services";

await runApp({ name: "all-in-one", modules: [...services.values()], allInOne: true });
