import type { Client } from "@connectrpc/connect";
import { inventoryModule } from "@hexa/adapters/vaccination/inventory/module";
import { reservationModule } from "@hexa/adapters/vaccination/reservation/module";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { ReservationService } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { NOT_CALLED_URL, type RunningContext, startContext } from "../../src/context.ts";
import { messageProvidersOf } from "../../src/messages.ts";
import { verifiesPactsOf } from "../../src/provider.ts";
import { dayFromToday, reservationEvents } from "../../src/published/reservation.ts";
import { world } from "../../src/published/world.ts";

/**
 * Reservation serves GetOutstandingReservations to inventory, and publishes each step of a
 * reservation's life and the bookings it abandons; each event is produced by Reservation or
 * AbandonedBooking and its outbox encoder. The service runs as deployed (startServices, a real
 * database, its Connect server), booking through a real inventory of its own; provider states are
 * set up through the public API only (Reserve), and name the reservations they set up.
 */
describe(`${reservationModule.name} as a provider`, () => {
  let inventory: RunningContext;
  let reservation: RunningContext;
  let stock: Client<typeof InventoryService>;
  let reservations: Client<typeof ReservationService>;

  beforeAll(async () => {
    // Inventory's hold-expiry job, which alone calls reservation, finds no lapsed hold here.
    inventory = await startContext([inventoryModule], {
      serviceUrls: { [reservationModule.name]: NOT_CALLED_URL },
    });
    reservation = await startContext([reservationModule], {
      serviceUrls: { [inventoryModule.name]: inventory.url },
    });
    stock = inventory.client(InventoryService);
    reservations = reservation.client(ReservationService);
  });

  afterAll(async () => {
    await reservation?.stop();
    await inventory?.stop();
  });

  /** A REGISTERED reservation of a new person at a new hospital with doses, booked through Reserve. */
  async function registered(): Promise<string> {
    const { hospital } = await stock.registerHospital({ name: "St Mary's", dailyCapacity: 20 });
    const { vaccine } = await stock.registerVaccine({ name: "Comirnaty", vials: 10, dosesRequired: 2 });
    const at = { hospitalId: hospital?.hospitalId ?? "", vaccineId: vaccine?.vaccineId ?? "" };
    const { supply } = await stock.supplyVaccine({ ...at, vials: 1 });
    await stock.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses: 5 });
    const { outcome } = await reservations.reserve({
      personId: `person-${world.ids.next().slice(-8)}`,
      ...at,
      date: dayFromToday(7),
    });
    expect(outcome.case).toBe("reservation");
    return outcome.case === "reservation" ? outcome.value.reservationId : "";
  }

  verifiesPactsOf(reservationModule.name, () => ({
    providerBaseUrl: reservation.url,
    stateHandlers: {
      "reservation R is REGISTERED and reservation N was never booked": async () => ({
        registered: await registered(),
        neverBooked: world.ids.next(),
      }),
    },
    messageProviders: messageProvidersOf(reservationEvents),
  }));
});
