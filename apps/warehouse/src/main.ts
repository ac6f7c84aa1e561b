// Composition root of the warehouse service: stock per product. Needs DATABASE_URL and NATS_URL.
import { runApp } from "@hexa/adapters/runtime/app";
import { warehouseModule } from "@hexa/adapters/trial/warehouse/module";

await runApp({ name: "warehouse", modules: [warehouseModule], allInOne: false });
