import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { ResourceInfoSchema } from "@hexa/proto/hexa/common/v1/errors_pb";
import type { DailyReservations, PersonReservation } from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import { CancellationReason } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventEnvelope } from "../../../src/messaging/bus.ts";
import {
  type Dashboard,
  inventory,
  minute,
  refusal,
  reservationOf,
  START,
  startDashboard,
} from "./support.ts";

let dashboard: Dashboard;
beforeAll(async () => {
  dashboard = await startDashboard();
});
afterAll(async () => {
  await dashboard?.stop();
});

const VACCINE = randomUUID();
const DAY = "2026-06-10";

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((first, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [first, ...rest]),
  );
}

async function reservationsOf(personId: string): Promise<PersonReservation[]> {
  return (await dashboard.client.getPersonReservations({ personId })).reservations;
}

async function daysAt(hospitalId: string, fromDate = DAY, toDate = DAY): Promise<DailyReservations[]> {
  return (await dashboard.client.getDailyReservations({ hospitalId, fromDate, toDate })).days;
}

/** A day's counts with every count not given at 0. */
function day(date: string, counts: Partial<DailyReservations> = {}): Partial<DailyReservations> {
  return { date, registered: 0, confirmed: 0, vaccinated: 0, cancelled: 0, rejected: 0, taken: 0, ...counts };
}

