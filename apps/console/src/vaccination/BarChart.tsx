// A bar chart (Chart.js, loaded with the dashboard screen only) and the table of its numbers.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Title,
  Tooltip,
} from "chart.js";
import { useEffect, useId, useRef } from "react";
import { Table } from "../ui.tsx";
import type { ChartData } from "./chart-data.ts";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Title, Tooltip);

const COLOURS = ["#14325c", "#d97706", "#0f766e", "#9d174d"];

export function BarChart({ data }: { data: ChartData }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const id = useId();
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, {
      type: "bar",
      data: {
        labels: [...data.labels],
        datasets: data.series.map((series, index) => ({
          label: series.name,
          data: [...series.values],
          backgroundColor: COLOURS[index % COLOURS.length],
        })),
      },
      options: {
        responsive: true,
        animation: false,
        plugins: { title: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { callback: (value) => `${value}${data.unit}` } } },
      },
    });
    return () => chart.destroy();
  }, [data]);
  return (
    <figure className="chart" aria-labelledby={id}>
      <figcaption id={id}>{data.title}</figcaption>
      <canvas ref={canvas} role="img" aria-label={data.title} />
      <Table
        caption={`${data.title}: the numbers`}
        empty="No data yet."
        head={["", ...data.series.map((series) => series.name)]}
        rows={data.labels.map((label, index) => [
          label,
          ...data.series.map((series) => `${series.values[index] ?? 0}${data.unit}`),
        ])}
      />
    </figure>
  );
}
