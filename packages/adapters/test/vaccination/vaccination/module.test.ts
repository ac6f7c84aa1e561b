import { randomUUID } from "node:crypto";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EventEnvelope } from "@hexa/adapters/messaging/bus";
import {
  FieldViolationSchema,
  PreconditionFailureSchema,
  RetryInfoSchema,
} from "@hexa/proto/hexa/common/v1/errors_pb";
import { VaccinationStatus } from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import { eventually, query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EventIds,
  hospitalRegistered,
  newIds,
  outboxOf,
  replicaStock,
  reservationRegistered,
  rowCounts,
  STARTED_AT,
  startVaccination,
  stockChanged,
  type VaccinationHarness,
  vaccineRegistered,
} from "./support.ts";

let vaccination: VaccinationHarness;
beforeAll(async () => {
  vaccination = await startVaccination();
});
afterAll(async () => {
  await vaccination?.stop();
});

const MINUTE = 60_000;

/** Inventory registered a hospital and two vaccines, with `bookable` doses of each to book there. */
async function registered(bookable = 10) {
  const ids = newIds();
  await vaccination.publish(
    hospitalRegistered(ids.hospitalId),
    vaccineRegistered(ids.twoDoses, 2),
    vaccineRegistered(ids.oneDose, 1),
    stockChanged({ hospitalId: ids.hospitalId, vaccineId: ids.twoDoses, bookable, changedAt: STARTED_AT }),
    stockChanged({ hospitalId: ids.hospitalId, vaccineId: ids.oneDose, bookable, changedAt: STARTED_AT }),
  );
  return ids;
}

function newPerson(): string {
  return `person-${randomUUID().slice(0, 8)}`;
}

/** Reservation registered a booking of the person's and vaccination heard of it; its id. */
async function booked(personId: string, hospitalId: string, vaccineId: string): Promise<string> {
  const reservationId = randomUUID();
  await vaccination.publish(reservationRegistered({ reservationId, personId, hospitalId, vaccineId }));
  return reservationId;
}

async function failure(call: Promise<unknown>): Promise<ConnectError | undefined> {
  return call.then(
    () => undefined,
    (caught: unknown) => ConnectError.from(caught),
  );
}

