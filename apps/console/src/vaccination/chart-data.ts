// The dashboard read models shaped for charts: labels along one axis, one series per measure.
// Every chart is shown with a table of the same numbers, so they can be read without the picture.
import type {
  DailyReservations,
  GetVaccinationCountResponse,
  HospitalRates,
  HospitalVaccineStock,
} from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";

export interface Series {
  readonly name: string;
  readonly values: readonly number[];
}

export interface ChartData {
  readonly title: string;
  readonly labels: readonly string[];
  readonly series: readonly Series[];
  /** Appended to every value in the table and the axis, e.g. "%". */
  readonly unit: string;
}

/** A rate (0..1) as a percentage with one decimal. */
export const percent = (rate: number) => Math.round(rate * 1000) / 10;

export function vaccinationsChart(count: GetVaccinationCountResponse): ChartData {
  return {
    title: `Vaccinations per vaccine (total ${count.vaccinations})`,
    labels: count.perVaccine.map((vaccine) => vaccine.vaccineName || vaccine.vaccineId),
    series: [
      { name: "Vaccinations", values: count.perVaccine.map((vaccine) => Number(vaccine.vaccinations)) },
      {
        name: "People fully vaccinated",
        values: count.perVaccine.map((vaccine) => Number(vaccine.peopleCompleted)),
      },
    ],
    unit: "",
  };
}

export function hospitalRatesChart(hospitals: readonly HospitalRates[]): ChartData {
  return {
    title: "Vaccination rate and discard rate per hospital",
    labels: hospitals.map((hospital) => hospital.hospitalName || hospital.hospitalId),
    series: [
      { name: "Vaccination rate", values: hospitals.map((hospital) => percent(hospital.vaccinationRate)) },
      { name: "Discard rate", values: hospitals.map((hospital) => percent(hospital.discardRate)) },
    ],
    unit: "%",
  };
}

export function dailyReservationsChart(hospitalName: string, days: readonly DailyReservations[]): ChartData {
  return {
    title: `Daily reservations at ${hospitalName}: capacity and booked`,
    labels: days.map((day) => day.date),
    series: [
      { name: "Capacity", values: days.map((day) => day.dailyCapacity) },
      { name: "Booked", values: days.map((day) => day.taken) },
    ],
    unit: "",
  };
}

/** Doses per hospital, every vaccine added up. */
export function stockChart(stocks: readonly HospitalVaccineStock[]): ChartData {
  const hospitals = new Map<string, { name: string; remaining: number; booked: number; bookable: number }>();
  for (const stock of stocks) {
    const row = hospitals.get(stock.hospitalId) ?? {
      name: stock.hospitalName || stock.hospitalId,
      remaining: 0,
      booked: 0,
      bookable: 0,
    };
    row.remaining += stock.remaining;
    row.booked += stock.booked;
    row.bookable += stock.bookable;
    hospitals.set(stock.hospitalId, row);
  }
  const rows = [...hospitals.values()];
  return {
    title: "Vaccine stock per hospital (doses)",
    labels: rows.map((row) => row.name),
    series: [
      { name: "Remaining", values: rows.map((row) => row.remaining) },
      { name: "Booked", values: rows.map((row) => row.booked) },
      { name: "Bookable", values: rows.map((row) => row.bookable) },
    ],
    unit: "",
  };
}

/** The dates from `from` (YYYY-MM-DD) for `days` days, as the dashboard and bookings spell them. */
export function datesFrom(from: string, days: number): string[] {
  const start = new Date(`${from}T00:00:00Z`);
  return Array.from({ length: days }, (_, index) =>
    new Date(start.getTime() + index * 86_400_000).toISOString().slice(0, 10),
  );
}

/** Today in UTC, YYYY-MM-DD. */
export const today = (now = new Date()) => now.toISOString().slice(0, 10);
