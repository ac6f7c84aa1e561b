import { create } from "@bufbuild/protobuf";
import {
  DailyReservationsSchema,
  GetVaccinationCountResponseSchema,
  HospitalRatesSchema,
  HospitalVaccineStockSchema,
} from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import { describe, expect, it } from "vitest";
import {
  dailyReservationsChart,
  datesFrom,
  hospitalRatesChart,
  percent,
  stockChart,
  vaccinationsChart,
} from "../../src/vaccination/chart-data.ts";

describe("the dashboard's read models shaped for charts", () => {
  it("shows rates as percentages with one decimal, per hospital", () => {
    const chart = hospitalRatesChart([
      create(HospitalRatesSchema, {
        hospitalId: "h1",
        hospitalName: "Seoul",
        vaccinationRate: 2 / 3,
        discardRate: 0.05,
      }),
      create(HospitalRatesSchema, { hospitalId: "h2", vaccinationRate: 1, discardRate: 0 }),
    ]);
    expect(chart.labels).toEqual(["Seoul", "h2"]);
    expect(chart.series).toEqual([
      { name: "Vaccination rate", values: [66.7, 100] },
      { name: "Discard rate", values: [5, 0] },
    ]);
    expect(chart.unit).toBe("%");
    expect(percent(0.12345)).toBe(12.3);
  });

  it("adds up every vaccine's stock per hospital", () => {
    const stock = (hospitalId: string, remaining: number, booked: number) =>
      create(HospitalVaccineStockSchema, {
        hospitalId,
        hospitalName: hospitalId.toUpperCase(),
        remaining,
        booked,
        bookable: remaining - booked,
      });
    const chart = stockChart([stock("a", 10, 4), stock("b", 3, 3), stock("a", 5, 1)]);
    expect(chart.labels).toEqual(["A", "B"]);
    expect(chart.series).toEqual([
      { name: "Remaining", values: [15, 3] },
      { name: "Booked", values: [5, 3] },
      { name: "Bookable", values: [10, 0] },
    ]);
  });

  it("sets each day's capacity beside the slots taken", () => {
    const chart = dailyReservationsChart("Seoul", [
      create(DailyReservationsSchema, { date: "2026-12-04", dailyCapacity: 20, taken: 3, cancelled: 2 }),
      create(DailyReservationsSchema, { date: "2026-12-05", dailyCapacity: 20, taken: 20 }),
    ]);
    expect(chart.labels).toEqual(["2026-12-04", "2026-12-05"]);
    expect(chart.series).toEqual([
      { name: "Capacity", values: [20, 20] },
      { name: "Booked", values: [3, 20] },
    ]);
  });

  it("counts vaccinations per vaccine (64-bit counts as numbers)", () => {
    const chart = vaccinationsChart(
      create(GetVaccinationCountResponseSchema, {
        vaccinations: 7n,
        perVaccine: [{ vaccineId: "v1", vaccineName: "Vaxo", vaccinations: 7n, peopleCompleted: 3n }],
      }),
    );
    expect(chart.title).toBe("Vaccinations per vaccine (total 7)");
    expect(chart.series).toEqual([
      { name: "Vaccinations", values: [7] },
      { name: "People fully vaccinated", values: [3] },
    ]);
  });

  it("lists the days from a date, across a month's end", () => {
    expect(datesFrom("2026-12-30", 4)).toEqual(["2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02"]);
  });
});
