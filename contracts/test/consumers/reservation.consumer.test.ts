import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createResilientClient } from "@hexa/adapters/resilience/client";
import { createCallPolicy } from "@hexa/adapters/resilience/policy";
import { inventoryModule } from "@hexa/adapters/vaccination/inventory/module";
import {
  createReservationModule,
  INVENTORY_CALL,
  reservationModule,
} from "@hexa/adapters/vaccination/reservation/module";
import { vaccinationModule } from "@hexa/adapters/vaccination/vaccination/module";
import {
  BookableDosesAvailableSchema,
  BookingHoldsExpiredSchema,
  BookingsReleasedForDiscardSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import {
  InventoryService,
  TakeBookingSlotResponse_Outcome,
} from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { WaitlistAlertedSchema } from "@hexa/proto/vaccination/reservation/v1/events_pb";
import {
  CancellationReason,
  ReservationService,
  ReservationStatus,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { eventually } from "@hexa/testing";
import { MatchersV3, type PactV4 } from "@pact-foundation/pact";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerPact, EXAMPLE_TIME, exampleId, receivesEvent } from "../../src/consumer.ts";
import { NOT_CALLED_URL, type RunningContext, startContext } from "../../src/context.ts";
import { anyDay, anyInteger, anyUuid, PERSON_ID_PATTERN, STOCK_ID_PATTERN } from "../../src/messages.ts";
import { dayFromToday } from "../../src/published/reservation.ts";

/**
 * Reservation calls inventory's TakeBookingSlot synchronously, and consumes inventory's discards
 * and bookable doses, and vaccination's recorded doses. Both the call and inventory's events are
 * in one pact (reservation-inventory.json), as they are one relation between the two services.
 */

const TAKE_BOOKING_SLOT = `/${InventoryService.typeName}/${InventoryService.method.takeBookingSlot.name}`;
const HOSPITAL = exampleId(0x7a1);
const VACCINE = exampleId(0x7b1);
const DAY = "2030-06-03";
const RESERVATION = exampleId(0x7c1);

/**
 * Reservation's client of inventory, as inventory.ts builds it (the generated client under the
 * module's call policy, TakeBookingSlot idempotent by reservation id), pointed at `baseUrl`. Only
 * the transport speaks Connect JSON over HTTP/1.1, which the mock server understands, instead of
 * reservation's binary over HTTP/2; both carry the same messages, and buf breaking guards both
 * wire forms of the proto.
 */
function reservationsInventoryClient(baseUrl: string) {
  return createResilientClient(
    InventoryService,
    createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    createCallPolicy({
      name: inventoryModule.name,
      logger: pino({ level: "silent" }),
      timeoutMs: INVENTORY_CALL.timeoutMs,
      retry: INVENTORY_CALL.retry,
      breaker: INVENTORY_CALL.breaker,
    }),
    { idempotent: ["takeBookingSlot"] },
  );
}

/** What the provider state names, as a Pact provider-state expression with its example. */
function fromState(name: string, example: string) {
  return MatchersV3.fromProviderState(`\${${name}}`, example);
}

function takeBookingSlot(pact: PactV4, state: string, description: string, outcome: string) {
  return pact
    .addInteraction()
    .given(state, { reservationId: RESERVATION, hospitalId: HOSPITAL, vaccineId: VACCINE, date: DAY })
    .uponReceiving(description)
    .withRequest("POST", TAKE_BOOKING_SLOT, (request) =>
      request
        .headers({ "Content-Type": "application/json", "Connect-Protocol-Version": "1" })
        // The provider state sets up its own hospital, vaccine and day (today or later) and names
        // them, with a reservation id inventory has not seen (the call is idempotent by it); the
        // mock server answers for the examples.
        .jsonBody({
          reservationId: fromState("reservationId", RESERVATION),
          hospitalId: fromState("hospitalId", HOSPITAL),
          vaccineId: fromState("vaccineId", VACCINE),
          date: fromState("date", DAY),
        }),
    )
    .willRespondWith(200, (reply) =>
      reply
        .headers({ "Content-Type": MatchersV3.regex("^application/json", "application/json") })
        // Reservation reads the outcome only; the counts after it are inventory's to report.
        .jsonBody({ outcome }),
    );
}

describe(`${reservationModule.name} and ${inventoryModule.name}, ${vaccinationModule.name}`, () => {
  let fromInventory: PactV4;
  let fromVaccination: PactV4;

  beforeAll(() => {
    fromInventory = consumerPact(reservationModule.name, inventoryModule.name);
    fromVaccination = consumerPact(reservationModule.name, vaccinationModule.name);
  });

  describe(`${reservationModule.name} calls ${inventoryModule.name}: TakeBookingSlot`, () => {
    const slot = { reservationId: RESERVATION, hospitalId: HOSPITAL, vaccineId: VACCINE, date: DAY };

    it("books when the hospital has a bookable dose on the day", async () => {
      await takeBookingSlot(
        fromInventory,
        "hospital H has a bookable dose of vaccine V on date D",
        "a request to take a dose and a slot that are free",
        "OUTCOME_BOOKED",
      ).executeTest(async (server) => {
        const answer = await reservationsInventoryClient(server.url).takeBookingSlot(slot);
        expect(answer.outcome).toBe(TakeBookingSlotResponse_Outcome.BOOKED);
      });
    });

    it("learns there is no dose to book (the waitlist is offered)", async () => {
      await takeBookingSlot(
        fromInventory,
        "hospital H has no bookable dose of vaccine V",
        "a request to take a dose the hospital does not have",
        "OUTCOME_NO_DOSES",
      ).executeTest(async (server) => {
        const answer = await reservationsInventoryClient(server.url).takeBookingSlot(slot);
        expect(answer.outcome).toBe(TakeBookingSlotResponse_Outcome.NO_DOSES);
      });
    });
  });

  /**
   * Reservation as deployed, calling a real inventory of its own for the bookings the examples
   * need (set-up, not under contract here). Each example message goes to the consumer reservation's
   * policies subscribed (inbox included, on a real database); effects are read through
   * ReservationService and from what reservation's outbox publishes.
   */
  describe(`${reservationModule.name} consumes events`, () => {
    let inventory: RunningContext;
    let reservation: RunningContext;
    let stock: Client<typeof InventoryService>;
    let reservations: Client<typeof ReservationService>;

    beforeAll(async () => {
      // Inventory's hold-expiry job, which alone calls reservation, finds no lapsed hold here.
      inventory = await startContext([inventoryModule], {
        serviceUrls: { [reservationModule.name]: NOT_CALLED_URL },
      });
      reservation = await startContext([createReservationModule()], {
        serviceUrls: { [inventoryModule.name]: inventory.url },
      });
      stock = inventory.client(InventoryService);
      reservations = reservation.client(ReservationService);
    });

    afterAll(async () => {
      await reservation?.stop();
      await inventory?.stop();
    });

    /** A hospital and a vaccine inventory registers with the examples' ids, and `doses` doses of it there. */
    async function stocked(hospitalId: string, vaccineId: string, doses: number): Promise<void> {
      inventory.ids.nextAre(hospitalId);
      const { hospital } = await stock.registerHospital({ name: "St Mary's", dailyCapacity: 20 });
      expect(hospital?.hospitalId).toBe(hospitalId);
      inventory.ids.nextAre(vaccineId);
      const { vaccine } = await stock.registerVaccine({ name: "Comirnaty", vials: 10, dosesRequired: 2 });
      expect(vaccine?.vaccineId).toBe(vaccineId);
      const { supply } = await stock.supplyVaccine({ hospitalId, vaccineId, vials: 2 });
      await stock.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses });
    }

    /** A booking reservation registers under `reservationId`. */
    /** A booking by `personId` (default person-7); a person holds one reservation of a vaccine. */
    async function booked(
      reservationId: string,
      hospitalId: string,
      vaccineId: string,
      date: string,
      personId = "person-7",
    ) {
      reservation.ids.nextAre(reservationId);
      const { outcome } = await reservations.reserve({ personId, hospitalId, vaccineId, date });
      expect(outcome.case).toBe("reservation");
      expect(outcome.value).toMatchObject({ reservationId, status: ReservationStatus.REGISTERED });
    }

    async function reservationOf(reservationId: string) {
      return (await reservations.getReservation({ reservationId })).reservation;
    }

    it(`from ${inventoryModule.name}, BookingsReleasedForDiscard: cancels the bookings inventory released`, async () => {
      const [hospitalId, vaccineId] = [exampleId(0x7a2), exampleId(0x7b2)];
      const [kept, released] = [exampleId(0x7c2), exampleId(0x7c3)];
      await stocked(hospitalId, vaccineId, 5);
      await booked(kept, hospitalId, vaccineId, dayFromToday(3));
      await booked(released, hospitalId, vaccineId, dayFromToday(5), "person-9");
      await receivesEvent(
        fromInventory,
        {
          schema: BookingsReleasedForDiscardSchema,
          eventId: exampleId(0x71),
          aggregateId: `${hospitalId}/${vaccineId}`,
          aggregateIdPattern: STOCK_ID_PATTERN,
          occurredAt: EXAMPLE_TIME,
          body: {
            hospitalId: anyUuid(hospitalId),
            vaccineId: anyUuid(vaccineId),
            bookings: MatchersV3.eachLike({
              reservationId: anyUuid(released),
              date: anyDay(dayFromToday(5)),
            }),
          },
        },
        async (event) => {
          await reservation.consumer(BookingsReleasedForDiscardSchema.typeName).handle(event);
          expect(await reservationOf(released)).toMatchObject({
            status: ReservationStatus.CANCELLED,
            cancellationReason: CancellationReason.DISCARD,
          });
          expect(await reservationOf(kept)).toMatchObject({ status: ReservationStatus.REGISTERED });
        },
      );
    });

    it(`from ${inventoryModule.name}, BookingHoldsExpired: cancels a reservation whose hold was released`, async () => {
      const [hospitalId, vaccineId] = [exampleId(0x7a5), exampleId(0x7b5)];
      const lapsed = exampleId(0x7c6);
      await stocked(hospitalId, vaccineId, 5);
      await booked(lapsed, hospitalId, vaccineId, dayFromToday(4));
      await receivesEvent(
        fromInventory,
        {
          schema: BookingHoldsExpiredSchema,
          eventId: exampleId(0x74),
          aggregateId: `${hospitalId}/${vaccineId}`,
          aggregateIdPattern: STOCK_ID_PATTERN,
          occurredAt: EXAMPLE_TIME,
          body: {
            hospitalId: anyUuid(hospitalId),
            vaccineId: anyUuid(vaccineId),
            bookings: MatchersV3.eachLike({
              reservationId: anyUuid(lapsed),
              date: anyDay(dayFromToday(4)),
            }),
          },
        },
        async (event) => {
          await reservation.consumer(BookingHoldsExpiredSchema.typeName).handle(event);
          expect(await reservationOf(lapsed)).toMatchObject({
            status: ReservationStatus.CANCELLED,
            cancellationReason: CancellationReason.HOLD_EXPIRED,
          });
        },
      );
    });

    it(`from ${inventoryModule.name}, BookableDosesAvailable: alerts the waitlist, books nobody`, async () => {
      const [hospitalId, vaccineId] = [exampleId(0x7a3), exampleId(0x7b3)];
      const reservationId = exampleId(0x7c4);
      reservation.ids.nextAre(reservationId);
      await reservations.joinWaitlist({ personId: "person-8", hospitalId, vaccineId });
      await receivesEvent(
        fromInventory,
        {
          schema: BookableDosesAvailableSchema,
          eventId: exampleId(0x72),
          aggregateId: `${hospitalId}/${vaccineId}`,
          aggregateIdPattern: STOCK_ID_PATTERN,
          occurredAt: EXAMPLE_TIME,
          body: { hospitalId: anyUuid(hospitalId), vaccineId: anyUuid(vaccineId), bookable: anyInteger(3) },
        },
        async (event) => {
          await reservation.consumer(BookableDosesAvailableSchema.typeName).handle(event);
          const alert = await eventually(async () => {
            const [published] = reservation.bus.published(WaitlistAlertedSchema.typeName);
            expect(published).toBeDefined();
            return JSON.parse(published?.payload ?? "{}");
          });
          expect(alert).toMatchObject({
            reservation: { reservationId, personId: "person-8", status: "RESERVATION_STATUS_WAITLISTED" },
            bookable: 3,
          });
          expect(await reservationOf(reservationId)).toMatchObject({ status: ReservationStatus.WAITLISTED });
        },
      );
    });

    it(`from ${vaccinationModule.name}, VaccinationRecorded: the booking is VACCINATED`, async () => {
      const [hospitalId, vaccineId] = [exampleId(0x7a4), exampleId(0x7b4)];
      const reservationId = exampleId(0x7c5);
      await stocked(hospitalId, vaccineId, 5);
      await booked(reservationId, hospitalId, vaccineId, dayFromToday(2));
      await receivesEvent(
        fromVaccination,
        {
          schema: VaccinationRecordedSchema,
          eventId: exampleId(0x73),
          aggregateId: "person-7",
          aggregateIdPattern: PERSON_ID_PATTERN,
          occurredAt: EXAMPLE_TIME,
          body: { record: { reservationId: anyUuid(reservationId) } },
        },
        async (event) => {
          await reservation.consumer(VaccinationRecordedSchema.typeName).handle(event);
          expect(await reservationOf(reservationId)).toMatchObject({ status: ReservationStatus.VACCINATED });
        },
      );
    });
  });
});
