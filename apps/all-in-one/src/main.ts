// Every service of both suites in one process on one port. Without DATABASE_URL it runs an embedded
// PostgreSQL; without NATS_URL the embedded in-process bus carries the events. It also serves the
// API's description: /openapi.json, /asyncapi.json and the reference page /docs.
import { apiDocsRoutes } from "@hexa/adapters/apidocs/routes";
import { runApp } from "@hexa/adapters/runtime/app";
import { services } from "@hexa/adapters/services";

const modules = [...services.values()];
await runApp({ name: "all-in-one", modules, allInOne: true, httpRoutes: apiDocsRoutes(modules) });
