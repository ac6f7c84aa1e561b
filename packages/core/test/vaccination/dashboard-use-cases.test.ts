import { InvalidArgument, NotFound } from "@hexa/core/shared";
import {
  type DailyCounts,
  type DayCounts,
  type Directory,
  dayCountChanges,
  emptyDay,
  getDailyReservations,
  getPersonReservations,
  getVaccinationCount,
  type HospitalStocks,
  type HospitalTallies,
  type HospitalTally,
  latestReservation,
  latestStock,
  listHospitalRates,
  listHospitalStock,
  type ReservationState,
  type ReservationViews,
  type StockLevels,
  type VaccinationCounters,
  type VaccinationDashboardPorts,
  type VaccineCount,
  whenAvailableDosesRegistered,
  whenDosesDiscarded,
  whenHospitalRegistered,
  whenReservationChanged,
  whenStockChanged,
  whenVaccinationRecorded,
  whenVaccineRegistered,
  withChange,
} from "@hexa/core/vaccination/dashboard";
import { beforeEach, describe, expect, it } from "vitest";
import { refusal } from "../support.ts";

const HOSPITAL = "0196b000-0000-7000-8000-0000000000a1";
const VACCINE = "0196b000-0000-7000-8000-0000000000b1";
const RESERVATION = "0196b000-0000-7000-8000-000000000001";
const START = new Date("2026-06-01T09:00:00.000Z");
const at = (minutes: number) => new Date(START.getTime() + minutes * 60_000);
const eventId = (n: number) => `0196b000-0000-7000-9000-${String(n).padStart(12, "0")}`;

/** The read models in memory, as the ports describe them. */
class InMemoryDashboard implements VaccinationDashboardPorts {
  readonly hospitals = new Map<string, { name: string; dailyCapacity: number }>();
  readonly vaccines = new Map<string, string>();
  readonly counts = new Map<string, { vaccinations: number; peopleCompleted: number }>();
  readonly tallyRows = new Map<string, Omit<HospitalTally, "hospitalId" | "hospitalName">>();
  readonly reservationRows = new Map<string, ReservationState>();
  readonly dayRows = new Map<string, DayCounts>();
  readonly stockRows = new Map<string, StockLevels>();

  /** Everything stored, to show what a refused event wrote: nothing. */
  snapshot(): unknown {
    return structuredClone([
      this.hospitals,
      this.vaccines,
      this.counts,
      this.tallyRows,
      this.reservationRows,
      this.dayRows,
      this.stockRows,
    ]);
  }

  readonly directory: Directory = {
    saveHospital: async ({ hospitalId, ...hospital }) => {
      this.hospitals.set(hospitalId, hospital);
    },
    saveVaccine: async ({ vaccineId, name }) => {
      this.vaccines.set(vaccineId, name);
    },
  };

  readonly counters: VaccinationCounters = {
    add: async (vaccineId, tally) => {
      const count = this.counts.get(vaccineId) ?? { vaccinations: 0, peopleCompleted: 0 };
      this.counts.set(vaccineId, {
        vaccinations: count.vaccinations + tally.vaccinations,
        peopleCompleted: count.peopleCompleted + tally.peopleCompleted,
      });
    },
    perVaccine: async (): Promise<VaccineCount[]> =>
      [...this.counts].map(([vaccineId, count]) => ({
        vaccineId,
        vaccineName: this.vaccines.get(vaccineId),
        ...count,
      })),
  };

  readonly tallies: HospitalTallies = {
    add: async (hospitalId, change) => {
      const tally = this.tallyRows.get(hospitalId) ?? {
        availableDoses: 0,
        vaccinations: 0,
        discardedDoses: 0,
      };
      this.tallyRows.set(hospitalId, {
        availableDoses: tally.availableDoses + change.availableDoses,
        vaccinations: tally.vaccinations + change.vaccinations,
        discardedDoses: tally.discardedDoses + change.discardedDoses,
      });
    },
    list: async () =>
      [...this.tallyRows].map(([hospitalId, tally]) => ({
        hospitalId,
        hospitalName: this.hospitals.get(hospitalId)?.name,
        ...tally,
      })),
  };