describe("vaccination's replicas of inventory, fed through the embedded bus", () => {
  it("keeps registered vaccines, registered hospitals and each hospital's bookable doses", async () => {
    const ids = await registered(7);
    const vaccines = await query(
      vaccination.databaseUrl,
      `select vaccine_id, doses_required from vaccination_vaccination.registered_vaccine
        where vaccine_id in ($1, $2) order by doses_required`,
      [ids.oneDose, ids.twoDoses],
    );
    expect(vaccines).toEqual([
      { vaccine_id: ids.oneDose, doses_required: 1 },
      { vaccine_id: ids.twoDoses, doses_required: 2 },
    ]);
    const hospitals = await query(
      vaccination.databaseUrl,
      "select name from vaccination_vaccination.registered_hospital where hospital_id = $1",
      [ids.hospitalId],
    );
    expect(hospitals).toEqual([{ name: "General Hospital" }]);
    expect(await replicaStock(vaccination.databaseUrl, ids.hospitalId, ids.twoDoses)).toMatchObject({
      bookable: 7,
      changedAt: STARTED_AT.toISOString(),
    });
  });

  it("keeps the newest StockChanged whatever the order they arrive in", async () => {
    const { hospitalId, twoDoses: vaccineId } = newIds();
    await vaccination.publish(hospitalRegistered(hospitalId), vaccineRegistered(vaccineId, 2));
    const eventIds = new EventIds();
    const t1 = new Date(STARTED_AT.getTime() + MINUTE);
    const t2 = new Date(STARTED_AT.getTime() + 2 * MINUTE);
    const olderId = eventIds.next();
    const newerId = eventIds.next();
    const walkIn = { personId: newPerson(), hospitalId, vaccineId };

    // The newer change (nothing bookable) arrives first; the older one (3 bookable) arrives late.
    await vaccination.publish(stockChanged({ hospitalId, vaccineId, bookable: 0, changedAt: t2 }, newerId));
    await vaccination.publish(stockChanged({ hospitalId, vaccineId, bookable: 3, changedAt: t1 }, olderId));
    expect(await replicaStock(vaccination.databaseUrl, hospitalId, vaccineId)).toEqual({
      bookable: 0,
      changedAt: t2.toISOString(),
      eventId: newerId,
    });
    const refused = await failure(vaccination.client.recordVaccination(walkIn));
    expect(refused?.code).toBe(Code.FailedPrecondition);
    expect(refused?.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "hospital-must-have-a-bookable-dose" }),
    ]);

    // Two changes at the same time: the later event id wins, in either arrival order.
    const tieLow = eventIds.next();
    const tieHigh = eventIds.next();
    const t3 = new Date(STARTED_AT.getTime() + 3 * MINUTE);
    await vaccination.publish(
      stockChanged({ hospitalId, vaccineId, bookable: 1, changedAt: t3 }, tieHigh),
      stockChanged({ hospitalId, vaccineId, bookable: 0, changedAt: t3 }, tieLow),
    );
    expect(await replicaStock(vaccination.databaseUrl, hospitalId, vaccineId)).toMatchObject({
      bookable: 1,
      eventId: tieHigh,
    });
    expect((await vaccination.client.recordVaccination(walkIn)).record?.doseNumber).toBe(1);
  });

  it("has one effect for a redelivered event", async () => {
    const { hospitalId, twoDoses: vaccineId } = newIds();
    const first = stockChanged({ hospitalId, vaccineId, bookable: 4, changedAt: STARTED_AT });
    const registration = vaccineRegistered(vaccineId, 2);
    await vaccination.publish(first, registration, first, registration);
    const handled = await query<{ consumer: string; n: number }>(
      vaccination.databaseUrl,
      `select consumer, count(*)::int as n from vaccination_vaccination.inbox
        where event_id in ($1, $2) group by consumer order by consumer`,
      [first.id, registration.id],
    );
    expect(handled).toEqual([
      { consumer: "vaccination-stock-changed", n: 1 },
      { consumer: "vaccination-vaccine-registered", n: 1 },
    ]);
    expect(await replicaStock(vaccination.databaseUrl, hospitalId, vaccineId)).toMatchObject({
      bookable: 4,
      eventId: first.id,
    });
  });

  it("dead-letters a VaccineRegistered it cannot use, keeping nothing of it", async () => {
    const vaccineId = randomUUID();
    const bad = vaccineRegistered(vaccineId, 0);
    await vaccination.publish(bad);
    const letters = await vaccination.bus.deadLetters.list();
    expect(letters.filter((letter) => letter.event.id === bad.id)).toEqual([
      expect.objectContaining({
        consumer: "vaccination-vaccine-registered",
        error: expect.stringContaining("dosesRequired"),
      }),
    ]);
    const rows = await query(
      vaccination.databaseUrl,
      "select 1 from vaccination_vaccination.registered_vaccine where vaccine_id = $1",
      [vaccineId],
    );
    expect(rows).toEqual([]);
  });
});

