import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createResilientClient } from "@hexa/adapters/resilience/client";
import { createCallPolicy } from "@hexa/adapters/resilience/policy";
import { inventoryModule, RESERVATION_CALL } from "@hexa/adapters/vaccination/inventory/module";
import { reservationModule } from "@hexa/adapters/vaccination/reservation/module";
import { vaccinationModule } from "@hexa/adapters/vaccination/vaccination/module";
import { BookableDosesAvailableSchema } from "@hexa/proto/vaccination/inventory/v1/events_pb";
import {
  InventoryService,
  TakeBookingSlotResponse_Outcome,
} from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  BookingAbandonedSchema,
  ReservationCancelledSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import { ReservationService } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { eventually, query } from "@hexa/testing";
import { MatchersV3, type PactV4 } from "@pact-foundation/pact";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerPact, EXAMPLE_TIME, exampleId, receivesEvent } from "../../src/consumer.ts";
import { NOT_CALLED_URL, type RunningContext, startContext } from "../../src/context.ts";
import { anyDay, anyUuid, PERSON_ID_PATTERN } from "../../src/messages.ts";

/**
 * Inventory consumes reservation's releases (a cancellation, a rejection, an abandoned booking
 * give the dose and the slot back) and vaccination's recorded doses (given, no longer booked).
 * Each example names a booking inventory took through its own TakeBookingSlot; the effect is read
 * through GetHospitalStock, and from what inventory's outbox publishes. Inventory also calls
 * reservation's GetOutstandingReservations before it releases lapsed holds; the call and
 * reservation's events are one pact (inventory-reservation.json), one relation between the two.
 */

const GET_OUTSTANDING = `/${ReservationService.typeName}/${ReservationService.method.getOutstandingReservations.name}`;

/**
 * Inventory's client of reservation, as inventory/reservation.ts builds it (the generated client
 * under the hold-expiry job's call policy, GetOutstandingReservations idempotent), pointed at
 * `baseUrl`. Only the transport speaks Connect JSON over HTTP/1.1, which the mock server
 * understands, instead of binary over HTTP/2; both carry the same messages.
 */
function inventorysReservationClient(baseUrl: string) {
  return createResilientClient(
    ReservationService,
    createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    createCallPolicy({
      name: reservationModule.name,
      logger: pino({ level: "silent" }),
      timeoutMs: RESERVATION_CALL.timeoutMs,
      retry: RESERVATION_CALL.retry,
      breaker: RESERVATION_CALL.breaker,
    }),
    { idempotent: ["getOutstandingReservations"] },
  );
}

/** The appointment day of the examples (a pact file must not change from run to run). */
const DAY = "2030-06-03";