  readonly reservations: ReservationViews = {
    keep: async (state) => {
      const known = this.reservationRows.get(state.reservationId);
      const next = latestReservation(known, state);
      if (!next) return false;
      this.reservationRows.set(next.reservationId, next);
      for (const change of dayCountChanges(known, next)) {
        const key = `${change.hospitalId} ${change.date}`;
        this.dayRows.set(key, withChange(this.dayRows.get(key) ?? emptyDay(change.date), change));
      }
      return true;
    },
    ofPerson: async (personId) =>
      [...this.reservationRows.values()]
        .filter((state) => state.personId === personId)
        .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime())
        .map((state) => ({ ...state, hospitalName: this.hospitals.get(state.hospitalId)?.name })),
  };

  readonly daily: DailyCounts = {
    hospital: async (hospitalId) => {
      const hospital = this.hospitals.get(hospitalId);
      const counted = [...this.dayRows.keys()].some((key) => key.startsWith(`${hospitalId} `));
      if (!hospital && !counted) return undefined;
      return { dailyCapacity: hospital?.dailyCapacity ?? 0 };
    },
    days: async (hospitalId, from, to) =>
      [...this.dayRows]
        .filter(([key, day]) => key.startsWith(`${hospitalId} `) && day.date >= from && day.date <= to)
        .map(([, day]) => day)
        .sort((a, b) => (a.date < b.date ? -1 : 1)),
  };

  readonly stocks: HospitalStocks = {
    keep: async (stock) => {
      const key = `${stock.hospitalId} ${stock.vaccineId}`;
      const next = latestStock(this.stockRows.get(key), stock);
      if (!next) return false;
      this.stockRows.set(key, next);
      return true;
    },
    list: async (hospitalId) =>
      [...this.stockRows.values()]
        .filter((stock) => hospitalId === undefined || stock.hospitalId === hospitalId)
        .map((stock) => ({
          ...stock,
          hospitalName: this.hospitals.get(stock.hospitalId)?.name,
          vaccineName: this.vaccines.get(stock.vaccineId),
        })),
  };
}

let ports: InMemoryDashboard;
beforeEach(() => {
  ports = new InMemoryDashboard();
});

function reservation(status: ReservationState["status"], minutes: number): ReservationState {
  return {
    reservationId: RESERVATION,
    personId: "person-1",
    hospitalId: HOSPITAL,
    vaccineId: VACCINE,
    date: status === "WAITLISTED" ? undefined : "2026-06-10",
    status,
    updatedAt: at(minutes),
    eventId: eventId(minutes),
  };
}

describe("vaccination counts", () => {
  it("counts doses and completed people per vaccine; a name seen later fills in", async () => {
    await whenVaccinationRecorded(ports, { hospitalId: HOSPITAL, vaccineId: VACCINE, status: "IN_PROGRESS" });
    await whenVaccinationRecorded(ports, { hospitalId: HOSPITAL, vaccineId: VACCINE, status: "COMPLETED" });
    expect(await getVaccinationCount(ports)).toEqual({
      vaccinations: 2,
      perVaccine: [{ vaccineId: VACCINE, vaccineName: undefined, vaccinations: 2, peopleCompleted: 1 }],
    });
    await whenVaccineRegistered(ports, { vaccineId: VACCINE, name: "Comirnaty" });
    expect((await getVaccinationCount(ports)).perVaccine[0]?.vaccineName).toBe("Comirnaty");
  });
});

