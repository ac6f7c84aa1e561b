// Composition root of the order service: trial orders. Needs DATABASE_URL and NATS_URL.
import { runApp } from "@hexa/adapters/runtime/app";
import { orderModule } from "@hexa/adapters/trial/order/module";

await runApp({ name: "order", modules: [orderModule], allInOne: false });
