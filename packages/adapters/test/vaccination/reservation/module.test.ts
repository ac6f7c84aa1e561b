import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { reservationIdForKey } from "@hexa/core/vaccination/reservation";
import { FieldViolationSchema, PreconditionFailureSchema } from "@hexa/proto/hexa/common/v1/errors_pb";
import {
  CancellationReason,
  type Reservation,
  ReservationService,
  ReservationStatus,
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { connectJsonClient, eventually, query, testToken } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventEnvelope } from "../../../src/messaging/bus.ts";
import {
  bookableDosesAvailable,
  bookingsReleasedForDiscard,
  counts,
  dayAfter,
  emitted,
  newId,
  type ReservationApp,
  ScriptedInventory,
  startReservation,
  vaccinationRecorded,
} from "./support.ts";

let inventory: ScriptedInventory;
let app: ReservationApp;
beforeAll(async () => {
  inventory = await ScriptedInventory.start();
  app = await startReservation({ inventoryUrl: inventory.url });
});
afterAll(async () => {
  await app?.stop();
  await inventory?.stop();
});

/** A hospital and a vaccine no other test uses. */
function place(): { hospitalId: string; vaccineId: string } {
  return { hospitalId: newId(), vaccineId: newId() };
}

async function book(
  personId: string,
  at: { hospitalId: string; vaccineId: string },
  days = 7,
): Promise<Reservation> {
  const { outcome } = await app.client.reserve({ personId, ...at, date: dayAfter(app.clock, days) });
  if (outcome.case !== "reservation") throw new Error(`expected a reservation, got ${outcome.case}`);
  return outcome.value;
}

async function publish(...events: EventEnvelope[]): Promise<void> {
  for (const event of events) await app.bus.publish(event);
}

async function statusOf(reservationId: string): Promise<Reservation | undefined> {
  return (await app.client.getReservation({ reservationId })).reservation;
}

