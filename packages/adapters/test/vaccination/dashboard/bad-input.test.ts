import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { FieldViolationSchema } from "@hexa/proto/hexa/common/v1/errors_pb";
import { HospitalRegisteredSchema, StockChangedSchema } from "@hexa/proto/vaccination/inventory/v1/events_pb";
import { ReservationRegisteredSchema } from "@hexa/proto/vaccination/reservation/v1/events_pb";
import { ReservationStatus } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeEvent } from "../../../src/messaging/encoding.ts";
import {
  type Dashboard,
  inventory,
  minute,
  refusal,
  reservationOf,
  START,
  startDashboard,
  vaccinationRecorded,
} from "./support.ts";

let dashboard: Dashboard;
beforeAll(async () => {
  dashboard = await startDashboard();
});
afterAll(async () => {
  await dashboard?.stop();
});

const HOSPITAL = randomUUID();
const VACCINE = randomUUID();

/** Calls refused with invalid_argument, with the field each must name. */
const badCalls: Array<[string, (d: Dashboard) => Promise<unknown>, string]> = [
  ["GetPersonReservations, no person", (d) => d.client.getPersonReservations({ personId: "" }), "personId"],
  [
    "GetPersonReservations, a person id of 65 characters",
    (d) => d.client.getPersonReservations({ personId: "p".repeat(65) }),
    "personId",
  ],
  [
    "GetDailyReservations, no hospital",
    (d) => d.client.getDailyReservations({ hospitalId: "", fromDate: "2026-06-01", toDate: "2026-06-02" }),
    "hospitalId",
  ],
  [
    "GetDailyReservations, a hospital id that is not one",
    (d) =>
      d.client.getDailyReservations({ hospitalId: "seoul", fromDate: "2026-06-01", toDate: "2026-06-02" }),
    "hospitalId",
  ],
  [
    "GetDailyReservations, no first day",
    (d) => d.client.getDailyReservations({ hospitalId: HOSPITAL, fromDate: "", toDate: "2026-06-02" }),
    "fromDate",
  ],
  [
    "GetDailyReservations, a first day that does not exist",
    (d) =>
      d.client.getDailyReservations({ hospitalId: HOSPITAL, fromDate: "2026-02-30", toDate: "2026-03-02" }),
    "fromDate",
  ],
  [
    "GetDailyReservations, a first day in another format",
    (d) =>
      d.client.getDailyReservations({ hospitalId: HOSPITAL, fromDate: "2026/06/01", toDate: "2026-06-02" }),
    "fromDate",
  ],
  [
    "GetDailyReservations, no last day",
    (d) => d.client.getDailyReservations({ hospitalId: HOSPITAL, fromDate: "2026-06-01", toDate: "" }),
    "toDate",
  ],
  [
    "GetDailyReservations, a last day before the first",
    (d) =>
      d.client.getDailyReservations({ hospitalId: HOSPITAL, fromDate: "2026-06-02", toDate: "2026-06-01" }),
    "toDate",
  ],
  [
    "GetDailyReservations, days 367 apart",
    (d) =>
      d.client.getDailyReservations({ hospitalId: HOSPITAL, fromDate: "2026-01-01", toDate: "2027-01-03" }),
    "toDate",
  ],
  [
    "ListHospitalStock, a hospital id that is not one",
    (d) => d.client.listHospitalStock({ hospitalId: "seoul" }),
    "hospitalId",
  ],
];

describe("bad input", () => {
  beforeAll(async () => {
    // Something in every table, so "nothing written" compares real counts.
    const r = reservationOf({
      personId: "person-1",
      hospitalId: HOSPITAL,
      vaccineId: VACCINE,
      date: "2026-06-01",
    });
    await dashboard.feed(
      inventory.hospitalRegistered(HOSPITAL, "Seoul Central", 30),
      inventory.vaccineRegistered(VACCINE, "Comirnaty"),
      inventory.stockChanged(HOSPITAL, VACCINE, { available: 5, given: 1, discarded: 0, booked: 1 }, START),
      vaccinationRecorded({
        personId: "person-1",
        hospitalId: HOSPITAL,
        vaccineId: VACCINE,
        completed: false,
      }),
      r.registered(),
    );
  });

  it.each(badCalls)("refuses %s with invalid_argument naming %s", async (_call, call, field) => {
    const error = await refusal(call(dashboard));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage.startsWith(`${field}: `)).toBe(true);
    expect(error.findDetails(FieldViolationSchema)).toEqual([expect.objectContaining({ field })]);
  });

  it("writes nothing for any refused call", async () => {
    const before = await dashboard.rowCounts();
    for (const [, call] of badCalls) await refusal(call(dashboard));
    expect(await dashboard.rowCounts()).toEqual(before);
  });

  it("answers the queries that take no input whatever is sent", async () => {
    expect((await dashboard.client.getVaccinationCount({})).vaccinations).toBe(1n);
    expect((await dashboard.client.listHospitalRates({})).hospitals).toHaveLength(1);
  });

  it("dead-letters an event that does not hold together, writing nothing", async () => {
    const before = await dashboard.rowCounts();
    const envelope = <Init>(schema: Parameters<typeof encodeEvent>[1], init: Init) =>
      encodeEvent(
        { id: randomUUID(), type: schema.typeName, aggregateId: HOSPITAL, occurredAt: START },
        schema,
        init as never,
      );
    const bad = [
      {
        consumer: "vaccination-dashboard-hospital-registered",
        event: envelope(HospitalRegisteredSchema, { hospitalId: "seoul", name: "Seoul", dailyCapacity: 3 }),
      },
      {
        consumer: "vaccination-dashboard-stock-changed",
        event: envelope(StockChangedSchema, { hospitalId: HOSPITAL, vaccineId: "", available: 1 }),
      },
      {
        consumer: "vaccination-dashboard-vaccination-recorded",
        event: envelope(VaccinationRecordedSchema, {}),
      },
      {
        consumer: "vaccination-dashboard-reservation-registered",
        event: envelope(ReservationRegisteredSchema, {
          reservation: {
            reservationId: randomUUID(),
            personId: "person-2",
            hospitalId: HOSPITAL,
            vaccineId: VACCINE,
            date: "2026-06-31",
            status: ReservationStatus.REGISTERED,
          },
        }),
      },
      {
        consumer: "vaccination-dashboard-reservation-registered",
        event: envelope(ReservationRegisteredSchema, {
          reservation: {
            reservationId: randomUUID(),
            personId: "person-2",
            hospitalId: HOSPITAL,
            vaccineId: VACCINE,
            date: "2026-06-30",
            status: ReservationStatus.UNSPECIFIED,
          },
        }),
      },
    ];
    for (const { event } of bad) await dashboard.publish(event);
    const letters = await dashboard.deadLetters();
    for (const { consumer, event } of bad) expect(letters).toContainEqual({ consumer, eventId: event.id });
    expect(await dashboard.rowCounts()).toEqual(before);
  });
});

