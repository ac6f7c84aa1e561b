import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTestDatabase,
  describeWithNats,
  freePort,
  natsUrl,
  type RunningApp,
  startApp,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { afterAll, beforeAll, describe, it } from "vitest";
import { launchDayBurst, SHIPPED_LIMITS } from "./vaccination-burst.scenario.ts";

/** 1,000 Reserves through processes sharing two CPUs take seconds, more on a busy machine. */
const BURST_TIMEOUT_MS = 180_000;

describe("launch day on the all-in-one, with the shipped limits", () => {
  let app: RunningApp;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "hexa-burst-"));
    chmodSync(dataDir, 0o755);
    app = await startApp("all-in-one", {
      ...SHIPPED_LIMITS,
      PORT: String(await freePort()),
      DATA_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(await freePort()),
    });
  });

  afterAll(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    "answers 1,000 people booking 100 doses at once truly: 100 booked, 900 offered the waitlist for no dose",
    () => launchDayBurst({ inventoryUrl: app.url, reservationUrl: app.url, reservationOutput: app.output }),
    BURST_TIMEOUT_MS,
  );
});

describeWithNats("launch day with inventory and reservation as processes of their own over NATS", () => {
  let database: TestDatabase;
  let inventory: RunningApp;
  let reservation: RunningApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    const shared = {
      ...SHIPPED_LIMITS,
      DATABASE_URL: database.url,
      NATS_URL: natsUrl(),
      BUS_NAMESPACE: uniqueNamespace(),
    };
    const reservationPort = String(await freePort());
    inventory = await startApp("inventory", {
      ...shared,
      PORT: String(await freePort()),
      RESERVATION_URL: `http://127.0.0.1:${reservationPort}`,
    });
    reservation = await startApp("reservation", {
      ...shared,
      PORT: reservationPort,
      INVENTORY_URL: inventory.url,
    });
  });

  afterAll(async () => {
    await Promise.all([inventory?.stop(), reservation?.stop()]);
    await database?.drop();
  });

  it(
    "answers the same burst truly, with reservation calling inventory over the network",
    () =>
      launchDayBurst({
        inventoryUrl: inventory.url,
        reservationUrl: reservation.url,
        reservationOutput: reservation.output,
      }),
    BURST_TIMEOUT_MS,
  );
});
