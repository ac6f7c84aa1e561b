import { vaccinationModule } from "@hexa/adapters/vaccination/vaccination/module";
import { describe } from "vitest";
import { messageProvidersOf } from "../../src/messages.ts";
import { verifiesPactsOf } from "../../src/provider.ts";
import { vaccinationEvents } from "../../src/published/vaccination.ts";

/** Vaccination publishes each dose given; it is produced by PersonVaccination and its outbox encoder. */
describe(`${vaccinationModule.name} as a provider`, () => {
  verifiesPactsOf(vaccinationModule.name, () => ({
    messageProviders: messageProvidersOf(vaccinationEvents),
  }));
});
