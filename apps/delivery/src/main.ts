// Composition root of the delivery service: deliveries and pickups. Needs DATABASE_URL and NATS_URL.
import { runApp } from "@hexa/adapters/runtime/app";
import { deliveryModule } from "@hexa/adapters/trial/delivery/module";

await runApp({ name: "delivery", modules: [deliveryModule], allInOne: false });