describe("Reserve through Connect JSON", () => {
  it("books through inventory: REGISTERED, and ReservationRegistered with the whole reservation", async () => {
    inventory.behaviour = "book";
    const at = place();
    const date = dayAfter(app.clock, 3);
    const now = app.clock.now();
    const { outcome } = await app.client.reserve({ personId: "person-1", ...at, date });
    expect(outcome.case).toBe("reservation");
    const reservation = outcome.value as Reservation;
    expect(reservation).toMatchObject({
      personId: "person-1",
      ...at,
      date,
      status: ReservationStatus.REGISTERED,
      cancellationReason: CancellationReason.UNSPECIFIED,
      note: "",
      createdAt: timestampFromDate(now),
      updatedAt: timestampFromDate(now),
    });
    expect(inventory.calls.at(-1)).toMatchObject({ reservationId: reservation.reservationId, ...at, date });
    expect(await statusOf(reservation.reservationId)).toEqual(reservation);
    const events = await emitted(app.databaseUrl, [reservation.reservationId]);
    expect(events).toEqual([
      {
        type: "vaccination.reservation.v1.ReservationRegistered",
        aggregateId: reservation.reservationId,
        message: expect.objectContaining({ reservation }),
      },
    ]);
  });

  it.each([
    ["no-doses", WaitlistOffer_Reason.NO_DOSES],
    ["date-full", WaitlistOffer_Reason.DATE_FULL],
  ] as const)("offers the waitlist when inventory answers %s, writing nothing", async (behaviour, reason) => {
    inventory.behaviour = behaviour;
    const before = await counts(app.databaseUrl);
    const { outcome } = await app.client.reserve({
      personId: "person-2",
      ...place(),
      date: dayAfter(app.clock, 1),
    });
    expect(outcome).toEqual({
      case: "waitlistOffer",
      value: expect.objectContaining({ reason, message: expect.stringContaining("JoinWaitlist") }),
    });
    expect(await counts(app.databaseUrl)).toEqual(before);
  });

  it("passes inventory's refusal of an unknown hospital on, writing nothing", async () => {
    inventory.behaviour = "unknown-hospital";
    const before = await counts(app.databaseUrl);
    const error = await app.client
      .reserve({ personId: "person-3", ...place(), date: dayAfter(app.clock, 1) })
      .catch((caught: unknown) => ConnectError.from(caught));
    expect(error).toMatchObject({ code: Code.NotFound });
    expect(await counts(app.databaseUrl)).toEqual(before);
  });

  it("closes the person's waitlist entry there when they book (CANCELLED, reason BOOKED)", async () => {
    inventory.behaviour = "book";
    const at = place();
    const { reservation: entry } = await app.client.joinWaitlist({ personId: "person-4", ...at });
    const booked = await book("person-4", at);
    const closed = await statusOf(entry?.reservationId ?? "");
    expect(closed).toMatchObject({
      status: ReservationStatus.CANCELLED,
      cancellationReason: CancellationReason.BOOKED,
      date: "",
    });
    const events = await emitted(app.databaseUrl, [entry?.reservationId ?? "", booked.reservationId]);
    expect(events.map((event) => [event.type, event.aggregateId])).toEqual([
      ["vaccination.reservation.v1.WaitlistJoined", entry?.reservationId],
      ["vaccination.reservation.v1.ReservationRegistered", booked.reservationId],
      ["vaccination.reservation.v1.ReservationCancelled", entry?.reservationId],
    ]);
  });

  it("with an idempotency key, answers repeats with the same reservation: one row, one booking", async () => {
    inventory.behaviour = "book";
    const request = {
      personId: "person-5",
      ...place(),
      date: dayAfter(app.clock, 2),
      idempotencyKey: "tap-1",
    };
    const answers = await Promise.all(Array.from({ length: 12 }, () => app.client.reserve(request)));
    const again = await app.client.reserve(request);
    const id = reservationIdForKey("person-5", "tap-1");
    for (const { outcome } of [...answers, again]) {
      expect(outcome.case).toBe("reservation");
      expect(outcome.value).toMatchObject({ reservationId: id, status: ReservationStatus.REGISTERED });
    }
    for (const { outcome } of [...answers, again]) expect(outcome.value).toEqual(again.outcome.value);
    const rows = await query(
      app.databaseUrl,
      "select reservation_id from vaccination_reservation.reservation where person_id = $1",
      ["person-5"],
    );
    expect(rows).toEqual([{ reservation_id: id }]);
    expect(inventory.booked.has(id)).toBe(true);
    // Every concurrent call asked for the same reservation id, which inventory books once; the repeat
    // after the first answer did not ask at all.
    expect(inventory.callsFor(id)).toBeLessThanOrEqual(12);
    const events = await emitted(app.databaseUrl, [id]);
    expect(events.map((event) => event.type)).toEqual(["vaccination.reservation.v1.ReservationRegistered"]);
  });
});

describe("one outstanding reservation per person and vaccine", () => {
  it("refuses a second booking of the vaccine naming the rule, and books once for concurrent ones", async () => {
    inventory.behaviour = "book";
    const at = place();
    const held = await book("person-once", at, 3);
    const second = await app.client
      .reserve({
        personId: "person-once",
        hospitalId: newId(),
        vaccineId: at.vaccineId,
        date: dayAfter(app.clock, 4),
      })
      .then(
        () => undefined,
        (error: unknown) => ConnectError.from(error),
      );
    expect(second?.code).toBe(Code.FailedPrecondition);
    expect(second?.findDetails(PreconditionFailureSchema)[0]).toMatchObject({
      rule: "one-outstanding-reservation-per-vaccine",
    });
    expect(second?.rawMessage).toContain(held.reservationId);

    // Eight at once, without idempotency keys: one books; each other gives back what inventory took.
    const other = place();
    const bookedBefore = new Set(inventory.booked);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        app.client.reserve({ personId: "person-racing", ...other, date: dayAfter(app.clock, 5) }).then(
          (reply) => reply.outcome.case ?? "none",
          (error: unknown) => Code[ConnectError.from(error).code],
        ),
      ),
    );
    expect(answers.filter((answer) => answer === "reservation")).toHaveLength(1);
    expect(answers.filter((answer) => answer !== "reservation")).toEqual(
      Array.from({ length: 7 }, () => Code[Code.FailedPrecondition]),
    );
    const rows = await query<{ reservation_id: string }>(
      app.databaseUrl,
      "select reservation_id from vaccination_reservation.reservation where person_id = $1",
      ["person-racing"],
    );
    expect(rows).toHaveLength(1);
    const takenNow = [...inventory.booked].filter((reservationId) => !bookedBefore.has(reservationId));
    const abandoned = (await emitted(app.databaseUrl, takenNow))
      .filter((event) => event.type === "vaccination.reservation.v1.BookingAbandoned")
      .map((event) => event.aggregateId);
    expect(new Set([...abandoned, rows[0]?.reservation_id])).toEqual(new Set(takenNow));
  });
});

