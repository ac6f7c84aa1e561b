// Composition root of the dashboard service: every order's status, read from the events order and
// delivery publish. Needs DATABASE_URL and NATS_URL.
import { runApp } from "@hexa/adapters/runtime/app";
import { dashboardModule } from "@hexa/adapters/trial/dashboard/module";

await runApp({ name: "dashboard", modules: [dashboardModule], allInOne: false });
