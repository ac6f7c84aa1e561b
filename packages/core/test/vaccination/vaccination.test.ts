import { FailedPrecondition, InvalidArgument, Unavailable } from "@hexa/core/shared";
import {
  type BookedReservation,
  type BookedReservations,
  getPersonStatus,
  type HospitalStock,
  type HospitalStocks,
  PersonVaccination,
  type PersonVaccinations,
  type RegisteredHospital,
  type RegisteredHospitals,
  type RegisteredVaccine,
  type RegisteredVaccines,
  recordVaccination,
  type VaccinationEvent,
  type VaccinationPorts,
  type VaccinationRecord,
  whenHospitalRegistered,
  whenReservationRegistered,
  whenStockChanged,
  whenVaccineRegistered,
} from "@hexa/core/vaccination/vaccination";
import { beforeEach, describe, expect, it } from "vitest";
import { refusal, testContext } from "../support.ts";

class PersonVaccinationsInMemory implements PersonVaccinations {
  readonly saved = new Map<string, PersonVaccination>();
  readonly events: VaccinationEvent[] = [];
  async get(personId: string, vaccineId: string) {
    const found = this.saved.get(`${personId}|${vaccineId}`);
    return found ? PersonVaccination.restore(found.state) : undefined;
  }
  async save(vaccination: PersonVaccination) {
    const { personId, vaccineId } = vaccination.state;
    this.saved.set(`${personId}|${vaccineId}`, PersonVaccination.restore(vaccination.state));
    this.events.push(...vaccination.pullEvents());
  }
  async recordOfReservation(reservationId: string) {
    return this.records().find((record) => record.reservationId === reservationId);
  }
  async ofPerson(personId: string) {
    return [...this.saved.values()]
      .filter((vaccination) => vaccination.state.personId === personId)
      .map((vaccination) => PersonVaccination.restore(vaccination.state));
  }
  records(): VaccinationRecord[] {
    return [...this.saved.values()].flatMap((vaccination) => vaccination.state.doses);
  }
}

class RegisteredVaccinesInMemory implements RegisteredVaccines {
  readonly saved = new Map<string, RegisteredVaccine>();
  async get(vaccineId: string) {
    return this.saved.get(vaccineId);
  }
  async save(vaccine: RegisteredVaccine) {
    this.saved.set(vaccine.vaccineId, vaccine);
  }
}

class RegisteredHospitalsInMemory implements RegisteredHospitals {
  readonly saved = new Map<string, RegisteredHospital>();
  async get(hospitalId: string) {
    return this.saved.get(hospitalId);
  }
  async save(hospital: RegisteredHospital) {
    this.saved.set(hospital.hospitalId, hospital);
  }
}

class HospitalStocksInMemory implements HospitalStocks {
  readonly saved = new Map<string, HospitalStock>();
  writes = 0;
  async get(hospitalId: string, vaccineId: string) {
    return this.saved.get(`${hospitalId}|${vaccineId}`);
  }
  async save(stock: HospitalStock) {
    this.writes += 1;
    this.saved.set(`${stock.hospitalId}|${stock.vaccineId}`, stock);
  }
}

class BookedReservationsInMemory implements BookedReservations {
  readonly saved = new Map<string, BookedReservation>();
  async get(reservationId: string) {
    return this.saved.get(reservationId);
  }
  async save(reservation: BookedReservation) {
    this.saved.set(reservation.reservationId, reservation);
  }
}

type Ports = VaccinationPorts & {
  vaccinations: PersonVaccinationsInMemory;
  vaccines: RegisteredVaccinesInMemory;
  hospitals: RegisteredHospitalsInMemory;
  stocks: HospitalStocksInMemory;
  clock: ReturnType<typeof testContext>["clock"];
};

function newPorts(): Ports {
  return {
    ...testContext(),
    vaccinations: new PersonVaccinationsInMemory(),
    reservations: new BookedReservationsInMemory(),
    vaccines: new RegisteredVaccinesInMemory(),
    hospitals: new RegisteredHospitalsInMemory(),
    stocks: new HospitalStocksInMemory(),
  };
}