describe("the waitlist, the manager and the person", () => {
  it("joins the waitlist once per person, hospital and vaccine", async () => {
    const at = place();
    const first = await app.client.joinWaitlist({ personId: "person-10", ...at });
    const again = await app.client.joinWaitlist({ personId: "person-10", ...at });
    const concurrent = await Promise.all(
      Array.from({ length: 8 }, () => app.client.joinWaitlist({ personId: "person-10", ...at })),
    );
    expect(first.reservation).toMatchObject({ status: ReservationStatus.WAITLISTED, date: "", ...at });
    for (const answer of [again, ...concurrent]) expect(answer.reservation).toEqual(first.reservation);
    const events = await emitted(app.databaseUrl, [first.reservation?.reservationId ?? ""]);
    expect(events.map((event) => event.type)).toEqual(["vaccination.reservation.v1.WaitlistJoined"]);
  });

  it("accepts, rejects and cancels, each with its event; a refused change names its rule and writes nothing", async () => {
    inventory.behaviour = "book";
    const at = place();
    const accepted = await book("person-11", at);
    const rejected = await book("person-12", at);
    const cancelled = await book("person-13", at);
    const byManager = await book("person-14", at);
    app.clock.advance(60_000);
    const later = timestampFromDate(app.clock.now());

    expect(
      (await app.client.acceptReservation({ reservationId: accepted.reservationId })).reservation,
    ).toMatchObject({
      status: ReservationStatus.CONFIRMED,
      updatedAt: later,
    });
    expect(
      (await app.client.rejectReservation({ reservationId: rejected.reservationId, note: "Wrong vaccine" }))
        .reservation,
    ).toMatchObject({ status: ReservationStatus.REJECTED, note: "Wrong vaccine" });
    expect(
      (await app.client.cancelReservation({ reservationId: cancelled.reservationId })).reservation,
    ).toMatchObject({
      status: ReservationStatus.CANCELLED,
      cancellationReason: CancellationReason.PERSON,
    });
    expect(
      (
        await app.client.cancelReservationAsManager({
          reservationId: byManager.reservationId,
          note: "Closed",
        })
      ).reservation,
    ).toMatchObject({
      status: ReservationStatus.CANCELLED,
      cancellationReason: CancellationReason.MANAGER,
      note: "Closed",
    });

    const ids = [accepted, rejected, cancelled, byManager].map((r) => r.reservationId);
    const events = await emitted(app.databaseUrl, ids);
    expect(
      events
        .filter((e) => e.type !== "vaccination.reservation.v1.ReservationRegistered")
        .map((e) => [e.type, e.aggregateId]),
    ).toEqual([
      ["vaccination.reservation.v1.ReservationConfirmed", accepted.reservationId],
      ["vaccination.reservation.v1.ReservationRejected", rejected.reservationId],
      ["vaccination.reservation.v1.ReservationCancelled", cancelled.reservationId],
      ["vaccination.reservation.v1.ReservationCancelled", byManager.reservationId],
    ]);
    const last = events.at(-1)?.message as { reservation?: Reservation };
    expect(last.reservation).toEqual(await statusOf(byManager.reservationId));

    const before = await counts(app.databaseUrl);
    const refusals: Array<[() => Promise<unknown>, string]> = [
      [
        () => app.client.acceptReservation({ reservationId: accepted.reservationId }),
        "reservation-must-be-registered",
      ],
      [
        () => app.client.rejectReservation({ reservationId: cancelled.reservationId, note: "n" }),
        "reservation-must-be-registered",
      ],
      [
        () => app.client.cancelReservation({ reservationId: rejected.reservationId }),
        "reservation-must-be-open",
      ],
      [
        () => app.client.cancelReservationAsManager({ reservationId: cancelled.reservationId, note: "n" }),
        "reservation-must-be-booked",
      ],
    ];
    for (const [call, rule] of refusals) {
      const error = await call().then(
        () => undefined,
        (caught: unknown) => ConnectError.from(caught),
      );
      expect(error?.code, rule).toBe(Code.FailedPrecondition);
      expect(error?.findDetails(PreconditionFailureSchema), rule).toEqual([
        expect.objectContaining({ rule }),
      ]);
    }
    const missing = await app.client
      .acceptReservation({ reservationId: newId() })
      .catch((caught: unknown) => ConnectError.from(caught));
    expect(missing).toMatchObject({ code: Code.NotFound });
    expect(await counts(app.databaseUrl)).toEqual(before);
  });

  it("lists a person's reservations, waitlist entries first, then the latest appointment first, a page at a time", async () => {
    inventory.behaviour = "book";
    const personId = `person-${newId().slice(0, 8)}`;
    const at = place();
    // One outstanding reservation per vaccine: the same hospital, three vaccines.
    const d5 = await book(personId, at, 5);
    const d9 = await book(personId, { ...at, vaccineId: newId() }, 9);
    const d2 = await book(personId, { ...at, vaccineId: newId() }, 2);
    const sameDayFirst = await book(personId, place(), 9);
    app.clock.advance(1_000);
    const sameDayLater = await book(personId, place(), 9);
    const waiting = (await app.client.joinWaitlist({ personId, ...place() })).reservation;
    await book("someone-else", at, 30);

    const expected = [
      waiting?.reservationId,
      sameDayLater.reservationId,
      // Same date, same creation time: the greater id first.
      ...[d9.reservationId, sameDayFirst.reservationId].sort().reverse(),
      d5.reservationId,
      d2.reservationId,
    ];
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await app.client.listReservations({ personId, pageSize: 2, pageToken });
      expect(page.reservations.length).toBeLessThanOrEqual(2);
      seen.push(...page.reservations.map((r) => r.reservationId));
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== "" && pages < 10);
    expect(seen).toEqual(expected);
    const all = await app.client.listReservations({ personId });
    expect(all.reservations.map((r) => r.reservationId)).toEqual(expected);
    expect(all.nextPageToken).toBe("");
  });

  it("lists a hospital's reservations of a day, whatever their status, first booked first, a page at a time", async () => {
    inventory.behaviour = "book";
    const at = place();
    const person = () => `person-${newId().slice(0, 8)}`;
    const first = await book(person(), at, 6);
    app.clock.advance(1_000);
    const rejected = await book(person(), at, 6);
    await app.client.rejectReservation({ reservationId: rejected.reservationId, note: "no" });
    app.clock.advance(1_000);
    // Same creation time: the lesser id first.
    const sameTime = [await book(person(), at, 6), await book(person(), at, 6)];
    await book(person(), at, 7);
    await book(person(), { ...at, hospitalId: newId() }, 6);
    const date = dayAfter(app.clock, 6);

    const expected = [
      first.reservationId,
      rejected.reservationId,
      ...sameTime.map((r) => r.reservationId).sort(),
    ];
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await app.client.listReservations({
        hospitalId: at.hospitalId,
        date,
        pageSize: 3,
        pageToken,
      });
      seen.push(...page.reservations.map((r) => r.reservationId));
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== "" && pages < 10);
    expect(seen).toEqual(expected);
    expect(pages).toBe(2);
    const all = await app.client.listReservations({ hospitalId: at.hospitalId, date });
    expect(all.reservations.map((r) => [r.reservationId, r.status, r.date])).toEqual(
      expected.map((id) => [
        id,
        id === rejected.reservationId ? ReservationStatus.REJECTED : ReservationStatus.REGISTERED,
        date,
      ]),
    );
    expect(
      (await app.client.listReservations({ hospitalId: at.hospitalId, date: dayAfter(app.clock, 30) }))
        .reservations,
    ).toEqual([]);
  });
});