describe("consumers", () => {
  it("has one durable consumer per event type, and a story delivered twice has the effect of once", async () => {
    const hospitalId = randomUUID();
    const vaccineId = randomUUID();
    const r = reservationOf({ personId: "person-story", hospitalId, vaccineId, date: "2026-07-01" });
    const waiting = reservationOf({ personId: "person-story", hospitalId, vaccineId, date: "" });
    const refused = reservationOf({ personId: "person-story", hospitalId, vaccineId, date: "2026-07-02" });
    const dose = { personId: "person-story", hospitalId, vaccineId };
    const story = [
      inventory.hospitalRegistered(hospitalId, "Story Hospital", 8),
      inventory.vaccineRegistered(vaccineId, "Story Vaccine"),
      inventory.availableDosesRegistered(hospitalId, vaccineId, 10),
      inventory.dosesDiscarded(hospitalId, vaccineId, 1),
      inventory.stockChanged(
        hospitalId,
        vaccineId,
        { available: 10, given: 1, discarded: 1, booked: 0 },
        minute(4),
      ),
      vaccinationRecorded({ ...dose, completed: false }, minute(3)),
      r.registered(),
      r.confirmed(),
      r.vaccinated(),
      waiting.waitlisted(),
      waiting.cancelled(),
      refused.registered(),
      refused.rejected(),
    ];
    const views = async () => ({
      count: (await dashboard.client.getVaccinationCount({})).perVaccine.filter(
        (v) => v.vaccineId === vaccineId,
      ),
      rates: (await dashboard.client.listHospitalRates({})).hospitals.filter(
        (h) => h.hospitalId === hospitalId,
      ),
      reservations: await dashboard.client.getPersonReservations({ personId: "person-story" }),
      daily: await dashboard.client.getDailyReservations({
        hospitalId,
        fromDate: "2026-07-01",
        toDate: "2026-07-02",
      }),
      stock: await dashboard.client.listHospitalStock({ hospitalId }),
    });
    await dashboard.feed(...story);
    const once = await views();
    const inbox = (await dashboard.rowCounts()).inbox;
    await dashboard.feed(...story);
    await Promise.all(story.map((event) => dashboard.publish(event)));
    expect(await views()).toEqual(once);
    expect((await dashboard.rowCounts()).inbox).toBe(inbox);
    expect(once.rates[0]).toMatchObject({ availableDoses: 10n, vaccinations: 1n, discardedDoses: 1n });
    expect(once.reservations.reservations.map((reservation) => reservation.status).sort()).toEqual([
      "CANCELLED",
      "REJECTED",
      "VACCINATED",
    ]);
    expect(once.stock.stocks).toEqual([expect.objectContaining({ remaining: 8 })]);
    const consumers = await query<{ consumer: string }>(
      dashboard.databaseUrl,
      "select distinct consumer from vaccination_dashboard.inbox where event_id = any($1::uuid[]) order by consumer",
      [story.map((event) => event.id)],
    );
    expect(consumers.map((row) => row.consumer)).toEqual(
      [
        "available-doses-registered",
        "doses-discarded",
        "hospital-registered",
        "reservation-cancelled",
        "reservation-confirmed",
        "reservation-registered",
        "reservation-rejected",
        "reservation-vaccinated",
        "stock-changed",
        "vaccination-recorded",
        "vaccine-registered",
        "waitlist-joined",
      ].map((policy) => `vaccination-dashboard-${policy}`),
    );
  });
});
