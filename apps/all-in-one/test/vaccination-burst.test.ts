import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type RunningApp, startApp } from "@hexa/testing";
import { afterAll, beforeAll, describe, it } from "vitest";
import { launchDayBurst, SHIPPED_LIMITS } from "./vaccination-burst.scenario.ts";

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

  it("answers 1,000 people booking 100 doses at once truly: 100 booked, 900 offered the waitlist for no dose", async () => {
    await launchDayBurst({ inventoryUrl: app.url, reservationUrl: app.url });
  }, 120_000);
});