describe("GetPersonReservations", () => {
  it("lists a person's reservations in their latest state, most recently updated first, with hospital names", async () => {
    const personId = `person-${randomUUID()}`;
    const [named, unnamed] = [randomUUID(), randomUUID()];
    const booked = reservationOf({ personId, hospitalId: named, vaccineId: VACCINE, date: DAY });
    const waiting = reservationOf({ personId, hospitalId: unnamed, vaccineId: VACCINE, date: "" });
    await dashboard.feed(
      inventory.hospitalRegistered(named, "Seoul Central", 30),
      booked.registered(minute(0)),
      waiting.waitlisted(minute(1)),
      booked.confirmed(minute(2)),
    );
    expect(await reservationsOf(personId)).toEqual([
      expect.objectContaining({
        reservationId: booked.reservationId,
        hospitalId: named,
        hospitalName: "Seoul Central",
        vaccineId: VACCINE,
        date: DAY,
        status: "CONFIRMED",
        updatedAt: timestampFromDate(minute(2)),
      }),
      expect.objectContaining({
        reservationId: waiting.reservationId,
        hospitalId: unnamed,
        hospitalName: "",
        date: "",
        status: "WAITLISTED",
        updatedAt: timestampFromDate(minute(1)),
      }),
    ]);
    await dashboard.feed(inventory.hospitalRegistered(unnamed, "Incheon Clinic", 10));
    expect((await reservationsOf(personId))[1]?.hospitalName).toBe("Incheon Clinic");
  });

  it("answers no reservations for a person it has not seen", async () => {
    expect(await reservationsOf(`person-${randomUUID()}`)).toEqual([]);
  });

  it("keeps the newest state: an older event arriving later changes neither the state nor the day's counts", async () => {
    const personId = `person-${randomUUID()}`;
    const hospitalId = randomUUID();
    const reservation = reservationOf({ personId, hospitalId, vaccineId: VACCINE, date: DAY });
    await dashboard.feed(reservation.confirmed(minute(5)), reservation.registered(minute(0)));
    expect(await reservationsOf(personId)).toEqual([
      expect.objectContaining({ status: "CONFIRMED", updatedAt: timestampFromDate(minute(5)) }),
    ]);
    expect(await daysAt(hospitalId)).toEqual([expect.objectContaining(day(DAY, { confirmed: 1, taken: 1 }))]);
  });

  type Reservation = ReturnType<typeof reservationOf>;
  it.each<[string, (r: Reservation) => EventEnvelope[], string, Partial<DailyReservations>]>([
    [
      "registered, confirmed, vaccinated",
      (r) => [r.registered(), r.confirmed(), r.vaccinated()],
      "VACCINATED",
      { vaccinated: 1, taken: 1 },
    ],
    [
      "registered, confirmed, cancelled by a manager",
      (r) => [r.registered(), r.confirmed(), r.cancelled(minute(2), CancellationReason.MANAGER)],
      "CANCELLED",
      { cancelled: 1 },
    ],
    ["registered, rejected", (r) => [r.registered(), r.rejected()], "REJECTED", { rejected: 1 }],
  ])(
    "gives the same latest state and counts in every arrival order: %s",
    async (_story, story, status, counts) => {
      const views: PersonReservation[] = [];
      // How many events the story has, to permute their positions.
      const length = story(reservationOf({ personId: "", hospitalId: "", vaccineId: "", date: "" })).length;
      for (const order of permutations([...Array(length).keys()])) {
        const personId = `person-${randomUUID()}`;
        const hospitalId = randomUUID();
        const events = story(reservationOf({ personId, hospitalId, vaccineId: VACCINE, date: DAY }));
        await dashboard.feed(...order.map((index) => events[index]).filter((event) => event !== undefined));
        const [view, ...others] = await reservationsOf(personId);
        expect(others).toEqual([]);
        expect(view?.status).toBe(status);
        expect(await daysAt(hospitalId)).toEqual([expect.objectContaining(day(DAY, counts))]);
        if (view) views.push({ ...view, reservationId: "", hospitalId: "" });
      }
      for (const view of views) expect(view).toEqual(views[0]);
    },
  );

  it("applies a redelivered event once, also when the copies arrive at the same time", async () => {
    const personId = `person-${randomUUID()}`;
    const hospitalId = randomUUID();
    const r = reservationOf({ personId, hospitalId, vaccineId: VACCINE, date: DAY });
    const registered = r.registered();
    await dashboard.feed(registered, registered);
    await Promise.all([registered, registered, registered].map((event) => dashboard.publish(event)));
    expect(await daysAt(hospitalId)).toEqual([
      expect.objectContaining(day(DAY, { registered: 1, taken: 1 })),
    ]);
    expect(await reservationsOf(personId)).toHaveLength(1);
  });

  it("loses no update when every event of one reservation is handled at once", async () => {
    for (let round = 0; round < 5; round++) {
      const personId = `person-${randomUUID()}`;
      const hospitalId = randomUUID();
      const r = reservationOf({ personId, hospitalId, vaccineId: VACCINE, date: DAY });
      // Each event type has its own consumer, so these run concurrently against one reservation.
      await Promise.all(
        [r.registered(), r.confirmed(), r.vaccinated()].map((event) => dashboard.publish(event)),
      );
      expect(await reservationsOf(personId)).toEqual([expect.objectContaining({ status: "VACCINATED" })]);
      expect(await daysAt(hospitalId)).toEqual([
        expect.objectContaining(day(DAY, { vaccinated: 1, taken: 1 })),
      ]);
    }
  });
});