const HOSPITAL = "aaaaaaaa-0000-7000-8000-000000000001";
const TWO_DOSES = "bbbbbbbb-0000-7000-8000-000000000002";
const ONE_DOSE = "bbbbbbbb-0000-7000-8000-000000000001";
const RESERVATION = "cccccccc-0000-7000-8000-000000000001";
const SECOND_RESERVATION = "cccccccc-0000-7000-8000-000000000002";
const REGISTERED_AT = new Date("2026-02-01T00:00:00.000Z");
const NOW = new Date("2026-03-01T09:00:00.000Z");
const MINUTE = 60_000;

const twoDoses = {
  vaccineId: TWO_DOSES,
  name: "Two-dose vaccine",
  dosesRequired: 2,
  registeredAt: REGISTERED_AT,
};
const oneDose = {
  vaccineId: ONE_DOSE,
  name: "One-dose vaccine",
  dosesRequired: 1,
  registeredAt: REGISTERED_AT,
};
const hospital = { hospitalId: HOSPITAL, name: "General Hospital", registeredAt: REGISTERED_AT };

function stock(vaccineId: string, bookable: number, changedAt: Date, eventId: string): HospitalStock {
  return { hospitalId: HOSPITAL, vaccineId, bookable, changedAt, eventId };
}

/** Inventory's registrations, and `bookable` walk-in doses of each vaccine at the hospital. */
async function registered(ports: Ports, bookable = 10): Promise<void> {
  await whenVaccineRegistered(ports, twoDoses);
  await whenVaccineRegistered(ports, oneDose);
  await whenHospitalRegistered(ports, hospital);
  await whenStockChanged(
    ports,
    stock(TWO_DOSES, bookable, REGISTERED_AT, "eeeeeeee-0000-7000-8000-000000000001"),
  );
  await whenStockChanged(
    ports,
    stock(ONE_DOSE, bookable, REGISTERED_AT, "eeeeeeee-0000-7000-8000-000000000002"),
  );
}

const walkIn = { personId: "person-1", hospitalId: HOSPITAL, vaccineId: TWO_DOSES };

