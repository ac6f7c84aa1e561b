import { openServiceDatabase } from "@hexa/adapters/postgres/database";
import { createTestDatabase, type TestDatabase } from "@hexa/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

describe("a service's connection pool", () => {
  it("keeps a connection idle for longer than pg-pool's default of 10 s", async () => {
    const db = await openServiceDatabase({
      url: database.url,
      schema: "pool_test",
      entities: [],
      migrations: [],
      logger: pino({ level: "silent" }),
      poolSize: 1,
    });
    try {
      const session = async () =>
        (await db.execute<{ pid: number }>("select pg_backend_pid() as pid"))[0]?.pid;
      const before = await session();
      await new Promise((resolve) => setTimeout(resolve, 11_000));
      expect(await session()).toBe(before);
    } finally {
      await db.close();
    }
  }, 20_000);
});
