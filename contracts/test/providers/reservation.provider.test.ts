import { reservationModule } from "@hexa/adapters/vaccination/reservation/module";
import { describe } from "vitest";
import { messageProvidersOf } from "../../src/messages.ts";
import { verifiesPactsOf } from "../../src/provider.ts";
import { reservationEvents } from "../../src/published/reservation.ts";

/**
 * Reservation publishes each step of a reservation's life and the bookings it abandons; each is
 * produced by Reservation or AbandonedBooking and its outbox encoder.
 */
describe(`${reservationModule.name} as a provider`, () => {
  verifiesPactsOf(reservationModule.name, () => ({
    messageProviders: messageProvidersOf(reservationEvents),
  }));
});