describe("recording a vaccination", () => {
  let ports: Ports;
  beforeEach(async () => {
    ports = newPorts();
    await registered(ports);
    // Reservation's ReservationRegistered: person-1 booked both reservations.
    await whenReservationRegistered(ports, { reservationId: RESERVATION, personId: "person-1" });
    await whenReservationRegistered(ports, { reservationId: SECOND_RESERVATION, personId: "person-1" });
  });

  it("records the first of two doses as IN_PROGRESS, with VaccinationRecorded for the person", async () => {
    const record = await recordVaccination(ports, { ...walkIn, reservationId: RESERVATION });
    const expected: VaccinationRecord = {
      recordId: "00000000-0000-7000-8000-000000000001",
      personId: "person-1",
      hospitalId: HOSPITAL,
      vaccineId: TWO_DOSES,
      reservationId: RESERVATION,
      doseNumber: 1,
      dosesRequired: 2,
      status: "IN_PROGRESS",
      vaccinatedAt: NOW,
    };
    expect(record).toEqual(expected);
    expect(ports.vaccinations.events).toEqual([
      {
        id: "00000000-0000-7000-8000-000000000002",
        type: "vaccination.vaccination.v1.VaccinationRecorded",
        aggregateId: "person-1",
        occurredAt: NOW,
        data: expected,
      },
    ]);
  });

  it("refuses a dose for another person's reservation (rule reservation-must-be-the-persons), writing nothing", async () => {
    const error = await refusal(
      recordVaccination(ports, { ...walkIn, personId: "person-2", reservationId: RESERVATION }),
    );
    expect(error).toBeInstanceOf(FailedPrecondition);
    expect(error).toMatchObject({
      rule: "reservation-must-be-the-persons",
      description: `reservation ${RESERVATION} was booked by another person than person-2`,
    });
    expect(ports.vaccinations.events).toEqual([]);
    const own = await recordVaccination(ports, { ...walkIn, reservationId: RESERVATION });
    expect(own).toMatchObject({ personId: "person-1", reservationId: RESERVATION, doseNumber: 1 });
  });

  it("refuses a reservation not heard of yet as retryable (rule reservation-must-be-known), writing nothing, then records it once heard of", async () => {
    const unheard = "cccccccc-0000-7000-8000-00000000000f";
    for (const personId of ["person-1", "person-2"]) {
      const error = await refusal(recordVaccination(ports, { ...walkIn, personId, reservationId: unheard }));
      expect(error).toBeInstanceOf(Unavailable);
      expect(error).toMatchObject({ retry: { rule: "reservation-must-be-known", afterMs: 1_000 } });
      expect((error as Error).message).toContain(`vaccination has not heard of reservation ${unheard} yet`);
    }
    expect(ports.vaccinations.saved.size).toBe(0);
    expect(ports.vaccinations.events).toEqual([]);

    // ReservationRegistered arrives: person-2 booked it, so only person-2 may use it.
    await whenReservationRegistered(ports, { reservationId: unheard, personId: "person-2" });
    expect(await refusal(recordVaccination(ports, { ...walkIn, reservationId: unheard }))).toMatchObject({
      rule: "reservation-must-be-the-persons",
    });
    expect(
      await recordVaccination(ports, { ...walkIn, personId: "person-2", reservationId: unheard }),
    ).toMatchObject({ personId: "person-2", reservationId: unheard, doseNumber: 1 });
  });

  it("answers a repeated record with the first one even where the reservation was recorded before vaccination knew reservations", async () => {
    const earlier = "cccccccc-0000-7000-8000-00000000000e";
    const first = PersonVaccination.start("person-1", TWO_DOSES);
    first.recordDose(
      {
        recordId: "00000000-0000-7000-8000-0000000000aa",
        hospitalId: HOSPITAL,
        reservationId: earlier,
        vaccine: twoDoses,
        hospital,
        stock: undefined,
        recordedForReservation: undefined,
        bookedReservation: { reservationId: earlier, personId: "person-1" },
      },
      ports,
    );
    await ports.vaccinations.save(first);
    const [record] = ports.vaccinations.records();
    expect(await recordVaccination(ports, { ...walkIn, reservationId: earlier })).toEqual(record);
    expect(ports.vaccinations.events).toHaveLength(1);
  });

  it("records the second dose as COMPLETED and refuses a third (rule doses-must-not-exceed-requirement)", async () => {
    await recordVaccination(ports, { ...walkIn, reservationId: RESERVATION });
    ports.clock.advance(21 * 86_400_000);
    const second = await recordVaccination(ports, walkIn);
    expect(second).toEqual({
      recordId: "00000000-0000-7000-8000-000000000003",
      personId: "person-1",
      hospitalId: HOSPITAL,
      vaccineId: TWO_DOSES,
      reservationId: undefined,
      doseNumber: 2,
      dosesRequired: 2,
      status: "COMPLETED",
      vaccinatedAt: new Date("2026-03-22T09:00:00.000Z"),
    });
    expect(ports.vaccinations.events[1]).toEqual({
      id: "00000000-0000-7000-8000-000000000004",
      type: "vaccination.vaccination.v1.VaccinationRecorded",
      aggregateId: "person-1",
      occurredAt: second.vaccinatedAt,
      data: second,
    });

    for (const third of [walkIn, { ...walkIn, reservationId: SECOND_RESERVATION }]) {
      const error = await refusal(recordVaccination(ports, third));
      expect(error).toBeInstanceOf(FailedPrecondition);
      expect(error).toMatchObject({
        rule: "doses-must-not-exceed-requirement",
        description: `person person-1 has had all 2 required doses of vaccine ${TWO_DOSES}`,
      });
    }
    expect(ports.vaccinations.events).toHaveLength(2);
    expect(ports.vaccinations.records().map((record) => record.doseNumber)).toEqual([1, 2]);
  });

  it("records the only dose of a single-dose vaccine as COMPLETED at once", async () => {
    const record = await recordVaccination(ports, { ...walkIn, vaccineId: ONE_DOSE });
    expect(record).toMatchObject({ doseNumber: 1, dosesRequired: 1, status: "COMPLETED" });
    expect(ports.vaccinations.events).toEqual([
      expect.objectContaining({ aggregateId: "person-1", data: record }),
    ]);
    expect(await refusal(recordVaccination(ports, { ...walkIn, vaccineId: ONE_DOSE }))).toMatchObject({
      rule: "doses-must-not-exceed-requirement",
    });
  });

  it("counts doses per person and per vaccine", async () => {
    await recordVaccination(ports, walkIn);
    const other = await recordVaccination(ports, { ...walkIn, personId: "person-2" });
    const otherVaccine = await recordVaccination(ports, { ...walkIn, vaccineId: ONE_DOSE });
    expect(other).toMatchObject({ personId: "person-2", doseNumber: 1, status: "IN_PROGRESS" });
    expect(otherVaccine).toMatchObject({ personId: "person-1", doseNumber: 1, status: "COMPLETED" });
  });

  it("refuses a vaccine not heard of yet as retryable (rule vaccine-must-be-registered), writing nothing", async () => {
    const unknown = "bbbbbbbb-0000-7000-8000-00000000000f";
    const error = await refusal(recordVaccination(ports, { ...walkIn, vaccineId: unknown }));
    expect(error).toBeInstanceOf(Unavailable);
    expect(error).toMatchObject({ retry: { rule: "vaccine-must-be-registered", afterMs: 1_000 } });
    expect((error as Error).message).toContain(`vaccination has not heard of vaccine ${unknown} yet`);
    expect(ports.vaccinations.saved.size).toBe(0);
    expect(ports.vaccinations.events).toEqual([]);
  });

  it("refuses a hospital not heard of yet as retryable (rule hospital-must-be-registered), even with a reservation, writing nothing", async () => {
    const unknown = "aaaaaaaa-0000-7000-8000-00000000000f";
    for (const command of [
      { ...walkIn, hospitalId: unknown },
      { ...walkIn, hospitalId: unknown, reservationId: RESERVATION },
    ]) {
      const error = await refusal(recordVaccination(ports, command));
      expect(error).toBeInstanceOf(Unavailable);
      expect(error).toMatchObject({ retry: { rule: "hospital-must-be-registered" } });
      expect((error as Error).message).toContain(`vaccination has not heard of hospital ${unknown} yet`);
    }
    expect(ports.vaccinations.saved.size).toBe(0);
  });

  it("refuses a walk-in when the hospital has no bookable dose (rule hospital-must-have-a-bookable-dose)", async () => {
    await whenStockChanged(
      ports,
      stock(TWO_DOSES, 0, new Date("2026-02-02T00:00:00.000Z"), "eeeeeeee-0000-7000-8000-000000000003"),
    );
    const error = await refusal(recordVaccination(ports, walkIn));
    expect(error).toBeInstanceOf(FailedPrecondition);
    expect(error).toMatchObject({
      rule: "hospital-must-have-a-bookable-dose",
      description: `hospital ${HOSPITAL} has no bookable dose of vaccine ${TWO_DOSES} for a walk-in`,
    });
    expect(ports.vaccinations.saved.size).toBe(0);
  });

  it("refuses a walk-in where vaccination never heard of the hospital's stock of the vaccine, as retryable", async () => {
    const ports = newPorts();
    await whenVaccineRegistered(ports, twoDoses);
    await whenHospitalRegistered(ports, hospital);
    const error = await refusal(recordVaccination(ports, walkIn));
    expect(error).toBeInstanceOf(Unavailable);
    expect(error).toMatchObject({ retry: { rule: "hospital-must-have-a-bookable-dose", afterMs: 1_000 } });
    expect((error as Error).message).toContain(
      `vaccination has not heard of any stock of vaccine ${TWO_DOSES}`,
    );
  });

  it("accepts a dose with a reservation even when no dose is bookable: its dose was booked", async () => {
    await whenStockChanged(
      ports,
      stock(TWO_DOSES, 0, new Date("2026-02-02T00:00:00.000Z"), "eeeeeeee-0000-7000-8000-000000000003"),
    );
    const record = await recordVaccination(ports, { ...walkIn, reservationId: RESERVATION });
    expect(record).toMatchObject({ reservationId: RESERVATION, doseNumber: 1, status: "IN_PROGRESS" });
    expect(ports.vaccinations.events).toHaveLength(1);
  });

  it("answers the first record again when a reservation's dose is recorded again, recording nothing", async () => {
    const first = await recordVaccination(ports, { ...walkIn, reservationId: RESERVATION });
    ports.clock.advance(MINUTE);
    expect(await recordVaccination(ports, { ...walkIn, reservationId: RESERVATION })).toEqual(first);
    expect(ports.vaccinations.events).toHaveLength(1);
    expect(ports.vaccinations.records()).toEqual([first]);
  });

  it("refuses a reservation already recorded for another vaccine or hospital (rule reservation-must-be-recorded-once)", async () => {
    const first = await recordVaccination(ports, { ...walkIn, reservationId: RESERVATION });
    const otherHospital = "aaaaaaaa-0000-7000-8000-000000000002";
    await whenHospitalRegistered(ports, { ...hospital, hospitalId: otherHospital });
    for (const command of [
      { ...walkIn, vaccineId: ONE_DOSE, reservationId: RESERVATION },
      { ...walkIn, hospitalId: otherHospital, reservationId: RESERVATION },
    ]) {
      expect(await refusal(recordVaccination(ports, command))).toMatchObject({
        rule: "reservation-must-be-recorded-once",
        description: `the dose of reservation ${RESERVATION} was already recorded (record ${first.recordId})`,
      });
    }
    expect(ports.vaccinations.events).toHaveLength(1);
  });

  it("trims the person id", async () => {
    expect(await recordVaccination(ports, { ...walkIn, personId: "  person-1 " })).toMatchObject({
      personId: "person-1",
    });
  });

  it.each([
    [{ ...walkIn, personId: "" }, "personId"],
    [{ ...walkIn, personId: "   " }, "personId"],
    [{ ...walkIn, personId: "p".repeat(65) }, "personId"],
    [{ ...walkIn, hospitalId: "" }, "hospitalId"],
    [{ ...walkIn, hospitalId: "hospital-1" }, "hospitalId"],
    [{ ...walkIn, vaccineId: "" }, "vaccineId"],
    [{ ...walkIn, vaccineId: "vaccine-1" }, "vaccineId"],
    [{ ...walkIn, reservationId: "reservation-1" }, "reservationId"],
  ])("refuses %j naming the field %s, writing nothing", async (command, field) => {
    const error = await refusal(recordVaccination(ports, command));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(error).toMatchObject({ field });
    expect(ports.vaccinations.saved.size).toBe(0);
  });
});

