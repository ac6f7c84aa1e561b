// Composition root of the inventory service: hospitals, vaccines, supplies, stock and the bookable
// capacity (doses per hospital and vaccine, slots per hospital and date). Needs DATABASE_URL, NATS_URL
// and RESERVATION_URL (the reservation service it asks before it releases a lapsed booking hold).
import { runApp } from "@hexa/adapters/runtime/app";
import { inventoryModule } from "@hexa/adapters/vaccination/inventory/module";

await runApp({ name: "inventory", modules: [inventoryModule], allInOne: false });
