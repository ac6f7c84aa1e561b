import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { freePort } from "@hexa/testing/global-setup";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { startTemporaryPostgres } from "../../src/postgres/embedded.ts";

describe("a temporary embedded PostgreSQL", () => {
  it("keeps its data in the system's temporary folder and leaves nothing behind once stopped", async () => {
    const postgres = await startTemporaryPostgres({ port: await freePort() });
    let stopped = false;
    try {
      expect(postgres.dataDir.startsWith(tmpdir())).toBe(true);
      const client = new pg.Client({ connectionString: postgres.socketUrl });
      await client.connect();
      expect((await client.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
      await client.end();
      await postgres.stop();
      stopped = true;
      expect(existsSync(postgres.dataDir)).toBe(false);
    } finally {
      if (!stopped) await postgres.stop();
    }
  });
});