describe("a person's status", () => {
  it("shows, per vaccine, the doses given and required, the status and the last dose's time", async () => {
    const ports = newPorts();
    await registered(ports);
    await recordVaccination(ports, walkIn);
    ports.clock.advance(MINUTE);
    await recordVaccination(ports, { ...walkIn, vaccineId: ONE_DOSE });
    ports.clock.advance(MINUTE);
    await recordVaccination(ports, { ...walkIn, personId: "person-2" });
    expect(await getPersonStatus(ports, { personId: " person-1" })).toEqual({
      personId: "person-1",
      vaccinations: [
        {
          vaccineId: TWO_DOSES,
          dosesGiven: 1,
          dosesRequired: 2,
          status: "IN_PROGRESS",
          firstDoseAt: NOW,
          lastDoseAt: NOW,
        },
        {
          vaccineId: ONE_DOSE,
          dosesGiven: 1,
          dosesRequired: 1,
          status: "COMPLETED",
          firstDoseAt: new Date(NOW.getTime() + MINUTE),
          lastDoseAt: new Date(NOW.getTime() + MINUTE),
        },
      ],
    });
    ports.clock.advance(MINUTE);
    await recordVaccination(ports, walkIn);
    expect((await getPersonStatus(ports, { personId: "person-1" })).vaccinations[0]).toEqual({
      vaccineId: TWO_DOSES,
      dosesGiven: 2,
      dosesRequired: 2,
      status: "COMPLETED",
      firstDoseAt: NOW,
      lastDoseAt: new Date(NOW.getTime() + 3 * MINUTE),
    });
  });

  it("is empty for a person never vaccinated", async () => {
    expect(await getPersonStatus(newPorts(), { personId: "nobody" })).toEqual({
      personId: "nobody",
      vaccinations: [],
    });
  });

  it.each(["", " ", "p".repeat(65)])("names personId when it is %j", async (personId) => {
    await expect(getPersonStatus(newPorts(), { personId })).rejects.toMatchObject({ field: "personId" });
  });
});

