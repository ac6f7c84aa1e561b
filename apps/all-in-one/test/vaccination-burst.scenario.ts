import { ConnectError } from "@connectrpc/connect";
import { readEnvironment } from "@hexa/adapters/runtime/config";
import { INVENTORY_CALL } from "@hexa/adapters/vaccination/reservation/module";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  ReservationService,
  ReservationStatus,
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { connectJsonClient, testToken } from "@hexa/testing";
import { expect } from "vitest";

/**
 * The limits a user gets. The test harness lifts the rate limit for its shared callers; launch day
 * must pass without that, so these are the defaults the configuration ships.
 */
const shipped = readEnvironment({});
export const SHIPPED_LIMITS = {
  MAX_IN_FLIGHT: String(shipped.MAX_IN_FLIGHT),
  RATE_LIMIT_PER_SECOND: String(shipped.RATE_LIMIT_PER_SECOND),
  RATE_LIMIT_BURST: String(shipped.RATE_LIMIT_BURST),
};

/**
 * The documented bound of a Reserve's answer: waiting for admission (MAX_QUEUE_WAIT_MS), then for a
 * booking call's turn, then the booking call's budget; one second more for the caller's own side.
 */
const ANSWER_BOUND_MS =
  shipped.MAX_QUEUE_WAIT_MS + INVENTORY_CALL.concurrency.maxWaitMs + INVENTORY_CALL.budgetMs + 1_000;

export interface BurstDeployment {
  readonly inventoryUrl: string;
  readonly reservationUrl: string;
  /** What the process running reservation logged so far. */
  readonly reservationOutput: () => string;
}

const PEOPLE = 1_000;
const DOSES = 100;

/**
 * 1,000 people, each with a token of their own, book one hospital's 100 doses at once: exactly 100
 * are booked and 900 offered the waitlist for lack of doses, none is told to try later, every answer
 * comes within the documented bound, the breaker never changes state, and a booking at another
 * hospital right after succeeds. Inventory's counts and reservation's reservations then agree.
 */
export async function launchDayBurst(deployment: BurstDeployment): Promise<void> {
  const inventory = connectJsonClient(InventoryService, deployment.inventoryUrl);
  const date = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
  const { vaccine } = await inventory.registerVaccine({ name: "Launchvax", vials: 1_000, dosesRequired: 1 });
  const vaccineId = vaccine?.vaccineId ?? "";
  const hospitalWith = async (name: string, doses: number) => {
    const { hospital } = await inventory.registerHospital({ name, dailyCapacity: 1_000 });
    const hospitalId = hospital?.hospitalId ?? "";
    const { supply } = await inventory.supplyVaccine({ hospitalId, vaccineId, vials: doses });
    await inventory.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses });
    return hospitalId;
  };
  const busy = await hospitalWith("Launch Hospital", DOSES);
  const quiet = await hospitalWith("Quiet Hospital", 50);
  const person = async (personId: string) =>
    connectJsonClient(ReservationService, deployment.reservationUrl, {
      token: await testToken({ subject: personId, roles: ["person"] }),
    });
  const people = await Promise.all(
    Array.from({ length: PEOPLE }, async (_, i) => {
      const personId = `launch-${i}`;
      return { personId, client: await person(personId) };
    }),
  );

  const answers = await Promise.all(
    people.map(async ({ personId, client }) => {
      const started = performance.now();
      const outcome = await client
        .reserve({ personId, hospitalId: busy, vaccineId, date })
        .then((reply) =>
          reply.outcome.case === "reservation"
            ? "BOOKED"
            : (WaitlistOffer_Reason[reply.outcome.value?.reason ?? 0] ?? "UNKNOWN"),
        )
        .catch((error: unknown) => `error ${ConnectError.from(error).code}`);
      return { personId, outcome, ms: performance.now() - started };
    }),
  );

  const counts: Record<string, number> = {};
  for (const { outcome } of answers) counts[outcome] = (counts[outcome] ?? 0) + 1;
  expect(counts).toEqual({ BOOKED: DOSES, NO_DOSES: PEOPLE - DOSES });
  expect(Math.max(...answers.map(({ ms }) => ms))).toBeLessThan(ANSWER_BOUND_MS);
  expect(deployment.reservationOutput()).not.toContain("circuit breaker state changed");

  const late = await (await person("late-comer")).reserve({
    personId: "late-comer",
    hospitalId: quiet,
    vaccineId,
    date,
  });
  expect(late.outcome.case).toBe("reservation");

  // The books balance: inventory holds exactly the reservations reservation registered.
  const { stocks } = await inventory.getHospitalStock({ hospitalId: busy });
  expect(stocks[0]).toMatchObject({ remaining: DOSES, booked: DOSES, bookable: 0 });
  const booked = answers.filter(({ outcome }) => outcome === "BOOKED");
  const manager = connectJsonClient(ReservationService, deployment.reservationUrl);
  for (const { personId } of booked) {
    const { reservations } = await manager.listReservations({ personId, pageSize: 10 });
    expect(reservations.map(({ status, hospitalId }) => ({ status, hospitalId }))).toEqual([
      { status: ReservationStatus.REGISTERED, hospitalId: busy },
    ]);
  }
}
