/**
 * Reserve when inventory misbehaves: it hangs, fails, or comes back. Inventory here is a small
 * InventoryService the test controls (fault injection on the far side of the call); reservation is
 * the real module on the real PostgreSQL.
 */

import { reservationIdForKey } from "@hexa/core/vaccination/reservation";
import {
  ReservationStatus,
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { eventually, query } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INVENTORY_CALL } from "../../../src/vaccination/reservation/module.ts";
import {
  counts,
  dayAfter,
  emitted,
  FAST_CALL,
  newId,
  type ReservationApp,
  ScriptedInventory,
  startReservation,
} from "./support.ts";

/** Time the machine may add to a deadline (scheduling, the database write of the abandonment). */
const SLACK_MS = 700;

function request(app: ReservationApp, personId: string, extra: { idempotencyKey?: string } = {}) {
  return { personId, hospitalId: HOSPITAL, vaccineId: VACCINE, date: dayAfter(app.clock, 1), ...extra };
}
const HOSPITAL = newId();
const VACCINE = newId();

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

async function abandonedIds(app: ReservationApp): Promise<string[]> {
  const rows = await query<{ reservation_id: string }>(
    app.databaseUrl,
    "select reservation_id from vaccination_reservation.abandoned_booking order by abandoned_at, reservation_id",
  );
  return rows.map((row) => row.reservation_id);
}

describe("with the production deadlines, a hanging inventory", () => {
  let inventory: ScriptedInventory;
  let app: ReservationApp;
  beforeAll(async () => {
    inventory = await ScriptedInventory.start();
    app = await startReservation({ inventoryUrl: inventory.url, inventoryCall: INVENTORY_CALL });
  });
  afterAll(async () => {
    await app?.stop();
    await inventory?.stop();
  });

  it("gets a waitlist offer (INVENTORY_UNAVAILABLE) within the 2.5 s budget, and BookingAbandoned is recorded", async () => {
    inventory.behaviour = "hang";
    const { value, ms } = await timed(() => app.client.reserve(request(app, "person-1")));
    expect(value.outcome).toEqual({
      case: "waitlistOffer",
      value: expect.objectContaining({ reason: WaitlistOffer_Reason.INVENTORY_UNAVAILABLE }),
    });
    // One full attempt (2 s), then a retry cut short by the budget.
    expect(ms).toBeGreaterThanOrEqual(INVENTORY_CALL.timeoutMs);
    expect(ms).toBeLessThan(INVENTORY_CALL.budgetMs + SLACK_MS);

    const reservationId = inventory.calls[0]?.reservationId ?? "";
    expect(inventory.calls.map((call) => call.reservationId)).toEqual(
      inventory.calls.map(() => reservationId),
    );
    expect(await abandonedIds(app)).toEqual([reservationId]);
    const events = await emitted(app.databaseUrl);
    expect(events).toEqual([
      {
        type: "vaccination.reservation.v1.BookingAbandoned",
        aggregateId: reservationId,
        message: expect.objectContaining({
          reservationId,
          hospitalId: HOSPITAL,
          vaccineId: VACCINE,
          date: dayAfter(app.clock, 1),
          abandonedAt: expect.anything(),
        }),
      },
    ]);
    expect((await counts(app.databaseUrl)).reservations).toBe(0);
    // Reservation hung up: inventory holds no call open.
    await eventually(async () => expect(inventory.hanging).toBe(0));
  });
});

