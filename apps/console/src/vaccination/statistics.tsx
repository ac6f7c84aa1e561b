// The administrator's dashboard: every chart from the vaccination dashboard's read models.
import { createClient } from "@connectrpc/connect";
import { useQuery, useTransport } from "@connectrpc/connect-query";
import { VaccinationDashboardService } from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { skipToken, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useStream } from "../live.ts";
import { Field, formValues, Section, StreamBadge } from "../ui.tsx";
import { BarChart } from "./BarChart.tsx";
import {
  dailyReservationsChart,
  datesFrom,
  hospitalRatesChart,
  stockChart,
  today,
  vaccinationsChart,
} from "./chart-data.ts";

/** Every chart read again when the read models change (WatchDashboard): no polling. */
function useDashboardChanges() {
  const transport = useTransport();
  const queries = useQueryClient();
  return useStream(
    (options) => createClient(VaccinationDashboardService, transport).watchDashboard({}, options),
    () => void queries.invalidateQueries(),
    "dashboard",
  );
}

export function Statistics() {
  const changes = useDashboardChanges();
  const count = useQuery(VaccinationDashboardService.method.getVaccinationCount, {});
  const rates = useQuery(VaccinationDashboardService.method.listHospitalRates, {});
  const stock = useQuery(VaccinationDashboardService.method.listHospitalStock, {});
  const hospitals = useQuery(InventoryService.method.listHospitals, { pageSize: 100 }).data?.hospitals ?? [];
  const [hospitalId, setHospitalId] = useState("");
  const hospital = hospitals.find((candidate) => candidate.hospitalId === hospitalId) ?? hospitals[0];
  const dates = datesFrom(today(), 7);
  const days = useQuery(
    VaccinationDashboardService.method.getDailyReservations,
    hospital ? { hospitalId: hospital.hospitalId, fromDate: dates[0], toDate: dates.at(-1) } : skipToken,
  );
  return (
    <>
      <Section title="Vaccinations" aside={<StreamBadge state={changes} />}>
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
