/**
 * Holds that cannot leak, with each service its own process over NATS: reservation is killed
 * (SIGKILL) in the middle of a burst of Reserves, so inventory holds doses for callers that died
 * before writing their reservation. Once reservation is back and answers that it holds no such
 * reservations, inventory releases every unconfirmed hold within the bound the README states (the
 * lease, here BOOKING_HOLD_LEASE_S=5, and a round of its job, once its breaker lets a call to
 * reservation through); then the books balance and new people book the freed doses.
 *
 * The other way round, on a NATS server of the test's own: while the bus is down longer than the
 * lease, people book and inventory never hears of it; the lapsed holds are confirmed on
 * reservation's word, kept while reservation is down too, and no reservation is cancelled.
 */
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { ReservationService } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import {
  connectJsonClient,
  createTestDatabase,
  describeWithNats,
  eventually,
  freePort,
  natsUrl,
  PrivateNats,
  query,
  type RunningApp,
  startApp,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { VaccinationBooks } from "./vaccination-books.ts";

const LEASE_S = 5;
/** The job's round (HOLD_EXPIRY.everyMs). */
const ROUND_S = 5;
const DOSES = 30;
/** How long inventory's breaker for reservation stays open before a trial call (RESERVATION_CALL). */
const HALF_OPEN_S = 10;

/** Inventory (with the test's lease) and reservation as processes of their own, calling each other. */
async function startInventoryAndReservation(shared: Record<string, string>) {
  const reservationPort = String(await freePort());
  const inventory = await startApp("inventory", {
    ...shared,
    PORT: String(await freePort()),
    BOOKING_HOLD_LEASE_S: String(LEASE_S),
    RESERVATION_URL: `http://127.0.0.1:${reservationPort}`,
  });
  const reservationEnv = { ...shared, PORT: reservationPort, INVENTORY_URL: inventory.url };
  return { inventory, reservationEnv, reservation: await startApp("reservation", reservationEnv) };
}

/** A hospital with DOSES available doses of a vaccine, the books to check, and a date two days on. */
async function stockedHospital(database: TestDatabase, inventory: RunningApp, name: string) {
  const stock = connectJsonClient(InventoryService, inventory.url);
  const { hospital } = await stock.registerHospital({ name: `${name} Hospital`, dailyCapacity: 100 });
  const { vaccine } = await stock.registerVaccine({ name: `${name}vax`, vials: 100, dosesRequired: 2 });
  const at = { hospitalId: hospital?.hospitalId ?? "", vaccineId: vaccine?.vaccineId ?? "" };
  const { supply } = await stock.supplyVaccine({ ...at, vials: 10 });
  await stock.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses: DOSES });
  return {
    at,
    books: new VaccinationBooks(database.url, inventory.url, at.hospitalId),
    date: new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10),
  };
}

describeWithNats("a reservation process killed during a burst leaks no hold", () => {
  let database: TestDatabase;
  let inventory: RunningApp;
  let reservation: RunningApp;
  let reservationEnv: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    ({ inventory, reservation, reservationEnv } = await startInventoryAndReservation({
      DATABASE_URL: database.url,
      NATS_URL: natsUrl(),
      BUS_NAMESPACE: uniqueNamespace(),
    }));
  });

  afterAll(async () => {
    await reservation?.stop();
    await inventory?.stop();
    await database?.drop();
  });

  it("releases the holds of the dead callers within the lease and a round; the freed doses book again", async () => {
    const { at, books, date } = await stockedHospital(database, inventory, "Leak");

    // A burst of Reserves; reservation dies once the first answers are back.
    const reservations = connectJsonClient(ReservationService, reservation.url);
    let answered = 0;
    let killed: Promise<void> | undefined;
    const burst = Array.from({ length: 60 }, (_, n) =>
      reservations
        .reserve({ personId: `burst-${n}`, ...at, date })
        .then(() => {
          answered += 1;
          if (answered === 5) killed = reservation.kill();
        })
        .catch(() => undefined),
    );
    await Promise.all(burst);
    await killed;
    const killedAt = performance.now();
    const heldAtKill = await books.booked();
    const outstandingAtKill = await books.outstanding();
    console.info(
      `[hold-leak] ${answered} answers before the kill; inventory held ${heldAtKill}, reservation had ${outstandingAtKill} outstanding`,
    );

    reservation = await startApp("reservation", reservationEnv);

    // Within the bound: every hold inventory keeps is an outstanding reservation, and none beyond the doses.
    await eventually(
      async () => {
        const held = await books.booked();
        expect(await books.unconfirmed()).toBe(0);
        expect(held).toBe(await books.outstanding());
      },
      (LEASE_S + ROUND_S + HALF_OPEN_S + 10) * 1_000,
      250,
    );
    console.info(`[hold-leak] books balanced ${Math.round(performance.now() - killedAt)} ms after the kill`);
    await books.expectBalanced(100);

    // New people book the freed doses, every one of them, and no more.
    const again = connectJsonClient(ReservationService, reservation.url);
    const free = DOSES - (await books.booked());
    const late = await Promise.all(
      Array.from({ length: free + 5 }, (_, n) => again.reserve({ personId: `later-${n}`, ...at, date })),
    );
    expect(late.filter(({ outcome }) => outcome.case === "reservation")).toHaveLength(free);
    await eventually(async () => {
      expect(await books.booked()).toBe(DOSES);
      expect(await books.outstanding()).toBe(DOSES);
    });
    await books.expectBalanced(100);
  }, 120_000);
});

