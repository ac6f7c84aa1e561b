import { InvalidArgument } from "@hexa/core/shared";
import {
  bucketOf,
  type DayCountChange,
  type DayCounts,
  dailyListing,
  dayCountChanges,
  dayNumber,
  daysFromTo,
  dayText,
  emptyDay,
  isNewer,
  latestReservation,
  latestStock,
  MAX_DAYS_APART,
  type ReservationState,
  type ReservationStatus,
  rate,
  ratesOf,
  requireDay,
  type StockLevels,
  tallyOfDose,
  vaccinationCount,
  withChange,
} from "@hexa/core/vaccination/dashboard";
import { describe, expect, it } from "vitest";

const HOSPITAL = "0196b000-0000-7000-8000-0000000000a1";
const OTHER_HOSPITAL = "0196b000-0000-7000-8000-0000000000a2";
const VACCINE = "0196b000-0000-7000-8000-0000000000b1";
const START = new Date("2026-06-01T09:00:00.000Z");

/** The time `minutes` after START. */
const at = (minutes: number) => new Date(START.getTime() + minutes * 60_000);
/** Event ids that sort as their number: 0196b000-0000-7000-9000-000000000042. */
const eventId = (n: number) => `0196b000-0000-7000-9000-${String(n).padStart(12, "0")}`;

function reservation(
  n: number,
  status: ReservationStatus,
  minutes: number,
  overrides: Partial<ReservationState> = {},
): ReservationState {
  return {
    reservationId: `0196b000-0000-7000-8000-${String(n).padStart(12, "0")}`,
    personId: "person-1",
    hospitalId: HOSPITAL,
    vaccineId: VACCINE,
    date: status === "WAITLISTED" ? undefined : "2026-06-10",
    status,
    updatedAt: at(minutes),
    eventId: eventId(n * 100 + minutes),
    ...overrides,
  };
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((first, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [first, ...rest]),
  );
}

/** What the policy does, without ports: latest state per reservation, and day counts moved along. */
function project(events: readonly ReservationState[]) {
  const latest = new Map<string, ReservationState>();
  const days = new Map<string, DayCounts>();
  for (const seen of events) {
    const known = latest.get(seen.reservationId);
    const next = latestReservation(known, seen);
    if (!next) continue;
    latest.set(next.reservationId, next);
    for (const change of dayCountChanges(known, next)) {
      const key = `${change.hospitalId} ${change.date}`;
      days.set(key, withChange(days.get(key) ?? emptyDay(change.date), change));
    }
  }
  return { latest, days };
}

/** Day counts straight from a set of latest states: what the moves must add up to. */
function countOf(states: Iterable<ReservationState>): Map<string, DayCounts> {
  const days = new Map<string, DayCounts>();
  for (const state of states) {
    const bucket = bucketOf(state);
    if (!bucket) continue;
    const key = `${bucket.hospitalId} ${bucket.date}`;
    days.set(key, withChange(days.get(key) ?? emptyDay(bucket.date), { ...bucket, delta: 1 }));
  }
  return days;
}