describe("GetOutstandingReservations, inventory's question before it releases lapsed holds", () => {
  it("answers, to a service, the REGISTERED and CONFIRMED ones among the ids asked, in the order asked", async () => {
    inventory.behaviour = "book";
    const at = place();
    const registered = await book("person-31", at);
    const confirmed = await book("person-32", at);
    const cancelled = await book("person-33", at);
    await app.client.acceptReservation({ reservationId: confirmed.reservationId });
    await app.client.cancelReservation({ reservationId: cancelled.reservationId });
    const neverBooked = newId();
    const asInventory = connectJsonClient(ReservationService, app.url, {
      token: await testToken({ roles: ["service"], subject: "service:inventory" }),
    });
    const asked = [neverBooked, confirmed.reservationId, cancelled.reservationId, registered.reservationId];
    expect((await asInventory.getOutstandingReservations({ reservationIds: asked })).reservationIds).toEqual([
      confirmed.reservationId,
      registered.reservationId,
    ]);

    const asPerson = connectJsonClient(ReservationService, app.url, {
      token: await testToken({ roles: ["person"], subject: "person-31" }),
    });
    const refused = await asPerson.getOutstandingReservations({ reservationIds: asked }).then(
      () => undefined,
      (caught: unknown) => ConnectError.from(caught),
    );
    expect(refused?.code).toBe(Code.PermissionDenied);
  });
});

