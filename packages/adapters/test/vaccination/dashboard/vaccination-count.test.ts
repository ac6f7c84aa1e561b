import { randomUUID } from "node:crypto";
import type { VaccineCount } from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import { query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, inventory, startDashboard, vaccinationRecorded } from "./support.ts";

let dashboard: Dashboard;
beforeAll(async () => {
  dashboard = await startDashboard();
});
afterAll(async () => {
  await dashboard?.stop();
});

const HOSPITAL = randomUUID();

/** A dose of `vaccineId` given to someone new (or to `personId`), completing their vaccine or not. */
const dose = (vaccineId: string, completed: boolean, personId = `person-${randomUUID()}`) =>
  vaccinationRecorded({ personId, hospitalId: HOSPITAL, vaccineId, completed });

async function count(): Promise<{ total: bigint; perVaccine: Map<string, VaccineCount> }> {
  const response = await dashboard.client.getVaccinationCount({});
  return {
    total: response.vaccinations,
    perVaccine: new Map(response.perVaccine.map((vaccine) => [vaccine.vaccineId, vaccine])),
  };
}

describe("GetVaccinationCount", () => {
  it("counts nothing before any dose", async () => {
    expect(await dashboard.client.getVaccinationCount({})).toMatchObject({
      vaccinations: 0n,
      perVaccine: [],
    });
  });

  it("counts every dose per vaccine, and people whose dose completed the vaccine", async () => {
    const [first, second] = [randomUUID(), randomUUID()];
    const before = await count();
    const person = "person-1";
    await dashboard.feed(
      dose(first, false, person),
      dose(first, true, person),
      dose(first, false),
      dose(second, true),
      inventory.vaccineRegistered(second, "Vaxzevria"),
    );
    const after = await count();
    expect(after.total - before.total).toBe(4n);
    expect(after.perVaccine.get(first)).toMatchObject({
      vaccineName: "",
      vaccinations: 3n,
      peopleCompleted: 1n,
    });
    expect(after.perVaccine.get(second)).toMatchObject({
      vaccineName: "Vaxzevria",
      vaccinations: 1n,
      peopleCompleted: 1n,
    });
    // The total is the sum over the vaccines.
    const sum = [...after.perVaccine.values()].reduce((total, vaccine) => total + vaccine.vaccinations, 0n);
    expect(after.total).toBe(sum);
  });

  it("fills a vaccine's name in once VaccineRegistered arrives after its doses", async () => {
    const vaccineId = randomUUID();
    await dashboard.feed(dose(vaccineId, true));
    expect((await count()).perVaccine.get(vaccineId)?.vaccineName).toBe("");
    await dashboard.feed(inventory.vaccineRegistered(vaccineId, "Comirnaty"));
    expect((await count()).perVaccine.get(vaccineId)).toMatchObject({
      vaccineName: "Comirnaty",
      vaccinations: 1n,
      peopleCompleted: 1n,
    });
  });

  it("lists named vaccines by name, then the unnamed", async () => {
    const [zeta, alpha, unnamed] = [randomUUID(), randomUUID(), randomUUID()];
    await dashboard.feed(
      inventory.vaccineRegistered(zeta, "zz last named"),
      inventory.vaccineRegistered(alpha, "AA first named"),
      dose(zeta, false),
      dose(alpha, false),
      dose(unnamed, false),
    );
    const listed = (await dashboard.client.getVaccinationCount({})).perVaccine.map((v) => v.vaccineId);
    const positions = [alpha, zeta, unnamed].map((id) => listed.indexOf(id));
    expect(positions.every((position) => position >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(listed.at(0)).toBe(alpha);
  });

  it("counts a redelivered dose once, also when the copies arrive at the same time", async () => {
    const vaccineId = randomUUID();
    const given = dose(vaccineId, true);
    const before = await count();
    await dashboard.feed(given, given);
    await Promise.all([dashboard.publish(given), dashboard.publish(given), dashboard.publish(given)]);
    const after = await count();
    expect(after.total - before.total).toBe(1n);
    expect(after.perVaccine.get(vaccineId)).toMatchObject({ vaccinations: 1n, peopleCompleted: 1n });
  });

  it("loses no dose when many are counted at once", async () => {
    const vaccineId = randomUUID();
    await Promise.all(Array.from({ length: 20 }, (_, n) => dashboard.publish(dose(vaccineId, n % 4 === 0))));
    expect((await count()).perVaccine.get(vaccineId)).toMatchObject({
      vaccinations: 20n,
      peopleCompleted: 5n,
    });
  });

  it("keeps the counts as key-value pairs: one counter per vaccine and name", async () => {
    const vaccineId = randomUUID();
    await dashboard.feed(dose(vaccineId, false), dose(vaccineId, true));
    const rows = await query<{ key: string; value: string }>(
      dashboard.databaseUrl,
      "select key, value::text from vaccination_dashboard.counter where key like $1 order by key",
      [`vaccine/${vaccineId}/%`],
    );
    expect(rows).toEqual([
      { key: `vaccine/${vaccineId}/people-completed`, value: "1" },
      { key: `vaccine/${vaccineId}/vaccinations`, value: "2" },
    ]);
  });
});
