// Composition root of the reservation service: bookings and waitlists. Needs DATABASE_URL, NATS_URL
// and INVENTORY_URL (the inventory service it books doses and date slots from).
import { runApp } from "@hexa/adapters/runtime/app";
import { reservationModule } from "@hexa/adapters/vaccination/reservation/module";

await runApp({ name: "reservation", modules: [reservationModule], allInOne: false });
