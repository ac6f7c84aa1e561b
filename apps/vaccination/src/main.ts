// Composition root of the vaccination service: the doses hospitals give. Needs DATABASE_URL and NATS_URL.
import { runApp } from "@hexa/adapters/runtime/app";
import { vaccinationModule } from "@hexa/adapters/vaccination/vaccination/module";

await runApp({ name: "vaccination", modules: [vaccinationModule], allInOne: false });