describe("policies fed through the embedded bus", () => {
  it("marks a booking VACCINATED on VaccinationRecorded; ignores an unknown reservation and a repeat", async () => {
    inventory.behaviour = "book";
    const at = place();
    const booked = await book("person-20", at);
    const recorded = vaccinationRecorded({ personId: "person-20", ...at }, booked.reservationId);
    await publish(recorded, recorded, vaccinationRecorded({ personId: "walk-in", ...at }, newId()));
    await publish(vaccinationRecorded({ personId: "person-20", ...at }, booked.reservationId));
    expect((await statusOf(booked.reservationId))?.status).toBe(ReservationStatus.VACCINATED);
    const events = await emitted(app.databaseUrl, [booked.reservationId]);
    expect(events.map((event) => event.type)).toEqual([
      "vaccination.reservation.v1.ReservationRegistered",
      "vaccination.reservation.v1.ReservationVaccinated",
    ]);
    expect(await app.bus.deadLetters.list()).toEqual([]);
  });

  it("cancels the bookings inventory released for a discard, reason DISCARD, and alerts no waitlist", async () => {
    inventory.behaviour = "book";
    const at = place();
    const waiting = (await app.client.joinWaitlist({ personId: "waiting", ...at })).reservation;
    const kept = await book("p-kept", at, 3);
    const latest = await book("p-latest", at, 20);
    const confirmed = await book("p-confirmed", at, 5);
    await app.client.acceptReservation({ reservationId: confirmed.reservationId });
    const gone = [latest, confirmed];

    await publish(
      bookingsReleasedForDiscard(
        at.hospitalId,
        at.vaccineId,
        gone.map(({ reservationId, date }) => ({ reservationId, date })),
      ),
    );
    for (const { reservationId } of gone) {
      expect(await statusOf(reservationId), reservationId).toMatchObject({
        status: ReservationStatus.CANCELLED,
        cancellationReason: CancellationReason.DISCARD,
      });
    }
    expect((await statusOf(kept.reservationId))?.status).toBe(ReservationStatus.REGISTERED);
    expect((await statusOf(waiting?.reservationId ?? ""))?.status).toBe(ReservationStatus.WAITLISTED);
    const all = await emitted(app.databaseUrl);
    const cancellations = all.filter(
      (event) =>
        event.type === "vaccination.reservation.v1.ReservationCancelled" &&
        (event.message as { reservation?: Reservation }).reservation?.cancellationReason ===
          CancellationReason.DISCARD,
    );
    expect(cancellations.map((event) => event.aggregateId)).toEqual(gone.map((r) => r.reservationId));
    expect(all.filter((event) => event.type === "vaccination.reservation.v1.WaitlistAlerted")).toEqual([]);

    // A booking inventory released before its Reserve registered it is never registered.
    const racing = { reservationId: newId(), date: dayAfter(app.clock, 4) };
    await publish(bookingsReleasedForDiscard(at.hospitalId, at.vaccineId, [racing]));
    const tombstones = await query(
      app.databaseUrl,
      "select reservation_id from vaccination_reservation.abandoned_booking where reservation_id = $1",
      [racing.reservationId],
    );
    expect(tombstones).toHaveLength(1);
    expect(await app.bus.deadLetters.list()).toEqual([]);
  });

  it("alerts each waitlisted person once on BookableDosesAvailable; nobody is booked", async () => {
    inventory.behaviour = "book";
    const at = place();
    const first = (await app.client.joinWaitlist({ personId: "w-1", ...at })).reservation;
    app.clock.advance(10);
    const second = (await app.client.joinWaitlist({ personId: "w-2", ...at })).reservation;
    const booked = await book("b-1", at);
    const otherVaccine = (
      await app.client.joinWaitlist({ personId: "w-3", hospitalId: at.hospitalId, vaccineId: newId() })
    ).reservation;

    const event = bookableDosesAvailable(at.hospitalId, at.vaccineId, 4);
    await publish(event, event);

    const ids = [first, second, otherVaccine].map((r) => r?.reservationId ?? "");
    const alerts = (await emitted(app.databaseUrl, [...ids, booked.reservationId])).filter(
      (e) => e.type === "vaccination.reservation.v1.WaitlistAlerted",
    );
    expect(alerts.map((alert) => alert.aggregateId)).toEqual([first?.reservationId, second?.reservationId]);
    expect(alerts[0]?.message).toMatchObject({ reservation: first, bookable: 4 });
    expect((await statusOf(first?.reservationId ?? ""))?.status).toBe(ReservationStatus.WAITLISTED);
    expect((await statusOf(second?.reservationId ?? ""))?.status).toBe(ReservationStatus.WAITLISTED);
  });

  it("publishes its events on the bus through the outbox", async () => {
    inventory.behaviour = "book";
    const seen: EventEnvelope[] = [];
    const subscription = await app.bus.subscribe({
      name: "test-reservation-registered",
      eventType: "vaccination.reservation.v1.ReservationRegistered",
      handle: async (event) => {
        seen.push(event);
      },
    });
    try {
      const booked = await book("person-30", place());
      await eventually(async () => {
        expect(seen.filter((event) => event.aggregateId === booked.reservationId)).toHaveLength(1);
      });
      const published = seen.find((event) => event.aggregateId === booked.reservationId);
      expect(JSON.parse(published?.payload ?? "{}")).toMatchObject({
        reservation: { reservationId: booked.reservationId, status: "RESERVATION_STATUS_REGISTERED" },
      });
    } finally {
      await subscription.stop();
    }
  });
});

