import type { DescMessage } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { vaccinationDashboardModule } from "@hexa/adapters/vaccination/dashboard/module";
import { inventoryModule } from "@hexa/adapters/vaccination/inventory/module";
import { reservationModule } from "@hexa/adapters/vaccination/reservation/module";
import { vaccinationModule } from "@hexa/adapters/vaccination/vaccination/module";
import { VaccinationDashboardService } from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import {
  AvailableDosesRegisteredSchema,
  DosesDiscardedSchema,
  HospitalRegisteredSchema,
  StockChangedSchema,
  VaccineRegisteredSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import {
  ReservationCancelledSchema,
  ReservationConfirmedSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
  ReservationVaccinatedSchema,
  WaitlistJoinedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { MatchersV3, type PactV4 } from "@pact-foundation/pact";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerPact, EXAMPLE_TIME, exampleId, receivesEvent, setUpEvent } from "../../src/consumer.ts";
import { type RunningContext, startContext } from "../../src/context.ts";
import {
  anyDay,
  anyInteger,
  anyText,
  anyTimestamp,
  anyUuid,
  PERSON_ID_PATTERN,
  STOCK_ID_PATTERN,
} from "../../src/messages.ts";

/**
 * The vaccination dashboard builds its read models only from the events inventory, reservation
 * and vaccination publish. Each example goes to the consumer the dashboard's policies subscribed
 * (inbox included, on a real database), about a hospital, vaccine or person of its own; what
 * VaccinationDashboardService then shows tells which fields the dashboard read.
 */
interface Ids {
  readonly hospitalId: string;
  readonly vaccineId: string;
  readonly reservationId: string;
  readonly personId: string;
}

type Views = Client<typeof VaccinationDashboardService>;

interface Case {
  readonly provider: string;
  readonly schema: DescMessage;
  readonly aggregateId: (ids: Ids) => string;
  readonly aggregateIdPattern?: string;
  readonly body: (ids: Ids) => Readonly<Record<string, unknown>>;
  /** Set-up, not under contract: what the dashboard has seen before the example. */
  readonly before?: (dashboard: RunningContext, ids: Ids) => Promise<void>;
  /** What the dashboard shows after the example. */
  readonly shows: (views: Views, ids: Ids) => Promise<void>;
}

const DAY = "2030-06-03";
const ofStock = (ids: Ids) => `${ids.hospitalId}/${ids.vaccineId}`;

async function ratesOf(views: Views, hospitalId: string) {
  const { hospitals } = await views.listHospitalRates({});
  return hospitals.find((hospital) => hospital.hospitalId === hospitalId);
}

/** A reservation event's example: the reservation in `status` (the dashboard keeps the newest). */
function reservationCase(schema: DescMessage, status: string, dated = true): Case {
  return {
    provider: reservationModule.name,
    schema,
    aggregateId: (ids) => ids.reservationId,
    body: (ids) => ({
      reservation: {
        reservationId: anyUuid(ids.reservationId),
        personId: anyText(ids.personId),
        hospitalId: anyUuid(ids.hospitalId),
        vaccineId: anyUuid(ids.vaccineId),
        ...(dated ? { date: anyDay(DAY) } : {}),
        status: `RESERVATION_STATUS_${status}`,
        updatedAt: anyTimestamp(EXAMPLE_TIME),
      },
    }),
    shows: async (views, ids) => {
      const { reservations } = await views.getPersonReservations({ personId: ids.personId });
      expect(reservations).toHaveLength(1);
      expect(reservations[0]).toMatchObject({
        reservationId: ids.reservationId,
        hospitalId: ids.hospitalId,
        vaccineId: ids.vaccineId,
        date: dated ? DAY : "",
        status,
      });
    },
  };
}

const cases: readonly Case[] = [
  {
    provider: inventoryModule.name,
    schema: HospitalRegisteredSchema,
    aggregateId: (ids) => ids.hospitalId,
    body: (ids) => ({
      hospitalId: anyUuid(ids.hospitalId),
      name: anyText("St Mary's"),
      dailyCapacity: anyInteger(20),
    }),
    shows: async (views, ids) => {
      expect(await ratesOf(views, ids.hospitalId)).toMatchObject({ hospitalName: "St Mary's" });
      const { days } = await views.getDailyReservations({
        hospitalId: ids.hospitalId,
        fromDate: DAY,
        toDate: DAY,
      });
      expect(days).toMatchObject([{ date: DAY, dailyCapacity: 20 }]);
    },
  },
  {
    provider: inventoryModule.name,
    schema: VaccineRegisteredSchema,
    aggregateId: (ids) => ids.vaccineId,
    body: (ids) => ({ vaccineId: anyUuid(ids.vaccineId), name: anyText("Comirnaty") }),
    before: async (dashboard, ids) => {
      await dashboard.consumer(StockChangedSchema.typeName).handle(
        setUpEvent(StockChangedSchema, ofStock(ids), {
          hospitalId: ids.hospitalId,
          vaccineId: ids.vaccineId,
          available: 5,
          remaining: 5,
          bookable: 5,
        }),
      );
    },
    shows: async (views, ids) => {
      const { stocks } = await views.listHospitalStock({ hospitalId: ids.hospitalId });
      expect(stocks).toMatchObject([{ vaccineId: ids.vaccineId, vaccineName: "Comirnaty" }]);
    },
  },
  {
    provider: inventoryModule.name,
    schema: AvailableDosesRegisteredSchema,
    aggregateId: () => exampleId(0xbee),
    body: (ids) => ({ hospitalId: anyUuid(ids.hospitalId), doses: anyInteger(60) }),
    shows: async (views, ids) => {
      expect(await ratesOf(views, ids.hospitalId)).toMatchObject({ availableDoses: 60n });
    },
  },
  {
    provider: inventoryModule.name,
    schema: DosesDiscardedSchema,
    aggregateId: ofStock,
    aggregateIdPattern: STOCK_ID_PATTERN,
    body: (ids) => ({ hospitalId: anyUuid(ids.hospitalId), doses: anyInteger(2) }),
    shows: async (views, ids) => {
      expect(await ratesOf(views, ids.hospitalId)).toMatchObject({ discardedDoses: 2n });
    },
  },
  {
    provider: inventoryModule.name,
    schema: StockChangedSchema,
    aggregateId: ofStock,
    aggregateIdPattern: STOCK_ID_PATTERN,
    // Counts at 0 travel as absent fields (protobuf JSON), so the example's are all set.
    body: (ids) => ({
      hospitalId: anyUuid(ids.hospitalId),
      vaccineId: anyUuid(ids.vaccineId),
      available: anyInteger(60),
      remaining: anyInteger(60),
      booked: anyInteger(1),
      bookable: anyInteger(59),
      changedAt: anyTimestamp(EXAMPLE_TIME),
    }),
    shows: async (views, ids) => {
      const { stocks } = await views.listHospitalStock({ hospitalId: ids.hospitalId });
      expect(stocks).toMatchObject([
        {
          vaccineId: ids.vaccineId,
          available: 60,
          given: 0,
          discarded: 0,
          remaining: 60,
          booked: 1,
          bookable: 59,
        },
      ]);
    },
  },
  {
    provider: vaccinationModule.name,
    schema: VaccinationRecordedSchema,
    aggregateId: (ids) => ids.personId,
    aggregateIdPattern: PERSON_ID_PATTERN,
    body: (ids) => ({
      record: {
        hospitalId: anyUuid(ids.hospitalId),
        vaccineId: anyUuid(ids.vaccineId),
        status: MatchersV3.regex(
          "^VACCINATION_STATUS_(IN_PROGRESS|COMPLETED)$",
          "VACCINATION_STATUS_COMPLETED",
        ),
      },
    }),
    shows: async (views, ids) => {
      const { perVaccine } = await views.getVaccinationCount({});
      expect(perVaccine.find((vaccine) => vaccine.vaccineId === ids.vaccineId)).toMatchObject({
        vaccinations: 1n,
        peopleCompleted: 1n,
      });
      expect(await ratesOf(views, ids.hospitalId)).toMatchObject({ vaccinations: 1n });
    },
  },
  reservationCase(ReservationRegisteredSchema, "REGISTERED"),
  reservationCase(WaitlistJoinedSchema, "WAITLISTED", false),
  reservationCase(ReservationConfirmedSchema, "CONFIRMED"),
  reservationCase(ReservationRejectedSchema, "REJECTED"),
  reservationCase(ReservationCancelledSchema, "CANCELLED"),
  reservationCase(ReservationVaccinatedSchema, "VACCINATED"),
];

describe(`${vaccinationDashboardModule.name} consumes events`, () => {
  let dashboard: RunningContext;
  let views: Views;
  const pacts = new Map<string, PactV4>();

  beforeAll(async () => {
    dashboard = await startContext([vaccinationDashboardModule]);
    views = dashboard.client(VaccinationDashboardService);
    for (const provider of new Set(cases.map((c) => c.provider))) {
      pacts.set(provider, consumerPact(vaccinationDashboardModule.name, provider));
    }
  });

  afterAll(async () => {
    await dashboard?.stop();
  });

  for (const [index, c] of cases.entries()) {
    it(`from ${c.provider}, ${c.schema.name}: shows what the event tells`, async () => {
      const ids: Ids = {
        hospitalId: exampleId(0xb01 + index),
        vaccineId: exampleId(0xb41 + index),
        reservationId: exampleId(0xb81 + index),
        personId: `person-${index + 1}`,
      };
      const pact = pacts.get(c.provider);
      if (!pact) throw new Error(`no pact with ${c.provider}`);
      await c.before?.(dashboard, ids);
      await receivesEvent(
        pact,
        {
          schema: c.schema,
          eventId: exampleId(0xb1 + index),
          aggregateId: c.aggregateId(ids),
          ...(c.aggregateIdPattern ? { aggregateIdPattern: c.aggregateIdPattern } : {}),
          occurredAt: EXAMPLE_TIME,
          body: c.body(ids),
        },
        async (event) => {
          await dashboard.consumer(c.schema.typeName).handle(event);
          await c.shows(views, ids);
        },
      );
    });
  }
});
