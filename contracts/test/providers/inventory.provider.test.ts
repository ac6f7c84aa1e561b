import type { Client } from "@connectrpc/connect";
import { inventoryModule } from "@hexa/adapters/vaccination/inventory/module";
import { reservationModule } from "@hexa/adapters/vaccination/reservation/module";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { afterAll, beforeAll, describe } from "vitest";
import { NOT_CALLED_URL, type RunningContext, startContext } from "../../src/context.ts";
import { messageProvidersOf } from "../../src/messages.ts";
import { verifiesPactsOf } from "../../src/provider.ts";
import { inventoryEvents } from "../../src/published/inventory.ts";
import { dayFromToday } from "../../src/published/reservation.ts";
import { world } from "../../src/published/world.ts";

/**
 * Inventory serves TakeBookingSlot to reservation, and publishes its hospitals', vaccines' and
 * stocks' events. The service runs as deployed (startServices, a real database, its Connect
 * server); provider states are set up through its public API only (RegisterHospital,
 * RegisterVaccine, SupplyVaccine, RegisterAvailableDoses), and name what they set up: the
 * hospital, the vaccine, a day a week ahead and a reservation id inventory has not seen.
 */
describe(`${inventoryModule.name} as a provider`, () => {
  let inventory: RunningContext;
  let stock: Client<typeof InventoryService>;

  beforeAll(async () => {
    // Its hold-expiry job, which alone calls reservation, finds no lapsed hold here.
    inventory = await startContext([inventoryModule], {
      serviceUrls: { [reservationModule.name]: NOT_CALLED_URL },
    });
    stock = inventory.client(InventoryService);
  });

  afterAll(async () => {
    await inventory?.stop();
  });

  /** A registered hospital and vaccine, nothing supplied: what a booking names. */
  async function registered() {
    const { hospital } = await stock.registerHospital({ name: "St Mary's", dailyCapacity: 20 });
    const { vaccine } = await stock.registerVaccine({ name: "Comirnaty", vials: 10, dosesRequired: 2 });
    return {
      reservationId: world.ids.next(),
      hospitalId: hospital?.hospitalId ?? "",
      vaccineId: vaccine?.vaccineId ?? "",
      date: dayFromToday(7),
    };
  }

  verifiesPactsOf(inventoryModule.name, () => ({
    providerBaseUrl: inventory.url,
    stateHandlers: {
      "hospital H has a bookable dose of vaccine V on date D": async () => {
        const booking = await registered();
        const { supply } = await stock.supplyVaccine({
          hospitalId: booking.hospitalId,
          vaccineId: booking.vaccineId,
          vials: 1,
        });
        await stock.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses: 5 });
        return booking;
      },
      "hospital H has no bookable dose of vaccine V": registered,
    },
    messageProviders: messageProvidersOf(inventoryEvents),
  }));
});
