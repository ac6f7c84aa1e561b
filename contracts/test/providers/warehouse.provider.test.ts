import { warehouseModule } from "@hexa/adapters/trial/warehouse/module";
import { describe } from "vitest";
import { messageProvidersOf } from "../../src/messages.ts";
import { verifiesPactsOf } from "../../src/provider.ts";
import { warehouseEvents } from "../../src/published/warehouse.ts";

/** Warehouse publishes the stock outcome of each order; each is produced by Reservation and its outbox encoder. */
describe(`${warehouseModule.name} as a provider`, () => {
  verifiesPactsOf(warehouseModule.name, () => ({ messageProviders: messageProvidersOf(warehouseEvents) }));
});