describe("vaccination's replicas of inventory", () => {
  let ports: Ports;
  beforeEach(() => {
    ports = newPorts();
  });

  it("keeps a registered vaccine's required doses and a registered hospital", async () => {
    expect(await whenVaccineRegistered(ports, twoDoses)).toEqual(twoDoses);
    expect(await whenHospitalRegistered(ports, hospital)).toEqual(hospital);
    expect(await ports.vaccines.get(TWO_DOSES)).toEqual(twoDoses);
    expect(await ports.hospitals.get(HOSPITAL)).toEqual(hospital);
  });

  it.each([
    [{ ...twoDoses, vaccineId: "v" }, "vaccineId"],
    [{ ...twoDoses, dosesRequired: 0 }, "dosesRequired"],
  ])("refuses a VaccineRegistered it cannot use (%j names %s)", async (registered, field) => {
    await expect(whenVaccineRegistered(ports, registered)).rejects.toMatchObject({ field });
    expect(ports.vaccines.saved.size).toBe(0);
  });

  it("refuses a HospitalRegistered without a hospital id", async () => {
    await expect(whenHospitalRegistered(ports, { ...hospital, hospitalId: "" })).rejects.toMatchObject({
      field: "hospitalId",
    });
  });

  it("keeps the newest StockChanged by change time: an older one arriving late changes nothing", async () => {
    const t1 = new Date("2026-03-01T08:00:00.000Z");
    const t2 = new Date("2026-03-01T08:05:00.000Z");
    const newer = stock(TWO_DOSES, 0, t2, "eeeeeeee-0000-7000-8000-000000000001");
    const older = stock(TWO_DOSES, 5, t1, "eeeeeeee-0000-7000-8000-000000000002");
    expect(await whenStockChanged(ports, newer)).toEqual(newer);
    expect(await whenStockChanged(ports, older)).toEqual(newer);
    expect(await ports.stocks.get(HOSPITAL, TWO_DOSES)).toEqual(newer);
    expect(ports.stocks.writes).toBe(1);
  });

  it("breaks a tie of change times by event id, and is unchanged by a redelivered event", async () => {
    const at = new Date("2026-03-01T08:00:00.000Z");
    const first = stock(TWO_DOSES, 3, at, "eeeeeeee-0000-7000-8000-000000000001");
    const second = stock(TWO_DOSES, 2, at, "eeeeeeee-0000-7000-8000-000000000002");
    await whenStockChanged(ports, second);
    expect(await whenStockChanged(ports, first)).toEqual(second);
    expect(await whenStockChanged(ports, second)).toEqual(second);
    expect(ports.stocks.writes).toBe(1);
    const later = stock(TWO_DOSES, 7, new Date(at.getTime() + 1), "eeeeeeee-0000-7000-8000-000000000000");
    expect(await whenStockChanged(ports, later)).toEqual(later);
  });

  it("keeps each hospital's vaccines apart", async () => {
    const at = new Date("2026-03-01T08:00:00.000Z");
    await whenStockChanged(ports, stock(TWO_DOSES, 1, at, "eeeeeeee-0000-7000-8000-000000000001"));
    await whenStockChanged(ports, stock(ONE_DOSE, 0, at, "eeeeeeee-0000-7000-8000-000000000002"));
    expect((await ports.stocks.get(HOSPITAL, TWO_DOSES))?.bookable).toBe(1);
    expect((await ports.stocks.get(HOSPITAL, ONE_DOSE))?.bookable).toBe(0);
  });

  it("lets a walk-in through once a newer StockChanged makes a dose bookable again", async () => {
    await whenVaccineRegistered(ports, twoDoses);
    await whenHospitalRegistered(ports, hospital);
    const at = new Date("2026-03-01T08:00:00.000Z");
    await whenStockChanged(ports, stock(TWO_DOSES, 0, at, "eeeeeeee-0000-7000-8000-000000000001"));
    expect(await refusal(recordVaccination(ports, walkIn))).toMatchObject({
      rule: "hospital-must-have-a-bookable-dose",
    });
    await whenStockChanged(
      ports,
      stock(TWO_DOSES, 1, new Date(at.getTime() + MINUTE), "eeeeeeee-0000-7000-8000-000000000002"),
    );
    expect(await recordVaccination(ports, walkIn)).toMatchObject({ doseNumber: 1 });
  });
});