describe(`${inventoryModule.name} consumes events`, () => {
  let inventory: RunningContext;
  let stock: Client<typeof InventoryService>;
  let fromReservation: PactV4;
  let fromVaccination: PactV4;

  beforeAll(async () => {
    // Its hold-expiry job, which alone calls reservation, finds no lapsed hold here.
    inventory = await startContext([inventoryModule], {
      serviceUrls: { [reservationModule.name]: NOT_CALLED_URL },
    });
    stock = inventory.client(InventoryService);
    fromReservation = consumerPact(inventoryModule.name, reservationModule.name);
    fromVaccination = consumerPact(inventoryModule.name, vaccinationModule.name);
  });

  afterAll(async () => {
    await inventory?.stop();
  });

  /**
   * Set-up, not under contract: a hospital and a vaccine with the examples' ids, 5 doses of it
   * there, and one of them booked for `reservationId` on DAY.
   */
  async function booked(hospitalId: string, vaccineId: string, reservationId: string): Promise<void> {
    inventory.ids.nextAre(hospitalId);
    const { hospital } = await stock.registerHospital({ name: "St Mary's", dailyCapacity: 20 });
    expect(hospital?.hospitalId).toBe(hospitalId);
    inventory.ids.nextAre(vaccineId);
    const { vaccine } = await stock.registerVaccine({ name: "Comirnaty", vials: 10, dosesRequired: 2 });
    expect(vaccine?.vaccineId).toBe(vaccineId);
    const { supply } = await stock.supplyVaccine({ hospitalId, vaccineId, vials: 1 });
    await stock.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses: 5 });
    const { outcome } = await stock.takeBookingSlot({ reservationId, hospitalId, vaccineId, date: DAY });
    expect(outcome).toBe(TakeBookingSlotResponse_Outcome.BOOKED);
    expect(await stockOf(hospitalId)).toMatchObject({ remaining: 5, booked: 1, bookable: 4 });
  }

  async function stockOf(hospitalId: string) {
    return (await stock.getHospitalStock({ hospitalId })).stocks[0];
  }

  /** The BookableDosesAvailable events inventory published for `hospitalId`. */
  function alertsOf(hospitalId: string) {
    return inventory.bus
      .published(BookableDosesAvailableSchema.typeName)
      .map((event) => JSON.parse(event.payload))
      .filter((event) => event.hospitalId === hospitalId);
  }

  /** The booked reservation, as reservation's events carry it: the fields inventory reads. */
  function reservationBody(ids: { reservationId: string; hospitalId: string; vaccineId: string }) {
    return {
      reservationId: anyUuid(ids.reservationId),
      hospitalId: anyUuid(ids.hospitalId),
      vaccineId: anyUuid(ids.vaccineId),
      date: anyDay(DAY),
    };
  }

  describe(`calls ${reservationModule.name}: GetOutstandingReservations`, () => {
    it("keeps the holds of the reservations reservation holds, and releases the others", async () => {
      const [registered, neverBooked] = [exampleId(0x8c7), exampleId(0x8c8)];
      const fromState = (name: string, example: string) =>
        MatchersV3.fromProviderState(`\${${name}}`, example);
      await fromReservation
        .addInteraction()
        .given("reservation R is REGISTERED and reservation N was never booked", {
          registered,
          neverBooked,
        })
        .uponReceiving("a request for which of two lapsed holds' reservations are outstanding")
        .withRequest("POST", GET_OUTSTANDING, (request) =>
          request
            .headers({ "Content-Type": "application/json", "Connect-Protocol-Version": "1" })
            // The provider state books one reservation and names it, and an id it never saw.
            .jsonBody({
              reservationIds: [fromState("registered", registered), fromState("neverBooked", neverBooked)],
            }),
        )
        .willRespondWith(200, (reply) =>
          reply
            .headers({ "Content-Type": MatchersV3.regex("^application/json", "application/json") })
            .jsonBody({ reservationIds: [fromState("registered", registered)] }),
        )
        .executeTest(async (server) => {
          const answer = await inventorysReservationClient(server.url).getOutstandingReservations({
            reservationIds: [registered, neverBooked],
          });
          expect(answer.reservationIds).toEqual([registered]);
        });
    });
  });

  describe(`from ${reservationModule.name}`, () => {
    it("ReservationRegistered: the booking's hold is confirmed, so its lease no longer runs", async () => {
      const ids = {
        hospitalId: exampleId(0x8a5),
        vaccineId: exampleId(0x8b5),
        reservationId: exampleId(0x8c5),
      };
      await booked(ids.hospitalId, ids.vaccineId, ids.reservationId);
      const holdOf = async () =>
        (
          await query<{ hold_until: Date | null }>(
            inventory.databaseUrl,
            "select hold_until from vaccination_inventory.booking where reservation_id = $1",
            [ids.reservationId],
          )
        )[0]?.hold_until;
      expect(await holdOf()).toBeInstanceOf(Date);
      await receivesEvent(
        fromReservation,
        {
          schema: ReservationRegisteredSchema,
          eventId: exampleId(0x85),
          aggregateId: ids.reservationId,
          occurredAt: EXAMPLE_TIME,
          body: { reservation: { reservationId: anyUuid(ids.reservationId) } },
        },
        async (event) => {
          await inventory.consumer(ReservationRegisteredSchema.typeName).handle(event);
          expect(await holdOf()).toBeNull();
          expect(await stockOf(ids.hospitalId)).toMatchObject({ booked: 1, bookable: 4 });
        },
      );
    });

    it("ReservationCancelled by the person: the dose and the slot are back, the waitlist is alerted", async () => {
      const ids = {
        hospitalId: exampleId(0x8a1),
        vaccineId: exampleId(0x8b1),
        reservationId: exampleId(0x8c1),
      };
      await booked(ids.hospitalId, ids.vaccineId, ids.reservationId);
      await receivesEvent(
        fromReservation,
        {
          schema: ReservationCancelledSchema,
          eventId: exampleId(0x81),
          aggregateId: ids.reservationId,
          occurredAt: EXAMPLE_TIME,
          // Only the person's own cancellation alerts the waitlist: the reason is part of the contract.
          body: {
            reservation: { ...reservationBody(ids), cancellationReason: "CANCELLATION_REASON_PERSON" },
          },
        },
        async (event) => {
          await inventory.consumer(ReservationCancelledSchema.typeName).handle(event);
          expect(await stockOf(ids.hospitalId)).toMatchObject({ booked: 0, bookable: 5 });
          const [alert] = await eventually(async () => {
            const alerts = alertsOf(ids.hospitalId).filter(
              (published) => published.cause === "BOOKABLE_CAUSE_PERSON_CANCELLED",
            );
            expect(alerts).toHaveLength(1);
            return alerts;
          });
          expect(alert).toMatchObject({ vaccineId: ids.vaccineId, bookable: 5 });
        },
      );
    });

    it("ReservationRejected: the dose and the slot are back", async () => {
      const ids = {
        hospitalId: exampleId(0x8a2),
        vaccineId: exampleId(0x8b2),
        reservationId: exampleId(0x8c2),
      };
      await booked(ids.hospitalId, ids.vaccineId, ids.reservationId);
      await receivesEvent(
        fromReservation,
        {
          schema: ReservationRejectedSchema,
          eventId: exampleId(0x82),
          aggregateId: ids.reservationId,
          occurredAt: EXAMPLE_TIME,
          body: { reservation: reservationBody(ids) },
        },
        async (event) => {
          await inventory.consumer(ReservationRejectedSchema.typeName).handle(event);
          expect(await stockOf(ids.hospitalId)).toMatchObject({ booked: 0, bookable: 5 });
        },
      );
    });

    it("BookingAbandoned: whatever was taken for the reservation id is released", async () => {
      const ids = {
        hospitalId: exampleId(0x8a3),
        vaccineId: exampleId(0x8b3),
        reservationId: exampleId(0x8c3),
      };
      await booked(ids.hospitalId, ids.vaccineId, ids.reservationId);
      await receivesEvent(
        fromReservation,
        {
          schema: BookingAbandonedSchema,
          eventId: exampleId(0x83),
          aggregateId: ids.reservationId,
          occurredAt: EXAMPLE_TIME,
          body: reservationBody(ids),
        },
        async (event) => {
          await inventory.consumer(BookingAbandonedSchema.typeName).handle(event);
          expect(await stockOf(ids.hospitalId)).toMatchObject({ booked: 0, bookable: 5 });
        },
      );
    });
  });

  describe(`from ${vaccinationModule.name}`, () => {
    it("VaccinationRecorded: the booked dose counts as given", async () => {
      const ids = {
        hospitalId: exampleId(0x8a4),
        vaccineId: exampleId(0x8b4),
        reservationId: exampleId(0x8c4),
      };
      await booked(ids.hospitalId, ids.vaccineId, ids.reservationId);
      await receivesEvent(
        fromVaccination,
        {
          schema: VaccinationRecordedSchema,
          eventId: exampleId(0x84),
          aggregateId: "person-7",
          aggregateIdPattern: PERSON_ID_PATTERN,
          occurredAt: EXAMPLE_TIME,
          body: {
            record: {
              hospitalId: anyUuid(ids.hospitalId),
              vaccineId: anyUuid(ids.vaccineId),
              reservationId: anyUuid(ids.reservationId),
            },
          },
        },
        async (event) => {
          await inventory.consumer(VaccinationRecordedSchema.typeName).handle(event);
          expect(await stockOf(ids.hospitalId)).toMatchObject({
            given: 1,
            remaining: 4,
            booked: 0,
            bookable: 4,
          });
        },
      );
    });
  });
});