describe("calendar days", () => {
  it.each([
    ["2026-06-01", true],
    ["2028-02-29", true],
    ["1999-12-31", true],
    ["2026-02-29", false],
    ["2026-04-31", false],
    ["2026-13-01", false],
    ["2026-00-10", false],
    ["2026-6-1", false],
    ["2026-06-01T00:00:00Z", false],
    ["0099-01-01", false],
    ["tomorrow", false],
    ["", false],
  ])("%s is a day: %s", (text, valid) => {
    expect(dayNumber(text) !== undefined).toBe(valid);
  });

  it("counts days from 1970-01-01 and writes them back", () => {
    expect(dayNumber("1970-01-02")).toBe(1);
    expect(dayText(dayNumber("2028-02-29") ?? 0)).toBe("2028-02-29");
    expect(dayText((dayNumber("2028-02-28") ?? 0) + 1)).toBe("2028-02-29");
  });

  it("names the field of a bad day", () => {
    expect(() => requireDay("fromDate", "")).toThrow(new InvalidArgument("fromDate", "is required"));
    expect(() => requireDay("fromDate", "2026-02-30")).toThrow(InvalidArgument);
    expect(requireDay("fromDate", "2026-02-28")).toBe("2026-02-28");
  });

  it("lists every day of a range, both ends included, across months, years and a leap day", () => {
    const from = { field: "fromDate", text: "2027-12-30" };
    expect(daysFromTo(from, { field: "toDate", text: "2027-12-30" })).toEqual(["2027-12-30"]);
    expect(daysFromTo(from, { field: "toDate", text: "2028-01-02" })).toEqual([
      "2027-12-30",
      "2027-12-31",
      "2028-01-01",
      "2028-01-02",
    ]);
    expect(
      daysFromTo({ field: "fromDate", text: "2028-02-28" }, { field: "toDate", text: "2028-03-01" }),
    ).toEqual(["2028-02-28", "2028-02-29", "2028-03-01"]);
  });

  it(`takes days at most ${MAX_DAYS_APART} apart, and no range that runs backwards`, () => {
    const from = { field: "fromDate", text: "2028-01-01" };
    const longest = daysFromTo(from, { field: "toDate", text: "2029-01-01" });
    expect(longest).toHaveLength(MAX_DAYS_APART + 1);
    expect(longest.at(-1)).toBe("2029-01-01");
    const refusal = (to: string) => {
      try {
        daysFromTo(from, { field: "toDate", text: to });
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(refusal("2029-01-02")).toEqual(
      new InvalidArgument("toDate", `must be at most ${MAX_DAYS_APART} days after fromDate`),
    );
    expect(refusal("2027-12-31")).toEqual(new InvalidArgument("toDate", "must not be before fromDate"));
    expect(refusal("2028-1-2")).toMatchObject({ field: "toDate" });
    expect(() => daysFromTo({ field: "fromDate", text: "x" }, { field: "toDate", text: "y" })).toThrow(
      expect.objectContaining({ field: "fromDate" }),
    );
  });
});

describe("which of two versions is newer", () => {
  it("is the later time, then the greater event id; a version is not newer than itself", () => {
    expect(isNewer({ at: at(2), eventId: eventId(1) }, { at: at(1), eventId: eventId(9) })).toBe(true);
    expect(isNewer({ at: at(1), eventId: eventId(9) }, { at: at(2), eventId: eventId(1) })).toBe(false);
    expect(isNewer({ at: at(1), eventId: eventId(2) }, { at: at(1), eventId: eventId(1) })).toBe(true);
    expect(isNewer({ at: at(1), eventId: eventId(1) }, { at: at(1), eventId: eventId(2) })).toBe(false);
    expect(isNewer({ at: at(1), eventId: eventId(1) }, { at: at(1), eventId: eventId(1) })).toBe(false);
  });
});

describe("a reservation's latest state", () => {
  it("takes the first state seen, then only newer ones", () => {
    const registered = reservation(1, "REGISTERED", 0);
    const confirmed = reservation(1, "CONFIRMED", 5);
    expect(latestReservation(undefined, registered)).toBe(registered);
    expect(latestReservation(registered, confirmed)).toBe(confirmed);
    expect(latestReservation(confirmed, registered)).toBeUndefined();
    expect(latestReservation(confirmed, confirmed)).toBeUndefined();
  });

  it("orders two states of the same time by event id", () => {
    const cancelled = reservation(1, "CANCELLED", 5, { eventId: eventId(2) });
    const confirmed = reservation(1, "CONFIRMED", 5, { eventId: eventId(1) });
    expect(latestReservation(confirmed, cancelled)).toBe(cancelled);
    expect(latestReservation(cancelled, confirmed)).toBeUndefined();
  });

  const stories: Array<[string, ReservationState[], Partial<ReservationState>, Record<string, DayCounts>]> = [
    [
      "registered, confirmed, vaccinated",
      [reservation(1, "REGISTERED", 0), reservation(1, "CONFIRMED", 5), reservation(1, "VACCINATED", 9)],
      { status: "VACCINATED", updatedAt: at(9) },
      { [`${HOSPITAL} 2026-06-10`]: { ...emptyDay("2026-06-10"), vaccinated: 1 } },
    ],
    [
      "registered, confirmed, cancelled",
      [reservation(1, "REGISTERED", 0), reservation(1, "CONFIRMED", 5), reservation(1, "CANCELLED", 7)],
      { status: "CANCELLED" },
      { [`${HOSPITAL} 2026-06-10`]: { ...emptyDay("2026-06-10"), cancelled: 1 } },
    ],
    [
      "registered, rejected",
      [reservation(1, "REGISTERED", 0), reservation(1, "REJECTED", 3)],
      { status: "REJECTED" },
      { [`${HOSPITAL} 2026-06-10`]: { ...emptyDay("2026-06-10"), rejected: 1 } },
    ],
    [
      "waitlisted, then its entry cancelled (no day: never counted)",
      [reservation(1, "WAITLISTED", 0), reservation(1, "CANCELLED", 4, { date: undefined })],
      { status: "CANCELLED", date: undefined },
      {},
    ],
  ];

  it.each(stories)("is the same for every arrival order: %s", (_story, events, expected, counts) => {
    const orders = permutations(events);
    const results = orders.map((order) => project(order));
    for (const { latest, days } of results) {
      expect([...latest.values()]).toEqual([expect.objectContaining(expected)]);
      expect(latest).toEqual(results[0]?.latest);
      expect(Object.fromEntries(days)).toEqual(counts);
    }
  });

  it("counts several reservations of several days the same in every arrival order, with duplicates", () => {
    const events = [
      reservation(1, "REGISTERED", 0),
      reservation(1, "CONFIRMED", 2),
      reservation(2, "REGISTERED", 1, { date: "2026-06-11" }),
      reservation(2, "CANCELLED", 3, { date: "2026-06-11" }),
      reservation(3, "REGISTERED", 1, { hospitalId: OTHER_HOSPITAL }),
      reservation(4, "WAITLISTED", 0),
    ];
    const expected = countOf(project(events).latest.values());
    expect(Object.fromEntries(expected)).toEqual({
      [`${HOSPITAL} 2026-06-10`]: { ...emptyDay("2026-06-10"), confirmed: 1 },
      [`${HOSPITAL} 2026-06-11`]: { ...emptyDay("2026-06-11"), cancelled: 1 },
      [`${OTHER_HOSPITAL} 2026-06-10`]: { ...emptyDay("2026-06-10"), registered: 1 },
    });
    // Each event delivered twice, in every order (6! orders, each with the duplicates at the end).
    for (const order of permutations(events)) {
      const { latest, days } = project([...order, ...order.slice().reverse()]);
      expect(days).toEqual(expected);
      expect(countOf(latest.values())).toEqual(expected);
    }
  });
});

describe("day count changes", () => {
  const registered = reservation(1, "REGISTERED", 0);
  const bucket = { hospitalId: HOSPITAL, date: "2026-06-10" };

  it("counts a reservation first seen in its day and status", () => {
    expect(dayCountChanges(undefined, registered)).toEqual<DayCountChange[]>([
      { ...bucket, status: "REGISTERED", delta: 1 },
    ]);
  });

  it("moves a reservation whose status changed from one count to the other", () => {
    expect(dayCountChanges(registered, reservation(1, "CONFIRMED", 1))).toEqual<DayCountChange[]>([
      { ...bucket, status: "REGISTERED", delta: -1 },
      { ...bucket, status: "CONFIRMED", delta: 1 },
    ]);
  });

  it("changes nothing when the count stays", () => {
    expect(dayCountChanges(registered, reservation(1, "REGISTERED", 1))).toEqual([]);
  });

  it("never counts a waitlist entry, nor a state without a day", () => {
    const waitlisted = reservation(1, "WAITLISTED", 0);
    expect(dayCountChanges(undefined, waitlisted)).toEqual([]);
    expect(dayCountChanges(waitlisted, reservation(1, "CANCELLED", 1, { date: undefined }))).toEqual([]);
    expect(bucketOf({ ...waitlisted, date: "2026-06-10" })).toBeUndefined();
  });

  it("lists every day asked for, zeros where nothing is counted, with capacity and slots taken", () => {
    const stored: DayCounts[] = [
      { date: "2026-06-11", registered: 2, confirmed: 3, vaccinated: 4, cancelled: 5, rejected: 6 },
    ];
    expect(dailyListing(["2026-06-10", "2026-06-11", "2026-06-12"], 20, stored)).toEqual([
      { ...emptyDay("2026-06-10"), dailyCapacity: 20, taken: 0 },
      { ...stored[0], dailyCapacity: 20, taken: 9 },
      { ...emptyDay("2026-06-12"), dailyCapacity: 20, taken: 0 },
    ]);
  });
});

describe("hospital rates", () => {
  it("is the part over the doses made available, 0 when none were", () => {
    expect(rate(0, 0)).toBe(0);
    expect(rate(7, 0)).toBe(0);
    expect(rate(0, 10)).toBe(0);
    expect(rate(3, 10)).toBeCloseTo(0.3, 12);
    expect(rate(10, 10)).toBe(1);
  });

  it("is capped at 1 while doses given are seen before the doses they came from", () => {
    expect(rate(12, 10)).toBe(1);
  });

  it("gives the vaccination rate and the discard rate of a hospital over all its vaccines", () => {
    const tally = {
      hospitalId: HOSPITAL,
      hospitalName: "Seoul Central",
      availableDoses: 200,
      vaccinations: 50,
      discardedDoses: 10,
    };
    expect(ratesOf(tally)).toEqual({ ...tally, vaccinationRate: 0.25, discardRate: 0.05 });
    expect(ratesOf({ ...tally, availableDoses: 0 })).toMatchObject({ vaccinationRate: 0, discardRate: 0 });
  });
});

describe("vaccination counts", () => {
  it("counts each dose, and the person once the dose completes the vaccine", () => {
    expect(tallyOfDose({ status: "IN_PROGRESS" })).toEqual({ vaccinations: 1, peopleCompleted: 0 });
    expect(tallyOfDose({ status: "COMPLETED" })).toEqual({ vaccinations: 1, peopleCompleted: 1 });
  });

  it("totals the doses of every vaccine", () => {
    const perVaccine = [
      { vaccineId: VACCINE, vaccineName: "Comirnaty", vaccinations: 5, peopleCompleted: 2 },
      { vaccineId: "other", vaccineName: undefined, vaccinations: 3, peopleCompleted: 3 },
    ];
    expect(vaccinationCount(perVaccine)).toEqual({ vaccinations: 8, perVaccine });
    expect(vaccinationCount([])).toEqual({ vaccinations: 0, perVaccine: [] });
  });
});

describe("hospital stock", () => {
  const stock = (minutes: number, remaining: number, id = minutes): StockLevels => ({
    hospitalId: HOSPITAL,
    vaccineId: VACCINE,
    available: 100,
    given: 100 - remaining,
    discarded: 0,
    remaining,
    booked: 0,
    bookable: remaining,
    changedAt: at(minutes),
    eventId: eventId(id),
  });

  it("keeps the newest change by time, then event id, whatever the arrival order", () => {
    const changes = [stock(1, 90), stock(2, 80), stock(2, 70, 5), stock(3, 60)];
    for (const order of permutations(changes)) {
      let known: StockLevels | undefined;
      for (const seen of order) known = latestStock(known, seen) ?? known;
      expect(known).toEqual(stock(3, 60));
    }
    expect(latestStock(stock(2, 80), stock(2, 70, 5))).toEqual(stock(2, 70, 5));
    expect(latestStock(stock(2, 70, 5), stock(2, 80))).toBeUndefined();
    expect(latestStock(stock(3, 60), stock(3, 60))).toBeUndefined();
  });
});
