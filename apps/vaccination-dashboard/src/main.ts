// Composition root of the vaccination dashboard service: the suite's status queries, read from the
// events inventory, reservation and vaccination publish. Needs DATABASE_URL and NATS_URL.
import { runApp } from "@hexa/adapters/runtime/app";
import { vaccinationDashboardModule } from "@hexa/adapters/vaccination/dashboard/module";

await runApp({ name: "vaccination-dashboard", modules: [vaccinationDashboardModule], allInOne: false });
