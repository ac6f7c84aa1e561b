import { randomUUID } from "node:crypto";
import type { HospitalRates } from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, inventory, startDashboard, vaccinationRecorded } from "./support.ts";

let dashboard: Dashboard;
beforeAll(async () => {
  dashboard = await startDashboard();
});
afterAll(async () => {
  await dashboard?.stop();
});

const [FIRST_VACCINE, SECOND_VACCINE] = [randomUUID(), randomUUID()];

const given = (hospitalId: string, vaccineId = FIRST_VACCINE) =>
  vaccinationRecorded({ personId: `person-${randomUUID()}`, hospitalId, vaccineId, completed: false });

async function ratesOf(hospitalId: string): Promise<HospitalRates | undefined> {
  const { hospitals } = await dashboard.client.listHospitalRates({});
  return hospitals.find((hospital) => hospital.hospitalId === hospitalId);
}

describe("ListHospitalRates", () => {
  it("lists a registered hospital with nothing supplied at 0, rates included", async () => {
    const hospitalId = randomUUID();
    await dashboard.feed(inventory.hospitalRegistered(hospitalId, "Busan General", 40));
    expect(await ratesOf(hospitalId)).toMatchObject({
      hospitalId,
      hospitalName: "Busan General",
      availableDoses: 0n,
      vaccinations: 0n,
      discardedDoses: 0n,
      vaccinationRate: 0,
      discardRate: 0,
    });
  });

  it("rates doses given and discarded over the doses made available, over all vaccines", async () => {
    const hospitalId = randomUUID();
    await dashboard.feed(
      inventory.hospitalRegistered(hospitalId, "Seoul Central", 30),
      inventory.availableDosesRegistered(hospitalId, FIRST_VACCINE, 60),
      inventory.availableDosesRegistered(hospitalId, SECOND_VACCINE, 40),
      inventory.dosesDiscarded(hospitalId, FIRST_VACCINE, 3),
      inventory.dosesDiscarded(hospitalId, SECOND_VACCINE, 2),
      ...Array.from({ length: 20 }, () => given(hospitalId, FIRST_VACCINE)),
      ...Array.from({ length: 5 }, () => given(hospitalId, SECOND_VACCINE)),
    );
    expect(await ratesOf(hospitalId)).toMatchObject({
      hospitalName: "Seoul Central",
      availableDoses: 100n,
      vaccinations: 25n,
      discardedDoses: 5n,
      vaccinationRate: 0.25,
      discardRate: 0.05,
    });
  });

  it("counts events seen before the hospital's registration, and shows its name once it arrives", async () => {
    const hospitalId = randomUUID();
    await dashboard.feed(
      given(hospitalId),
      inventory.dosesDiscarded(hospitalId, FIRST_VACCINE, 1),
      inventory.availableDosesRegistered(hospitalId, FIRST_VACCINE, 8),
    );
    expect(await ratesOf(hospitalId)).toMatchObject({
      hospitalName: "",
      availableDoses: 8n,
      vaccinationRate: 0.125,
      discardRate: 0.125,
    });
    await dashboard.feed(inventory.hospitalRegistered(hospitalId, "Daegu Clinic", 10));
    expect(await ratesOf(hospitalId)).toMatchObject({ hospitalName: "Daegu Clinic", vaccinations: 1n });
  });

  it("rates 0 while no dose was made available, and caps at 1 while doses given arrive before their supply", async () => {
    const hospitalId = randomUUID();
    await dashboard.feed(given(hospitalId), given(hospitalId), given(hospitalId));
    expect(await ratesOf(hospitalId)).toMatchObject({
      availableDoses: 0n,
      vaccinations: 3n,
      vaccinationRate: 0,
    });
    await dashboard.feed(inventory.availableDosesRegistered(hospitalId, FIRST_VACCINE, 2));
    expect(await ratesOf(hospitalId)).toMatchObject({ vaccinationRate: 1 });
    await dashboard.feed(inventory.availableDosesRegistered(hospitalId, FIRST_VACCINE, 10));
    expect(await ratesOf(hospitalId)).toMatchObject({ availableDoses: 12n, vaccinationRate: 0.25 });
  });

  it("counts each redelivered event once", async () => {
    const hospitalId = randomUUID();
    const supplied = inventory.availableDosesRegistered(hospitalId, FIRST_VACCINE, 50);
    const discarded = inventory.dosesDiscarded(hospitalId, FIRST_VACCINE, 5);
    const dose = given(hospitalId);
    await dashboard.feed(supplied, discarded, dose, supplied, discarded, dose);
    await Promise.all(
      [supplied, discarded, dose, supplied, discarded, dose].map((e) => dashboard.publish(e)),
    );
    expect(await ratesOf(hospitalId)).toMatchObject({
      availableDoses: 50n,
      vaccinations: 1n,
      discardedDoses: 5n,
      vaccinationRate: 0.02,
      discardRate: 0.1,
    });
  });

  it("lists hospitals by name, the unnamed last", async () => {
    const [b, a, unnamed] = [randomUUID(), randomUUID(), randomUUID()];
    await dashboard.feed(
      inventory.hospitalRegistered(b, "Hospital B", 5),
      inventory.hospitalRegistered(a, "Hospital A", 5),
      inventory.availableDosesRegistered(unnamed, FIRST_VACCINE, 1),
    );
    const { hospitals } = await dashboard.client.listHospitalRates({});
    const names = hospitals.map((hospital) => hospital.hospitalName);
    expect(names.indexOf("Hospital A")).toBeLessThan(names.indexOf("Hospital B"));
    expect(hospitals.at(-1)?.hospitalName).toBe("");
    expect(hospitals.filter((hospital) => hospital.hospitalName !== "").map((h) => h.hospitalName)).toEqual(
      [...names.filter((name) => name !== "")].sort(),
    );
  });
});
