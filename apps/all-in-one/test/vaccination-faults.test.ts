import { Code } from "@connectrpc/connect";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  ReservationService,
  ReservationStatus,
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationService, VaccinationStatus } from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import {
  connectJsonClient,
  createTestDatabase,
  describeWithNats,
  eventually,
  freePort,
  natsUrl,
  query,
  type RunningApp,
  refusal,
  startApp,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { afterAll, beforeAll, expect, it } from "vitest";

const SERVICES = ["inventory", "vaccination", "reservation"] as const;
type Service = (typeof SERVICES)[number];

describeWithNats("vaccination fault isolation, each service its own process", () => {
  let database: TestDatabase;
  const apps = new Map<Service, RunningApp>();
  const envs = new Map<Service, Record<string, string>>();
  const url = (service: Service) => `http://127.0.0.1:${envs.get(service)?.PORT}`;

  beforeAll(async () => {
    database = await createTestDatabase();
    const shared = { DATABASE_URL: database.url, NATS_URL: natsUrl(), BUS_NAMESPACE: uniqueNamespace() };
    for (const service of SERVICES) envs.set(service, { ...shared, PORT: String(await freePort()) });
    envs.set("reservation", { ...(envs.get("reservation") ?? {}), INVENTORY_URL: url("inventory") });
    envs.set("inventory", { ...(envs.get("inventory") ?? {}), RESERVATION_URL: url("reservation") });
    for (const service of SERVICES) apps.set(service, await startApp(service, envs.get(service) ?? {}));
  });

  afterAll(async () => {
    await Promise.all([...apps.values()].map((app) => app.stop()));
    await database?.drop();
  });

  const date = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);

  async function hospitalWithDoses(doses: number): Promise<{ hospitalId: string; vaccineId: string }> {
    const inventory = connectJsonClient(InventoryService, url("inventory"));
    const { hospital } = await inventory.registerHospital({ name: "Fault Hospital", dailyCapacity: 50 });
    const { vaccine } = await inventory.registerVaccine({ name: "Faultvax", vials: 100, dosesRequired: 2 });
    const hospitalId = hospital?.hospitalId ?? "";
    const vaccineId = vaccine?.vaccineId ?? "";
    const { supply } = await inventory.supplyVaccine({ hospitalId, vaccineId, vials: 10 });
    await inventory.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses });
    return { hospitalId, vaccineId };
  }

  it("records vaccinations while reservation is down; the reservation is VACCINATED once it is back", async () => {
    const { hospitalId, vaccineId } = await hospitalWithDoses(5);
    const reservations = connectJsonClient(ReservationService, url("reservation"));
    const booked = await reservations.reserve({ personId: "ada", hospitalId, vaccineId, date });
    if (booked.outcome.case !== "reservation") throw new Error("expected a reservation");
    const reservationId = booked.outcome.value.reservationId;
    // Reservation's ReservationRegistered is on the bus before it goes down, so vaccination hears
    // whose reservation it is while reservation is away.
    await eventually(async () => {
      const published = await query<{ published: boolean }>(
        database.url,
        `select published_at is not null as published from vaccination_reservation.outbox
          where aggregate_id = $1 and event_type = 'vaccination.reservation.v1.ReservationRegistered'`,
        [reservationId],
      );
      expect(published).toEqual([{ published: true }]);
    });

    await apps.get("reservation")?.stop();
    // The vaccination service knows the vaccine and hospital from inventory's events.
    const vaccination = connectJsonClient(VaccinationService, url("vaccination"));
    const { record } = await eventually(() =>
      vaccination.recordVaccination({ personId: "ada", hospitalId, vaccineId, reservationId }),
    );
    expect(record).toMatchObject({ doseNumber: 1, status: VaccinationStatus.IN_PROGRESS });

    apps.set("reservation", await startApp("reservation", envs.get("reservation") ?? {}));
    await eventually(
      async () => {
        const { reservation } = await connectJsonClient(
          ReservationService,
          url("reservation"),
        ).getReservation({
          reservationId,
        });
        expect(reservation?.status).toBe(ReservationStatus.VACCINATED);
      },
      20_000,
      200,
    );
  });

  it("refuses a dose for another person's reservation, even right after its Reserve, and a second booking of a vaccine, each naming its rule", async () => {
    const { hospitalId, vaccineId } = await hospitalWithDoses(5);
    const reservations = connectJsonClient(ReservationService, url("reservation"));
    const booked = await reservations.reserve({ personId: "cleo", hospitalId, vaccineId, date });
    if (booked.outcome.case !== "reservation") throw new Error("expected a reservation");
    const reservationId = booked.outcome.value.reservationId;

    // Right after the Reserve: vaccination hears of the reservation from ReservationRegistered, over
    // NATS. Until it has, dan's dose is refused as retryable; then as another person's. Never taken.
    const vaccination = connectJsonClient(VaccinationService, url("vaccination"));
    const answers = new Set<string>();
    const wrongPerson = await eventually(
      async () => {
        const error = await refusal(
          vaccination.recordVaccination({ personId: "dan", hospitalId, vaccineId, reservationId }),
        );
        answers.add(`${Code[error.code]} ${error.rawMessage.split(":")[0]}`);
        expect(error.rawMessage).toContain("reservation-must-be-the-persons");
        return error;
      },
      10_000,
      5,
    );
    expect(wrongPerson.code).toBe(Code.FailedPrecondition);
    for (const answer of answers) {
      expect([
        "Unavailable reservation-must-be-known",
        "FailedPrecondition reservation-must-be-the-persons",
      ]).toContain(answer);
    }
    expect((await vaccination.getPersonStatus({ personId: "dan" })).vaccinations).toEqual([]);

    const second = await refusal(reservations.reserve({ personId: "cleo", hospitalId, vaccineId, date }));
    expect(second.code).toBe(Code.FailedPrecondition);
    expect(second.rawMessage).toContain("one-outstanding-reservation-per-vaccine");
    expect((await reservations.getReservation({ reservationId })).reservation?.status).toBe(
      ReservationStatus.REGISTERED,
    );
    const inventory = connectJsonClient(InventoryService, url("inventory"));
    expect((await inventory.getHospitalStock({ hospitalId })).stocks[0]).toMatchObject({
      booked: 1,
      given: 0,
    });

    const { record } = await vaccination.recordVaccination({
      personId: "cleo",
      hospitalId,
      vaccineId,
      reservationId,
    });
    expect(record).toMatchObject({ personId: "cleo", reservationId, doseNumber: 1 });
  });

  it("offers the waitlist within the timeout while inventory is down, and books again once it is back", async () => {
    const { hospitalId, vaccineId } = await hospitalWithDoses(5);
    await apps.get("inventory")?.stop();
    const reservations = connectJsonClient(ReservationService, url("reservation"));
    const started = performance.now();
    const offer = await reservations.reserve({ personId: "bea", hospitalId, vaccineId, date });
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(offer.outcome).toMatchObject({
      case: "waitlistOffer",
      value: { reason: WaitlistOffer_Reason.INVENTORY_UNAVAILABLE },
    });

    apps.set("inventory", await startApp("inventory", envs.get("inventory") ?? {}));
    const booked = await eventually(
      async () => {
        const reply = await reservations.reserve({ personId: "bea", hospitalId, vaccineId, date });
        if (reply.outcome.case !== "reservation")
          throw new Error(`still ${JSON.stringify(reply.outcome.value)}`);
        return reply.outcome.value;
      },
      30_000,
      500,
    );
    expect(booked.status).toBe(ReservationStatus.REGISTERED);
  });
});
