// Composition root of the marketing service: trial plans. Needs DATABASE_URL and NATS_URL.
import { runApp } from "@hexa/adapters/runtime/app";
import { marketingModule } from "@hexa/adapters/trial/marketing/module";

await runApp({ name: "marketing", modules: [marketingModule], allInOne: false });