describe("bad input", () => {
  it("names the field of every missing or malformed value on every RPC, and writes nothing", async () => {
    inventory.behaviour = "book";
    const callsBefore = inventory.calls.length;
    const before = await counts(app.databaseUrl);
    const client = app.client;
    const ok = { personId: "p", ...place(), date: dayAfter(app.clock, 1) };
    const yesterday = dayAfter(app.clock, -1);
    const id = newId();
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => client.reserve({ ...ok, personId: "" }), "personId"],
      [() => client.reserve({ ...ok, personId: "p".repeat(65) }), "personId"],
      [() => client.reserve({ ...ok, hospitalId: "" }), "hospitalId"],
      [() => client.reserve({ ...ok, hospitalId: "general-hospital" }), "hospitalId"],
      [() => client.reserve({ ...ok, vaccineId: "x" }), "vaccineId"],
      [() => client.reserve({ ...ok, date: "" }), "date"],
      [() => client.reserve({ ...ok, date: "2030-02-30" }), "date"],
      [() => client.reserve({ ...ok, date: yesterday }), "date"],
      [() => client.reserve({ ...ok, idempotencyKey: "k".repeat(101) }), "idempotencyKey"],
      [() => client.joinWaitlist({ ...ok, personId: " " }), "personId"],
      [() => client.joinWaitlist({ ...ok, hospitalId: "h" }), "hospitalId"],
      [() => client.joinWaitlist({ ...ok, vaccineId: "" }), "vaccineId"],
      [() => client.acceptReservation({}), "reservationId"],
      [() => client.acceptReservation({ reservationId: "r-1" }), "reservationId"],
      [() => client.rejectReservation({ reservationId: "r-1", note: "n" }), "reservationId"],
      [() => client.rejectReservation({ reservationId: id }), "note"],
      [() => client.rejectReservation({ reservationId: id, note: "n".repeat(501) }), "note"],
      [() => client.cancelReservation({ reservationId: "" }), "reservationId"],
      [() => client.cancelReservationAsManager({ reservationId: "x", note: "n" }), "reservationId"],
      [() => client.cancelReservationAsManager({ reservationId: id, note: "  " }), "note"],
      [() => client.getReservation({ reservationId: "nope" }), "reservationId"],
      [() => client.listReservations({}), "personId"],
      [() => client.listReservations({ hospitalId: "h-1", date: "2030-01-02" }), "hospitalId"],
      [() => client.listReservations({ personId: "p", hospitalId: id, date: "2030-01-02" }), "hospitalId"],
      [() => client.listReservations({ hospitalId: id }), "date"],
      [() => client.listReservations({ hospitalId: id, date: "02/01/2030" }), "date"],
      [() => client.listReservations({ personId: "p", pageSize: 101 }), "pageSize"],
      [() => client.listReservations({ personId: "p", pageSize: -1 }), "pageSize"],
      [() => client.listReservations({ personId: "p", pageToken: "not-a-token" }), "pageToken"],
      [() => client.getOutstandingReservations({}), "reservationIds"],
      [() => client.getOutstandingReservations({ reservationIds: [id, "r-1"] }), "reservationIds"],
      [
        () => client.getOutstandingReservations({ reservationIds: Array.from({ length: 201 }, newId) }),
        "reservationIds",
      ],
      [
        () =>
          client.listReservations({
            personId: "p",
            pageToken: Buffer.from(JSON.stringify(["2026-13", "x", "y"])).toString("base64url"),
          }),
        "pageToken",
      ],
    ];
    for (const [call, field] of cases) {
      const error = await call().then(
        () => undefined,
        (caught: unknown) => ConnectError.from(caught),
      );
      expect(error?.code, field).toBe(Code.InvalidArgument);
      expect(error?.rawMessage, field).toContain(field);
      expect(error?.findDetails(FieldViolationSchema), field).toEqual([expect.objectContaining({ field })]);
    }
    expect(await counts(app.databaseUrl)).toEqual(before);
    expect(inventory.calls.length).toBe(callsBefore);
  });

  it("dead-letters a malformed BookingsReleasedForDiscard, changing nothing", async () => {
    const bad = bookingsReleasedForDiscard("not-a-hospital", newId(), []);
    const before = await counts(app.databaseUrl);
    await publish(bad);
    const letters = await app.bus.deadLetters.list();
    expect(letters.filter((letter) => letter.event.id === bad.id)).toEqual([
      expect.objectContaining({
        consumer: "reservation-bookings-released-for-discard",
        error: expect.stringContaining("hospitalId"),
      }),
    ]);
    expect(await counts(app.databaseUrl)).toEqual(before);
  });
});