describe("RecordVaccination and GetPersonStatus through Connect JSON", () => {
  it("records a first dose IN_PROGRESS, a second COMPLETED, refuses a third, and emits VaccinationRecorded for each", async () => {
    const { hospitalId, twoDoses: vaccineId } = await registered();
    const personId = newPerson();
    const reservationId = await booked(personId, hospitalId, vaccineId);
    const first = await vaccination.client.recordVaccination({
      personId,
      hospitalId,
      vaccineId,
      reservationId,
    });
    expect(first.record).toMatchObject({
      personId,
      hospitalId,
      vaccineId,
      reservationId,
      doseNumber: 1,
      dosesRequired: 2,
      status: VaccinationStatus.IN_PROGRESS,
      vaccinatedAt: timestampFromDate(STARTED_AT),
    });
    vaccination.clock.advance(28 * 86_400_000);
    const second = await vaccination.client.recordVaccination({ personId, hospitalId, vaccineId });
    expect(second.record).toMatchObject({
      reservationId: "",
      doseNumber: 2,
      dosesRequired: 2,
      status: VaccinationStatus.COMPLETED,
    });
    const third = await failure(vaccination.client.recordVaccination({ personId, hospitalId, vaccineId }));
    expect(third?.code).toBe(Code.FailedPrecondition);
    expect(third?.rawMessage).toContain("doses-must-not-exceed-requirement");

    const events = await outboxOf(vaccination.databaseUrl, personId);
    expect(events.map(({ type, aggregateId }) => [type, aggregateId])).toEqual([
      ["vaccination.vaccination.v1.VaccinationRecorded", personId],
      ["vaccination.vaccination.v1.VaccinationRecorded", personId],
    ]);
    expect(events.map((event) => event.message.record)).toEqual([first.record, second.record]);

    const status = await vaccination.client.getPersonStatus({ personId });
    expect(status.personId).toBe(personId);
    expect(status.vaccinations).toEqual([
      expect.objectContaining({
        vaccineId,
        dosesGiven: 2,
        dosesRequired: 2,
        status: VaccinationStatus.COMPLETED,
        lastDoseAt: second.record?.vaccinatedAt,
      }),
    ]);
    expect(timestampDate(status.vaccinations[0]?.lastDoseAt ?? timestampFromDate(new Date(0)))).toEqual(
      new Date(STARTED_AT.getTime() + 28 * 86_400_000),
    );
  });

  it("completes a single-dose vaccine at once, and shows each vaccine of a person", async () => {
    const { hospitalId, twoDoses, oneDose } = await registered();
    const personId = newPerson();
    const single = await vaccination.client.recordVaccination({ personId, hospitalId, vaccineId: oneDose });
    expect(single.record).toMatchObject({
      doseNumber: 1,
      dosesRequired: 1,
      status: VaccinationStatus.COMPLETED,
    });
    vaccination.clock.advance(MINUTE);
    await vaccination.client.recordVaccination({ personId, hospitalId, vaccineId: twoDoses });
    const { vaccinations } = await vaccination.client.getPersonStatus({ personId });
    expect(vaccinations.map((v) => [v.vaccineId, v.dosesGiven, v.dosesRequired, v.status])).toEqual([
      [oneDose, 1, 1, VaccinationStatus.COMPLETED],
      [twoDoses, 1, 2, VaccinationStatus.IN_PROGRESS],
    ]);
    expect((await vaccination.client.getPersonStatus({ personId: newPerson() })).vaccinations).toEqual([]);
  });

  it("accepts a reserved dose where no dose is bookable, and refuses a walk-in there", async () => {
    const { hospitalId, twoDoses: vaccineId } = await registered(0);
    const personId = newPerson();
    const walkIn = await failure(vaccination.client.recordVaccination({ personId, hospitalId, vaccineId }));
    expect(walkIn?.code).toBe(Code.FailedPrecondition);
    expect(walkIn?.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "hospital-must-have-a-bookable-dose" }),
    ]);
    const reserved = await vaccination.client.recordVaccination({
      personId,
      hospitalId,
      vaccineId,
      reservationId: await booked(personId, hospitalId, vaccineId),
    });
    expect(reserved.record).toMatchObject({ doseNumber: 1, status: VaccinationStatus.IN_PROGRESS });
  });

  it("refuses a reservation not heard of yet as retryable, writing nothing, and only its person's dose once heard of", async () => {
    const { hospitalId, twoDoses: vaccineId } = await registered();
    const [booker, other] = [newPerson(), newPerson()];
    const reservationId = randomUUID();
    const before = await rowCounts(vaccination.databaseUrl);
    for (const personId of [other, booker]) {
      const error = await failure(
        vaccination.client.recordVaccination({ personId, hospitalId, vaccineId, reservationId }),
      );
      expect(error?.code).toBe(Code.Unavailable);
      expect(error?.rawMessage).toMatch(
        /^reservation-must-be-known: vaccination has not heard of reservation /,
      );
      expect(error?.findDetails(RetryInfoSchema)).toEqual([
        expect.objectContaining({ rule: "reservation-must-be-known", retryAfterMs: 1_000 }),
      ]);
    }
    expect(await rowCounts(vaccination.databaseUrl)).toEqual(before);

    await vaccination.publish(
      reservationRegistered({ reservationId, personId: booker, hospitalId, vaccineId }),
    );
    const refused = await failure(
      vaccination.client.recordVaccination({ personId: other, hospitalId, vaccineId, reservationId }),
    );
    expect(refused?.code).toBe(Code.FailedPrecondition);
    expect(refused?.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "reservation-must-be-the-persons" }),
    ]);
    expect(await outboxOf(vaccination.databaseUrl, other)).toEqual([]);
    const { record } = await vaccination.client.recordVaccination({
      personId: booker,
      hospitalId,
      vaccineId,
      reservationId,
    });
    expect(record).toMatchObject({ personId: booker, reservationId, doseNumber: 1 });
  });

  it("answers a repeated record of a reservation's dose with the first record, emitting nothing more", async () => {
    const { hospitalId, twoDoses: vaccineId, oneDose } = await registered();
    const personId = newPerson();
    const reservationId = await booked(personId, hospitalId, vaccineId);
    const request = { personId, hospitalId, vaccineId, reservationId };
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => vaccination.client.recordVaccination(request)),
    );
    expect(new Set(answers.map((answer) => answer.record?.recordId)).size).toBe(1);
    expect(await outboxOf(vaccination.databaseUrl, personId)).toHaveLength(1);
    const other = await failure(vaccination.client.recordVaccination({ ...request, vaccineId: oneDose }));
    expect(other?.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "reservation-must-be-recorded-once" }),
    ]);
  });

  it("gives no dose twice under concurrent records of one person and vaccine", async () => {
    const { hospitalId, twoDoses: vaccineId } = await registered();
    const personId = newPerson();
    const reservations = await Promise.all(
      Array.from({ length: 6 }, () => booked(personId, hospitalId, vaccineId)),
    );
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        vaccination.client.recordVaccination({
          personId,
          hospitalId,
          vaccineId,
          reservationId: i % 2 === 0 ? (reservations[i / 2] ?? "") : "",
        }),
      ),
    );
    const recorded = results.flatMap((result) =>
      result.status === "fulfilled" ? [result.value.record] : [],
    );
    const refused = results.flatMap((result) =>
      result.status === "rejected" ? [ConnectError.from(result.reason)] : [],
    );
    expect(recorded.map((record) => record?.doseNumber).sort()).toEqual([1, 2]);
    expect(refused).toHaveLength(10);
    for (const error of refused) {
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.findDetails(PreconditionFailureSchema)[0]?.rule).toBe("doses-must-not-exceed-requirement");
    }
    const events = await outboxOf(vaccination.databaseUrl, personId);
    expect(events.map((event) => [event.message.record?.doseNumber, event.message.record?.status])).toEqual([
      [1, VaccinationStatus.IN_PROGRESS],
      [2, VaccinationStatus.COMPLETED],
    ]);
  });

  it("publishes VaccinationRecorded on the bus through the outbox, keyed by the person", async () => {
    const seen: EventEnvelope[] = [];
    const subscription = await vaccination.bus.subscribe({
      name: "test-vaccination-recorded",
      eventType: "vaccination.vaccination.v1.VaccinationRecorded",
      handle: async (event) => {
        seen.push(event);
      },
    });
    try {
      const { hospitalId, oneDose: vaccineId } = await registered();
      const personId = newPerson();
      const { record } = await vaccination.client.recordVaccination({ personId, hospitalId, vaccineId });
      await eventually(async () => {
        expect(seen.filter((event) => event.aggregateId === personId)).toHaveLength(1);
      });
      const published = seen.find((event) => event.aggregateId === personId);
      expect(JSON.parse(published?.payload ?? "{}")).toEqual({
        record: {
          recordId: record?.recordId,
          personId,
          hospitalId,
          vaccineId,
          doseNumber: 1,
          dosesRequired: 1,
          status: "VACCINATION_STATUS_COMPLETED",
          vaccinatedAt: expect.any(String),
        },
      });
    } finally {
      await subscription.stop();
    }
  });
});