describe("the circuit breaker around inventory", () => {
  let inventory: ScriptedInventory;
  let app: ReservationApp;
  beforeAll(async () => {
    inventory = await ScriptedInventory.start();
    app = await startReservation({ inventoryUrl: inventory.url, inventoryCall: FAST_CALL });
  });
  afterAll(async () => {
    await app?.stop();
    await inventory?.stop();
  });

  it("opens after 5 failures in a row, then answers at once without calling; after the half-open delay, Reserve books again", async () => {
    inventory.behaviour = "fail";
    // Three attempts (the call is idempotent, so it is retried), all failing.
    const first = await app.client.reserve(request(app, "p-1"));
    expect(first.outcome.value).toMatchObject({ reason: WaitlistOffer_Reason.INVENTORY_UNAVAILABLE });
    expect(inventory.calls).toHaveLength(3);
    // Two more failures open the breaker; the third attempt is refused by it.
    const second = await app.client.reserve(request(app, "p-2"));
    expect(second.outcome.value).toMatchObject({ reason: WaitlistOffer_Reason.INVENTORY_UNAVAILABLE });
    expect(inventory.calls).toHaveLength(5);
    // Both requests left for inventory, so both attempts are abandoned.
    expect(await abandonedIds(app)).toHaveLength(2);

    // Open: answered at once, inventory is not called, and nothing is recorded (nothing could be taken).
    inventory.behaviour = "book";
    const before = await counts(app.databaseUrl);
    for (let n = 0; n < 5; n++) {
      const { value, ms } = await timed(() => app.client.reserve(request(app, `p-open-${n}`)));
      expect(value.outcome.value).toMatchObject({ reason: WaitlistOffer_Reason.INVENTORY_UNAVAILABLE });
      expect(ms).toBeLessThan(200);
    }
    expect(inventory.calls).toHaveLength(5);
    expect(await counts(app.databaseUrl)).toEqual(before);

    // Inventory is back; after the half-open delay one trial call goes through and closes the breaker.
    await new Promise((done) => setTimeout(done, FAST_CALL.breaker.halfOpenAfterMs + 50));
    const booked = await app.client.reserve(request(app, "p-back"));
    expect(booked.outcome).toMatchObject({
      case: "reservation",
      value: { personId: "p-back", status: ReservationStatus.REGISTERED },
    });
    const again = await app.client.reserve(request(app, "p-back-2"));
    expect(again.outcome.case).toBe("reservation");
    expect(inventory.calls).toHaveLength(7);
  });
});

describe("many callers against a hanging inventory", () => {
  let inventory: ScriptedInventory;
  let app: ReservationApp;
  beforeAll(async () => {
    inventory = await ScriptedInventory.start();
    app = await startReservation({ inventoryUrl: inventory.url, inventoryCall: FAST_CALL });
  });
  afterAll(async () => {
    await app?.stop();
    await inventory?.stop();
  });

  it("answers every one of 20 concurrent Reserves within the budget, abandoning each attempt that went out", async () => {
    inventory.behaviour = "hang";
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) => timed(() => app.client.reserve(request(app, `crowd-${n}`)))),
    );
    for (const { value, ms } of answers) {
      expect(value.outcome.value).toMatchObject({ reason: WaitlistOffer_Reason.INVENTORY_UNAVAILABLE });
      expect(ms).toBeLessThan(FAST_CALL.budgetMs + SLACK_MS);
    }
    const asked = new Set(inventory.calls.map((call) => call.reservationId));
    expect(asked.size).toBe(20);
    expect(new Set(await abandonedIds(app))).toEqual(asked);
    const events = await emitted(app.databaseUrl);
    expect(events.every((event) => event.type === "vaccination.reservation.v1.BookingAbandoned")).toBe(true);
    expect(new Set(events.map((event) => event.aggregateId))).toEqual(asked);
    await eventually(async () => expect(inventory.hanging).toBe(0));
  });

  it("abandons a keyed attempt once for concurrent repeats, and answers later repeats without calling inventory", async () => {
    // The breaker may be open after the crowd above; wait for its trial window.
    await new Promise((done) => setTimeout(done, FAST_CALL.breaker.halfOpenAfterMs + 50));
    inventory.behaviour = "hang";
    const keyed = request(app, "keyed", { idempotencyKey: "k-1" });
    const id = reservationIdForKey("keyed", "k-1");
    const answers = await Promise.all(Array.from({ length: 6 }, () => app.client.reserve(keyed)));
    for (const { outcome } of answers) {
      expect(outcome.value).toMatchObject({ reason: WaitlistOffer_Reason.INVENTORY_UNAVAILABLE });
    }
    expect((await abandonedIds(app)).filter((abandoned) => abandoned === id)).toEqual([id]);
    expect((await emitted(app.databaseUrl, [id])).map((event) => event.type)).toEqual([
      "vaccination.reservation.v1.BookingAbandoned",
    ]);

    inventory.behaviour = "book";
    const callsBefore = inventory.callsFor(id);
    const repeat = await app.client.reserve(keyed);
    expect(repeat.outcome.value).toMatchObject({
      reason: WaitlistOffer_Reason.INVENTORY_UNAVAILABLE,
      message: expect.stringContaining("new idempotency key"),
    });
    expect(inventory.callsFor(id)).toBe(callsBefore);
    expect(inventory.booked.has(id)).toBe(false);
  });
});
