import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { inventoryModule } from "@hexa/adapters/vaccination/inventory/module";
import { reservationModule } from "@hexa/adapters/vaccination/reservation/module";
import { vaccinationModule } from "@hexa/adapters/vaccination/vaccination/module";
import {
  HospitalRegisteredSchema,
  StockChangedSchema,
  VaccineRegisteredSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import { ReservationRegisteredSchema } from "@hexa/proto/vaccination/reservation/v1/events_pb";
import { VaccinationService, VaccinationStatus } from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import type { PactV4 } from "@pact-foundation/pact";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerPact, EXAMPLE_TIME, exampleId, receivesEvent, setUpEvent } from "../../src/consumer.ts";
import { type RunningContext, startContext } from "../../src/context.ts";
import { anyInteger, anyText, anyTimestamp, anyUuid, STOCK_ID_PATTERN } from "../../src/messages.ts";

/**
 * Vaccination keeps replicas of inventory's vaccines, hospitals and bookable doses, so that a dose
 * is recorded while inventory is down. Each example message goes to the consumer vaccination's
 * policies subscribed (inbox included, on a real database); the effect is read through
 * RecordVaccination: a walk-in dose needs all three, and reports the vaccine's doses required.
 */
describe(`${vaccinationModule.name} consumes events`, () => {
  let vaccination: RunningContext;
  let doses: Client<typeof VaccinationService>;
  let fromInventory: PactV4;
  let fromReservation: PactV4;

  beforeAll(async () => {
    vaccination = await startContext([vaccinationModule]);
    doses = vaccination.client(VaccinationService);
    fromInventory = consumerPact(vaccinationModule.name, inventoryModule.name);
    fromReservation = consumerPact(vaccinationModule.name, reservationModule.name);
  });

  afterAll(async () => {
    await vaccination?.stop();
  });

  // Set-up, not under contract: what inventory tells vaccination besides the example's event.
  async function vaccineKnown(vaccineId: string): Promise<void> {
    const registered = { vaccineId, name: "Comirnaty", dosesRequired: 2 };
    const event = setUpEvent(VaccineRegisteredSchema, vaccineId, registered);
    await vaccination.consumer(VaccineRegisteredSchema.typeName).handle(event);
  }

  async function hospitalKnown(hospitalId: string): Promise<void> {
    const registered = { hospitalId, name: "St Mary's", dailyCapacity: 20 };
    const event = setUpEvent(HospitalRegisteredSchema, hospitalId, registered);
    await vaccination.consumer(HospitalRegisteredSchema.typeName).handle(event);
  }

  async function stockKnown(hospitalId: string, vaccineId: string): Promise<void> {
    const counts = { hospitalId, vaccineId, available: 5, remaining: 5, bookable: 5 };
    const event = setUpEvent(StockChangedSchema, `${hospitalId}/${vaccineId}`, counts);
    await vaccination.consumer(StockChangedSchema.typeName).handle(event);
  }

  function walkIn(personId: string, hospitalId: string, vaccineId: string) {
    return doses.recordVaccination({ personId, hospitalId, vaccineId });
  }

  /** Refused until the event arrives: retryable, naming the rule. */
  async function refusedWith(call: Promise<unknown>, rule: string): Promise<void> {
    const error = await call.then(
      () => undefined,
      (thrown: unknown) => ConnectError.from(thrown),
    );
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toContain(rule);
  }

  it("VaccineRegistered: doses of the vaccine are recorded, against its doses required", async () => {
    const [hospitalId, vaccineId] = [exampleId(0x9a1), exampleId(0x9b1)];
    await hospitalKnown(hospitalId);
    await stockKnown(hospitalId, vaccineId);
    await refusedWith(walkIn("person-1", hospitalId, vaccineId), "vaccine-must-be-registered");
    await receivesEvent(
      fromInventory,
      {
        schema: VaccineRegisteredSchema,
        eventId: exampleId(0x91),
        aggregateId: vaccineId,
        occurredAt: EXAMPLE_TIME,
        body: {
          vaccineId: anyUuid(vaccineId),
          name: anyText("Comirnaty"),
          dosesRequired: anyInteger(2),
          registeredAt: anyTimestamp(EXAMPLE_TIME),
        },
      },
      async (event) => {
        await vaccination.consumer(VaccineRegisteredSchema.typeName).handle(event);
        const { record } = await walkIn("person-1", hospitalId, vaccineId);
        expect(record).toMatchObject({
          doseNumber: 1,
          dosesRequired: 2,
          status: VaccinationStatus.IN_PROGRESS,
        });
      },
    );
  });

  it("HospitalRegistered: doses given at the hospital are recorded", async () => {
    const [hospitalId, vaccineId] = [exampleId(0x9a2), exampleId(0x9b2)];
    await vaccineKnown(vaccineId);
    await stockKnown(hospitalId, vaccineId);
    await refusedWith(walkIn("person-2", hospitalId, vaccineId), "hospital-must-be-registered");
    await receivesEvent(
      fromInventory,
      {
        schema: HospitalRegisteredSchema,
        eventId: exampleId(0x92),
        aggregateId: hospitalId,
        occurredAt: EXAMPLE_TIME,
        body: {
          hospitalId: anyUuid(hospitalId),
          name: anyText("St Mary's"),
          registeredAt: anyTimestamp(EXAMPLE_TIME),
        },
      },
      async (event) => {
        await vaccination.consumer(HospitalRegisteredSchema.typeName).handle(event);
        const { record } = await walkIn("person-2", hospitalId, vaccineId);
        expect(record).toMatchObject({ hospitalId, vaccineId, doseNumber: 1 });
      },
    );
  });

  it("ReservationRegistered: a dose recorded with the reservation is taken, and only for its person", async () => {
    const [hospitalId, vaccineId, reservationId] = [exampleId(0x9a4), exampleId(0x9b4), exampleId(0x9c4)];
    await vaccineKnown(vaccineId);
    await hospitalKnown(hospitalId);
    const withReservation = (personId: string) =>
      doses.recordVaccination({ personId, hospitalId, vaccineId, reservationId });
    await refusedWith(withReservation("person-4"), "reservation-must-be-known");
    await receivesEvent(
      fromReservation,
      {
        schema: ReservationRegisteredSchema,
        eventId: exampleId(0x94),
        aggregateId: reservationId,
        occurredAt: EXAMPLE_TIME,
        body: { reservation: { reservationId: anyUuid(reservationId), personId: anyText("person-4") } },
      },
      async (event) => {
        await vaccination.consumer(ReservationRegisteredSchema.typeName).handle(event);
        const wrongPerson = await withReservation("person-5").then(
          () => undefined,
          (thrown: unknown) => ConnectError.from(thrown),
        );
        expect(wrongPerson?.code).toBe(Code.FailedPrecondition);
        expect(wrongPerson?.rawMessage).toContain("reservation-must-be-the-persons");
        const { record } = await withReservation("person-4");
        expect(record).toMatchObject({ personId: "person-4", reservationId, doseNumber: 1 });
      },
    );
  });

  it("StockChanged: a walk-in takes a dose the hospital has bookable", async () => {
    const [hospitalId, vaccineId] = [exampleId(0x9a3), exampleId(0x9b3)];
    await vaccineKnown(vaccineId);
    await hospitalKnown(hospitalId);
    await refusedWith(walkIn("person-3", hospitalId, vaccineId), "hospital-must-have-a-bookable-dose");
    await receivesEvent(
      fromInventory,
      {
        schema: StockChangedSchema,
        eventId: exampleId(0x93),
        aggregateId: `${hospitalId}/${vaccineId}`,
        aggregateIdPattern: STOCK_ID_PATTERN,
        occurredAt: EXAMPLE_TIME,
        // The changes arrive in any order: the newest by its time is kept.
        body: {
          hospitalId: anyUuid(hospitalId),
          vaccineId: anyUuid(vaccineId),
          bookable: anyInteger(4),
          changedAt: anyTimestamp(EXAMPLE_TIME),
        },
      },
      async (event) => {
        await vaccination.consumer(StockChangedSchema.typeName).handle(event);
        const { record } = await walkIn("person-3", hospitalId, vaccineId);
        expect(record).toMatchObject({ hospitalId, vaccineId, doseNumber: 1 });
      },
    );
  });
});
