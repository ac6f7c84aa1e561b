import { deliveryModule } from "@hexa/adapters/trial/delivery/module";
import { describe } from "vitest";
import { messageProvidersOf } from "../../src/messages.ts";
import { verifiesPactsOf } from "../../src/provider.ts";
import { deliveryEvents } from "../../src/published/delivery.ts";

/** Delivery publishes each step of a shipment; each is produced by Shipment and its outbox encoder. */
describe(`${deliveryModule.name} as a provider`, () => {
  verifiesPactsOf(deliveryModule.name, () => ({ messageProviders: messageProvidersOf(deliveryEvents) }));
});
