import { ConnectError } from "@connectrpc/connect";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  ReservationService,
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { connectJsonClient, testToken } from "@hexa/testing";
import { expect } from "vitest";

/** The limits a user gets: the test harness lifts the rate limit for its shared callers, launch day must not. */
export const SHIPPED_LIMITS = { MAX_IN_FLIGHT: "256", RATE_LIMIT_PER_SECOND: "50", RATE_LIMIT_BURST: "100" };

export interface BurstDeployment {
  readonly inventoryUrl: string;
  readonly reservationUrl: string;
}

const PEOPLE = 1_000;
const DOSES = 100;

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

  const people = await Promise.all(
    Array.from({ length: PEOPLE }, async (_, i) => {
      const personId = `launch-${i}`;
      const token = await testToken({ subject: personId, roles: ["person"] });
      return {
        personId,
        client: connectJsonClient(ReservationService, deployment.reservationUrl, { token }),
      };
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
            : (WaitlistOffer_Reason[reply.outcome.value?.reason ?? 0] ?? "?"),
        )
        .catch((error: unknown) => `error ${ConnectError.from(error).code}`);
      return { outcome, ms: performance.now() - started };
    }),
  );
  const counts: Record<string, number> = {};
  for (const { outcome } of answers) counts[outcome] = (counts[outcome] ?? 0) + 1;
  const times = answers.map(({ ms }) => ms).sort((a, b) => a - b);
  console.log(counts, "p50", times[500], "max", times.at(-1));
  expect(counts).toEqual({ BOOKED: DOSES, NO_DOSES: PEOPLE - DOSES });

  const token = await testToken({ subject: "late-comer", roles: ["person"] });
  const late = await connectJsonClient(ReservationService, deployment.reservationUrl, { token }).reserve({
    personId: "late-comer",
    hospitalId: quiet,
    vaccineId,
    date,
  });
  expect(late.outcome.case).toBe("reservation");
}