describeWithNats("a bus outage longer than the hold's lease cancels no reservation", () => {
  let database: TestDatabase;
  let nats: PrivateNats;
  let inventory: RunningApp;
  let reservation: RunningApp;
  let reservationEnv: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    // A NATS server of the test's own: the outage is its SIGKILL, never the run's shared server's.
    nats = new PrivateNats(await freePort());
    await nats.start();
    ({ inventory, reservation, reservationEnv } = await startInventoryAndReservation({
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
    }));
  });

  afterAll(async () => {
    await reservation?.stop();
    await inventory?.stop();
    await nats?.remove();
    await database?.drop();
  });

  it("keeps the holds of people who booked while inventory heard nothing, also while reservation is down, and cancels none", async () => {
    const { at, books, date } = await stockedHospital(database, inventory, "Outage");
    const reserve = async (personId: string) => {
      const { outcome } = await connectJsonClient(ReservationService, reservation.url).reserve({
        personId,
        ...at,
        date,
      });
      expect(outcome.case).toBe("reservation");
    };

    // The bus goes down: Reserve still books (its call to inventory is synchronous), but inventory
    // never hears the ReservationRegistered that would confirm the holds.
    await nats.kill();
    for (let n = 0; n < 6; n++) await reserve(`outage-${n}`);
    expect(await books.unconfirmed()).toBe(6);

    // Past the lease and a round, inventory asks reservation, which holds them: all confirmed.
    await eventually(
      async () => expect(await books.unconfirmed()).toBe(0),
      (LEASE_S + ROUND_S + 5) * 1_000,
      250,
    );
    expect(await books.held()).toBe(6);

    // More people book, then reservation dies too: their holds lapse with nobody to answer, and stay.
    for (let n = 0; n < 4; n++) await reserve(`outage-late-${n}`);
    await reservation.kill();
    await new Promise((resolve) => setTimeout(resolve, (LEASE_S + 2 * ROUND_S) * 1_000));
    expect(await books.unconfirmed()).toBe(4);
    expect(await books.held()).toBe(10);

    // Reservation back: the first round that reaches it confirms them.
    reservation = await startApp("reservation", reservationEnv);
    await eventually(
      async () => expect(await books.unconfirmed()).toBe(0),
      (ROUND_S + HALF_OPEN_S + 10) * 1_000,
      250,
    );
    expect(await books.held()).toBe(10);

    // The bus back: the late events flow; no hold was released, no reservation is cancelled.
    await nats.start();
    await eventually(
      async () => {
        const [row] = await query<{ heard: number; expired: number; unpublished: number }>(
          database.url,
          `select (select count(*)::int from vaccination_inventory.inbox
                    where consumer = 'inventory-reservation-registered') as heard,
                  (select count(*)::int from vaccination_inventory.outbox
                    where event_type = 'vaccination.inventory.v1.BookingHoldsExpired') as expired,
                  (select count(*)::int from vaccination_reservation.outbox where published_at is null) as unpublished`,
        );
        expect(row).toEqual({ heard: 10, expired: 0, unpublished: 0 });
      },
      30_000,
      250,
    );
    expect(await books.cancelledForExpiredHolds()).toBe(0);
    expect(await books.outstanding()).toBe(10);
    await books.expectBalanced(100);
  }, 150_000);
});