describe("bad input", () => {
  it("names the field of every missing or malformed value on every RPC, and writes nothing", async () => {
    const { hospitalId, twoDoses: vaccineId } = await registered();
    const before = await rowCounts(vaccination.databaseUrl);
    const client = vaccination.client;
    const ok = { personId: newPerson(), hospitalId, vaccineId };
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => client.recordVaccination({ ...ok, personId: "" }), "personId"],
      [() => client.recordVaccination({ ...ok, personId: "   " }), "personId"],
      [() => client.recordVaccination({ ...ok, personId: "p".repeat(65) }), "personId"],
      [() => client.recordVaccination({ ...ok, hospitalId: "" }), "hospitalId"],
      [() => client.recordVaccination({ ...ok, hospitalId: "hospital-1" }), "hospitalId"],
      [() => client.recordVaccination({ ...ok, vaccineId: "" }), "vaccineId"],
      [() => client.recordVaccination({ ...ok, vaccineId: "vaccine-1" }), "vaccineId"],
      [() => client.recordVaccination({ ...ok, reservationId: "reservation-1" }), "reservationId"],
      [() => client.getPersonStatus({}), "personId"],
      [() => client.getPersonStatus({ personId: "p".repeat(65) }), "personId"],
    ];
    for (const [call, field] of cases) {
      const error = await failure(call());
      expect(error?.code, field).toBe(Code.InvalidArgument);
      expect(error?.rawMessage, field).toMatch(new RegExp(`^${field}: `));
      expect(error?.findDetails(FieldViolationSchema), field).toEqual([expect.objectContaining({ field })]);
    }
    expect(await rowCounts(vaccination.databaseUrl)).toEqual(before);
  });

  it("names the rule of every refused record, and writes nothing", async () => {
    const { hospitalId, twoDoses, oneDose } = await registered();
    const done = newPerson();
    await vaccination.client.recordVaccination({ personId: done, hospitalId, vaccineId: oneDose });
    const { hospitalId: empty, twoDoses: scarce } = newIds();
    await vaccination.publish(
      hospitalRegistered(empty),
      vaccineRegistered(scarce, 2),
      stockChanged({ hospitalId: empty, vaccineId: scarce, bookable: 0, changedAt: STARTED_AT }),
    );
    const reservationId = await booked(done, hospitalId, twoDoses);
    await vaccination.client.recordVaccination({
      personId: done,
      hospitalId,
      vaccineId: twoDoses,
      reservationId,
    });
    const before = await rowCounts(vaccination.databaseUrl);
    const client = vaccination.client;
    const person = newPerson();
    // Not heard of yet: retryable, with the rule and the wait.
    for (const [call, rule] of [
      [
        () => client.recordVaccination({ personId: person, hospitalId, vaccineId: randomUUID() }),
        "vaccine-must-be-registered",
      ],
      [
        () => client.recordVaccination({ personId: person, hospitalId: randomUUID(), vaccineId: twoDoses }),
        "hospital-must-be-registered",
      ],
      [
        () =>
          client.recordVaccination({
            personId: person,
            hospitalId,
            vaccineId: twoDoses,
            reservationId: randomUUID(),
          }),
        "reservation-must-be-known",
      ],
    ] as const) {
      const error = await failure(call());
      expect(error?.code, rule).toBe(Code.Unavailable);
      expect(error?.rawMessage, rule).toMatch(new RegExp(`^${rule}: `));
      expect(error?.findDetails(RetryInfoSchema), rule).toEqual([
        expect.objectContaining({ rule, retryAfterMs: 1_000 }),
      ]);
    }
    const cases: Array<[() => Promise<unknown>, string]> = [
      [
        () => client.recordVaccination({ personId: done, hospitalId, vaccineId: oneDose }),
        "doses-must-not-exceed-requirement",
      ],
      [
        () => client.recordVaccination({ personId: person, hospitalId: empty, vaccineId: scarce }),
        "hospital-must-have-a-bookable-dose",
      ],
      [
        () => client.recordVaccination({ personId: person, hospitalId, vaccineId: twoDoses, reservationId }),
        "reservation-must-be-the-persons",
      ],
      [
        () => client.recordVaccination({ personId: done, hospitalId, vaccineId: oneDose, reservationId }),
        "reservation-must-be-recorded-once",
      ],
    ];
    for (const [call, rule] of cases) {
      const error = await failure(call());
      expect(error?.code, rule).toBe(Code.FailedPrecondition);
      expect(error?.rawMessage, rule).toMatch(new RegExp(`^${rule}: `));
      expect(error?.findDetails(PreconditionFailureSchema), rule).toEqual([
        expect.objectContaining({ rule }),
      ]);
    }
    expect(await rowCounts(vaccination.databaseUrl)).toEqual(before);
  });
});
