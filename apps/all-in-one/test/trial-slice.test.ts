import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, query, type RunningApp, startApp } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SliceDeployment, trialSliceScenario } from "./trial-slice.scenario.ts";

describe("the all-in-one with its embedded PostgreSQL and embedded bus", () => {
  let app: RunningApp;
  let dataDir: string;
  let deployment: SliceDeployment;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "hexa-all-in-one-"));
    chmodSync(dataDir, 0o755);
    const postgresPort = await freePort();
    app = await startApp("all-in-one", {
      PORT: String(await freePort()),
      DATA_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(postgresPort),
    });
    deployment = {
      marketingUrl: app.url,
      orderUrl: app.url,
      databaseUrl: `postgres://postgres:postgres@127.0.0.1:${postgresPort}/postgres`,
    };
  });

  afterAll(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  trialSliceScenario(() => deployment);

  it("stops on SIGTERM with exit code 0, and keeps its data for the next start", async () => {
    expect(await app.stop()).toBe(0);
    const again = await startApp("all-in-one", {
      PORT: String(await freePort()),
      DATA_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: new URL(deployment.databaseUrl).port,
    });
    try {
      const [row] = await query<{ plans: number }>(
        deployment.databaseUrl,
        "select count(*)::int as plans from trial_marketing.trial_plan",
      );
      expect(row?.plans).toBeGreaterThan(0);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });
});