describe("hospital rates", () => {
  it("lists a hospital once registered, at 0, then with its rates over the doses made available", async () => {
    await whenHospitalRegistered(ports, { hospitalId: HOSPITAL, name: "Seoul Central", dailyCapacity: 30 });
    expect(await listHospitalRates(ports)).toEqual([
      {
        hospitalId: HOSPITAL,
        hospitalName: "Seoul Central",
        availableDoses: 0,
        vaccinations: 0,
        discardedDoses: 0,
        vaccinationRate: 0,
        discardRate: 0,
      },
    ]);
    await whenAvailableDosesRegistered(ports, { hospitalId: HOSPITAL, doses: 30 });
    await whenAvailableDosesRegistered(ports, { hospitalId: HOSPITAL, doses: 10 });
    await whenDosesDiscarded(ports, { hospitalId: HOSPITAL, doses: 4 });
    for (let dose = 0; dose < 10; dose++) {
      await whenVaccinationRecorded(ports, { hospitalId: HOSPITAL, vaccineId: VACCINE, status: "COMPLETED" });
    }
    expect(await listHospitalRates(ports)).toEqual([
      expect.objectContaining({
        availableDoses: 40,
        vaccinations: 10,
        discardedDoses: 4,
        vaccinationRate: 0.25,
        discardRate: 0.1,
      }),
    ]);
  });
});

describe("reservations", () => {
  it("keeps the newest state; an older one arriving later changes neither the state nor the counts", async () => {
    expect(await whenReservationChanged(ports, reservation("CONFIRMED", 5))).toBe(true);
    expect(await whenReservationChanged(ports, reservation("REGISTERED", 1))).toBe(false);
    expect(await whenReservationChanged(ports, reservation("CONFIRMED", 5))).toBe(false);
    expect(await getPersonReservations(ports, { personId: "person-1" })).toEqual([
      { ...reservation("CONFIRMED", 5), hospitalName: undefined },
    ]);
    expect(ports.dayRows.get(`${HOSPITAL} 2026-06-10`)).toEqual({ ...emptyDay("2026-06-10"), confirmed: 1 });
  });

  it("answers no reservations for a person it has not seen, and names personId when it is bad", async () => {
    expect(await getPersonReservations(ports, { personId: "nobody" })).toEqual([]);
    expect(await refusal(getPersonReservations(ports, { personId: "" }))).toMatchObject({
      field: "personId",
    });
    expect(await refusal(getPersonReservations(ports, { personId: "p".repeat(65) }))).toMatchObject({
      field: "personId",
    });
  });
});

describe("daily reservations", () => {
  const query = { hospitalId: HOSPITAL, fromDate: "2026-06-09", toDate: "2026-06-11" };

  it("lists each day with its counts, the hospital's capacity and the slots taken", async () => {
    await whenHospitalRegistered(ports, { hospitalId: HOSPITAL, name: "Seoul Central", dailyCapacity: 30 });
    await whenReservationChanged(ports, reservation("REGISTERED", 0));
    expect(await getDailyReservations(ports, query)).toEqual({
      hospitalId: HOSPITAL,
      days: [
        { ...emptyDay("2026-06-09"), dailyCapacity: 30, taken: 0 },
        { ...emptyDay("2026-06-10"), registered: 1, dailyCapacity: 30, taken: 1 },
        { ...emptyDay("2026-06-11"), dailyCapacity: 30, taken: 0 },
      ],
    });
  });

  it("shows a capacity of 0 for a hospital known only by its reservations", async () => {
    await whenReservationChanged(ports, reservation("CONFIRMED", 0));
    const { days } = await getDailyReservations(ports, query);
    expect(days[1]).toEqual({ ...emptyDay("2026-06-10"), confirmed: 1, dailyCapacity: 0, taken: 1 });
  });

  it("does not know a hospital it has seen nothing of", async () => {
    expect(await refusal(getDailyReservations(ports, query))).toEqual(new NotFound("Hospital", HOSPITAL));
  });

  it.each([
    [{ hospitalId: "" }, "hospitalId"],
    [{ hospitalId: "hospital-1" }, "hospitalId"],
    [{ fromDate: "" }, "fromDate"],
    [{ fromDate: "2026-02-30" }, "fromDate"],
    [{ toDate: "11/06/2026" }, "toDate"],
    [{ toDate: "2026-06-08" }, "toDate"],
    [{ fromDate: "2026-01-01", toDate: "2027-01-03" }, "toDate"],
  ])("names the bad field of %j: %s", async (change, field) => {
    const error = await refusal(getDailyReservations(ports, { ...query, ...change }));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field });
  });
});

