// The administrator's dashboard: every chart from the vaccination dashboard's read models.
import { useQuery } from "@connectrpc/connect-query";
import { VaccinationDashboardService } from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { skipToken } from "@tanstack/react-query";
import { useState } from "react";
import { Field, formValues, Section } from "../ui.tsx";
import { BarChart } from "./BarChart.tsx";
import {
  dailyReservationsChart,
  datesFrom,
  hospitalRatesChart,
  stockChart,
  today,
  vaccinationsChart,
} from "./chart-data.ts";

const REFRESH_MS = 5_000;

export function Statistics() {
  const count = useQuery(
    VaccinationDashboardService.method.getVaccinationCount,
    {},
    { refetchInterval: REFRESH_MS },
  );
  const rates = useQuery(
    VaccinationDashboardService.method.listHospitalRates,
    {},
    { refetchInterval: REFRESH_MS },
  );
  const stock = useQuery(
    VaccinationDashboardService.method.listHospitalStock,
    {},
    { refetchInterval: REFRESH_MS },
  );
  const hospitals = useQuery(InventoryService.method.listHospitals, { pageSize: 100 }).data?.hospitals ?? [];
  const [hospitalId, setHospitalId] = useState("");
  const hospital = hospitals.find((candidate) => candidate.hospitalId === hospitalId) ?? hospitals[0];
  const dates = datesFrom(today(), 7);
  const days = useQuery(
    VaccinationDashboardService.method.getDailyReservations,
    hospital ? { hospitalId: hospital.hospitalId, fromDate: dates[0], toDate: dates.at(-1) } : skipToken,
    { refetchInterval: REFRESH_MS },
  );
  return (
    <>
      <Section title="Vaccinations">
        <p>
          Vaccinations given:{" "}
          <strong data-testid="vaccinations-total">{String(count.data?.vaccinations ?? "…")}</strong>
        </p>
        <div className="charts">
          {count.data && <BarChart data={vaccinationsChart(count.data)} />}
          {rates.data && <BarChart data={hospitalRatesChart(rates.data.hospitals)} />}
        </div>
      </Section>
      <Section title="Reservations and stock per hospital">
        <form
          className="inline"
          aria-label="Choose a hospital"
          onChange={(event) => setHospitalId(formValues(event.currentTarget).hospitalId ?? "")}
        >
          <Field label="Hospital" name="hospitalId">
            {hospitals.map((candidate) => (
              <option key={candidate.hospitalId} value={candidate.hospitalId}>
                {candidate.name}
              </option>
            ))}
          </Field>
        </form>
        <div className="charts">
          {hospital && days.data && <BarChart data={dailyReservationsChart(hospital.name, days.data.days)} />}
          {stock.data && <BarChart data={stockChart(stock.data.stocks)} />}
        </div>
      </Section>
    </>
  );
}
