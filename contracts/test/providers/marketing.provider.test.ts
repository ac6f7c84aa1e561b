import { marketingModule } from "@hexa/adapters/trial/marketing/module";
import { describe } from "vitest";
import { messageProvidersOf } from "../../src/messages.ts";
import { verifiesPactsOf } from "../../src/provider.ts";
import { marketingEvents } from "../../src/published/marketing.ts";

/** Marketing publishes plan events; each is produced by TrialPlan and its outbox encoder. */
describe(`${marketingModule.name} as a provider`, () => {
  verifiesPactsOf(marketingModule.name, () => ({ messageProviders: messageProvidersOf(marketingEvents) }));
});