describe("GetDailyReservations", () => {
  it("lists every day of the range: counts by status from each reservation's latest state, capacity, slots taken", async () => {
    const hospitalId = randomUUID();
    const book = (date: string) =>
      reservationOf({ personId: `person-${randomUUID()}`, hospitalId, vaccineId: VACCINE, date });
    const [r1, r2, r3, r4, r5, r6, r7] = [DAY, DAY, DAY, DAY, DAY, DAY, "2026-06-12"].map(book);
    const waiting = book("");
    if (!r1 || !r2 || !r3 || !r4 || !r5 || !r6 || !r7) throw new Error("seven reservations");
    await dashboard.feed(
      inventory.hospitalRegistered(hospitalId, "Seoul Central", 30),
      r1.registered(),
      r2.registered(),
      r3.registered(),
      r3.confirmed(),
      r4.registered(),
      r4.confirmed(),
      r4.vaccinated(),
      r5.registered(),
      r5.cancelled(),
      r6.registered(),
      r6.rejected(),
      r7.registered(),
      waiting.waitlisted(),
    );
    const response = await dashboard.client.getDailyReservations({
      hospitalId,
      fromDate: "2026-06-09",
      toDate: "2026-06-13",
    });
    expect(response.hospitalId).toBe(hospitalId);
    expect(response.days).toEqual([
      expect.objectContaining(day("2026-06-09", { dailyCapacity: 30 })),
      expect.objectContaining(
        day(DAY, {
          dailyCapacity: 30,
          registered: 2,
          confirmed: 1,
          vaccinated: 1,
          cancelled: 1,
          rejected: 1,
          taken: 4,
        }),
      ),
      expect.objectContaining(day("2026-06-11", { dailyCapacity: 30 })),
      expect.objectContaining(day("2026-06-12", { dailyCapacity: 30, registered: 1, taken: 1 })),
      expect.objectContaining(day("2026-06-13", { dailyCapacity: 30 })),
    ]);
  });

  it("shows a capacity of 0 for a hospital known only by its reservations, until its registration arrives", async () => {
    const hospitalId = randomUUID();
    const r = reservationOf({ personId: "person-early", hospitalId, vaccineId: VACCINE, date: DAY });
    await dashboard.feed(r.registered());
    expect(await daysAt(hospitalId)).toEqual([
      expect.objectContaining(day(DAY, { dailyCapacity: 0, registered: 1, taken: 1 })),
    ]);
    await dashboard.feed(inventory.hospitalRegistered(hospitalId, "Gwangju Clinic", 12));
    expect(await daysAt(hospitalId)).toEqual([expect.objectContaining({ dailyCapacity: 12, taken: 1 })]);
  });

  it("lists zeros for a registered hospital without reservations", async () => {
    const hospitalId = randomUUID();
    await dashboard.feed(inventory.hospitalRegistered(hospitalId, "Ulsan Clinic", 5));
    expect(await daysAt(hospitalId, "2026-02-27", "2026-03-01")).toEqual([
      expect.objectContaining(day("2026-02-27", { dailyCapacity: 5 })),
      expect.objectContaining(day("2026-02-28", { dailyCapacity: 5 })),
      expect.objectContaining(day("2026-03-01", { dailyCapacity: 5 })),
    ]);
  });

  it("answers the longest range, 366 days apart: 367 days", async () => {
    const hospitalId = randomUUID();
    await dashboard.feed(inventory.hospitalRegistered(hospitalId, "Jeju Clinic", 5));
    const days = await daysAt(hospitalId, "2028-01-01", "2029-01-01");
    expect(days).toHaveLength(367);
    expect(days[59]?.date).toBe("2028-02-29");
    expect(days.at(-1)?.date).toBe("2029-01-01");
  });

  it("does not know a hospital it has seen nothing of: not_found", async () => {
    const hospitalId = randomUUID();
    const error = await refusal(daysAt(hospitalId));
    expect(error.code).toBe(Code.NotFound);
    expect(error.findDetails(ResourceInfoSchema)).toEqual([
      expect.objectContaining({ resourceType: "Hospital", resourceId: hospitalId }),
    ]);
  });

  it("never counts a waitlist entry", async () => {
    const hospitalId = randomUUID();
    const waiting = reservationOf({ personId: "person-w", hospitalId, vaccineId: VACCINE, date: "" });
    await dashboard.feed(
      inventory.hospitalRegistered(hospitalId, "Suwon Clinic", 5),
      waiting.waitlisted(START),
      waiting.cancelled(minute(2), CancellationReason.BOOKED),
    );
    expect(await daysAt(hospitalId)).toEqual([expect.objectContaining(day(DAY, { dailyCapacity: 5 }))]);
  });
});
