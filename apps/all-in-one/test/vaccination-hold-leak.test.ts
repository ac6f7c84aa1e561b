/**
 * Holds that cannot leak, with each service its own process over NATS: reservation is killed
 * (SIGKILL) in the middle of a burst of Reserves, so inventory holds doses for callers that died
 * before writing their reservation. Inventory releases every unconfirmed hold within the bound the
 * README states (the lease, here BOOKING_HOLD_LEASE_S=5, and one 5 s round of its job); then the
 * books balance and new people book the freed doses.
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
  query,
  type RunningApp,
  startApp,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { afterAll, beforeAll, expect, it } from "vitest";

const LEASE_S = 5;
/** The job's round (HOLD_EXPIRY.everyMs). */
const ROUND_S = 5;
const DOSES = 30;

describeWithNats("a reservation process killed during a burst leaks no hold", () => {
  let database: TestDatabase;
  let inventory: RunningApp;
  let reservation: RunningApp;
  let reservationEnv: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    const shared = { DATABASE_URL: database.url, NATS_URL: natsUrl(), BUS_NAMESPACE: uniqueNamespace() };
    const inventoryPort = String(await freePort());
    inventory = await startApp("inventory", {
      ...shared,
      PORT: inventoryPort,
      BOOKING_HOLD_LEASE_S: String(LEASE_S),
    });
    reservationEnv = { ...shared, PORT: String(await freePort()), INVENTORY_URL: inventory.url };
    reservation = await startApp("reservation", reservationEnv);
  });

  afterAll(async () => {
    await reservation?.stop();
    await inventory?.stop();
    await database?.drop();
  });

  it("releases the holds of the dead callers within the lease and a round; the freed doses book again", async () => {
    const stock = connectJsonClient(InventoryService, inventory.url);
    const { hospital } = await stock.registerHospital({ name: "Leak Hospital", dailyCapacity: 100 });
    const { vaccine } = await stock.registerVaccine({ name: "Leakvax", vials: 100, dosesRequired: 2 });
    const at = { hospitalId: hospital?.hospitalId ?? "", vaccineId: vaccine?.vaccineId ?? "" };
    const { supply } = await stock.supplyVaccine({ ...at, vials: 10 });
    await stock.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses: DOSES });
    const date = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);

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
    const heldAtKill = await booked(at.hospitalId);
    const outstandingAtKill = await outstanding(at.hospitalId);
    console.info(
      `[hold-leak] ${answered} answers before the kill; inventory held ${heldAtKill}, reservation had ${outstandingAtKill} outstanding`,
    );

    reservation = await startApp("reservation", reservationEnv);

    // Within the bound: every hold inventory keeps is an outstanding reservation, and none beyond the doses.
    await eventually(
      async () => {
        const held = await booked(at.hospitalId);
        expect(await unconfirmed(at.hospitalId)).toBe(0);
        expect(held).toBe(await outstanding(at.hospitalId));
      },
      (LEASE_S + ROUND_S + 10) * 1_000,
      250,
    );
    console.info(`[hold-leak] books balanced ${Math.round(performance.now() - killedAt)} ms after the kill`);
    await expectBooksBalance(at.hospitalId);

    // New people book the freed doses, every one of them, and no more.
    const again = connectJsonClient(ReservationService, reservation.url);
    const free = DOSES - (await booked(at.hospitalId));
    const late = await Promise.all(
      Array.from({ length: free + 5 }, (_, n) => again.reserve({ personId: `later-${n}`, ...at, date })),
    );
    expect(late.filter(({ outcome }) => outcome.case === "reservation")).toHaveLength(free);
    await eventually(async () => {
      expect(await booked(at.hospitalId)).toBe(DOSES);
      expect(await outstanding(at.hospitalId)).toBe(DOSES);
    });
    await expectBooksBalance(at.hospitalId);
  }, 120_000);

  async function booked(hospitalId: string): Promise<number> {
    const { stocks } = await connectJsonClient(InventoryService, inventory.url).getHospitalStock({
      hospitalId,
    });
    return stocks[0]?.booked ?? 0;
  }

  async function count(sql: string, hospitalId: string): Promise<number> {
    const [row] = await query<{ n: number }>(database.url, sql, [hospitalId]);
    return row?.n ?? 0;
  }

  function outstanding(hospitalId: string): Promise<number> {
    return count(
      `select count(*)::int as n from vaccination_reservation.reservation
        where hospital_id = $1 and status in ('REGISTERED', 'CONFIRMED')`,
      hospitalId,
    );
  }

  function unconfirmed(hospitalId: string): Promise<number> {
    return count(
      `select count(*)::int as n from vaccination_inventory.booking
        where hospital_id = $1 and status = 'BOOKED' and hold_until is not null`,
      hospitalId,
    );
  }

  /** Bookings held by inventory = its booked count = reservations outstanding <= doses remaining, per date <= capacity. */
  async function expectBooksBalance(hospitalId: string): Promise<void> {
    await eventually(async () => {
      const { stocks } = await connectJsonClient(InventoryService, inventory.url).getHospitalStock({
        hospitalId,
      });
      const held = await count(
        "select count(*)::int as n from vaccination_inventory.booking where hospital_id = $1 and status = 'BOOKED'",
        hospitalId,
      );
      const taken = await count(
        "select coalesce(sum(taken), 0)::int as n from vaccination_inventory.date_capacity where hospital_id = $1",
        hospitalId,
      );
      expect(held).toBe(stocks[0]?.booked);
      expect(held).toBe(await outstanding(hospitalId));
      expect(taken).toBe(held);
      expect(held).toBeLessThanOrEqual(stocks[0]?.remaining ?? 0);
      expect(taken).toBeLessThanOrEqual(100);
    }, 20_000);
  }
});