describe("hospital stock", () => {
  const stock = (minutes: number, remaining: number): StockLevels => ({
    hospitalId: HOSPITAL,
    vaccineId: VACCINE,
    available: 50,
    given: 50 - remaining,
    discarded: 0,
    remaining,
    booked: 2,
    bookable: remaining - 2,
    changedAt: at(minutes),
    eventId: eventId(minutes),
  });

  it("keeps the newest stock per hospital and vaccine, with names, all or one hospital's", async () => {
    expect(await whenStockChanged(ports, stock(2, 40))).toBe(true);
    expect(await whenStockChanged(ports, stock(1, 45))).toBe(false);
    await whenVaccineRegistered(ports, { vaccineId: VACCINE, name: "Comirnaty" });
    const expected = [{ ...stock(2, 40), hospitalName: undefined, vaccineName: "Comirnaty" }];
    expect(await listHospitalStock(ports, { hospitalId: "" })).toEqual(expected);
    expect(await listHospitalStock(ports, { hospitalId: HOSPITAL })).toEqual(expected);
    expect(await listHospitalStock(ports, { hospitalId: VACCINE })).toEqual([]);
    expect(await refusal(listHospitalStock(ports, { hospitalId: "h1" }))).toMatchObject({
      field: "hospitalId",
    });
  });
});

describe("events that do not hold together", () => {
  it.each<[string, (p: VaccinationDashboardPorts) => Promise<unknown>, string]>([
    [
      "HospitalRegistered without a name",
      (p) => whenHospitalRegistered(p, { hospitalId: HOSPITAL, name: " ", dailyCapacity: 3 }),
      "name",
    ],
    [
      "HospitalRegistered with a bad id",
      (p) => whenHospitalRegistered(p, { hospitalId: "h", name: "A", dailyCapacity: 3 }),
      "hospitalId",
    ],
    [
      "VaccineRegistered with no id",
      (p) => whenVaccineRegistered(p, { vaccineId: "", name: "A" }),
      "vaccineId",
    ],
    [
      "AvailableDosesRegistered of no doses",
      (p) => whenAvailableDosesRegistered(p, { hospitalId: HOSPITAL, doses: 0 }),
      "doses",
    ],
    [
      "DosesDiscarded of no hospital",
      (p) => whenDosesDiscarded(p, { hospitalId: "", doses: 2 }),
      "hospitalId",
    ],
    [
      "VaccinationRecorded of no vaccine",
      (p) => whenVaccinationRecorded(p, { hospitalId: HOSPITAL, vaccineId: "", status: "COMPLETED" }),
      "vaccineId",
    ],
    [
      "a reservation with a bad day",
      (p) => whenReservationChanged(p, { ...reservation("REGISTERED", 0), date: "2026-06-31" }),
      "reservation.date",
    ],
    [
      "a reservation of nobody",
      (p) => whenReservationChanged(p, { ...reservation("REGISTERED", 0), personId: "" }),
      "reservation.personId",
    ],
    [
      "a reservation with an unknown status",
      (p) =>
        whenReservationChanged(p, {
          ...reservation("REGISTERED", 0),
          status: "LOST" as ReservationState["status"],
        }),
      "reservation.status",
    ],
    [
      "a reservation without a time",
      (p) => whenReservationChanged(p, { ...reservation("REGISTERED", 0), updatedAt: new Date(Number.NaN) }),
      "reservation.updatedAt",
    ],
    [
      "a stock of no vaccine",
      (p) =>
        whenStockChanged(p, {
          hospitalId: HOSPITAL,
          vaccineId: "",
          available: 1,
          given: 0,
          discarded: 0,
          remaining: 1,
          booked: 0,
          bookable: 1,
          changedAt: at(0),
          eventId: eventId(1),
        }),
      "vaccineId",
    ],
  ])("%s is refused, naming %s, with nothing written", async (_event, handle, field) => {
    const before = ports.snapshot();
    const error = await refusal(handle(ports));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field });
    expect(ports.snapshot()).toEqual(before);
  });
});
