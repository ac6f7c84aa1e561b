import { openServiceDatabase } from "@hexa/adapters/postgres/database";
import { platformMigrations } from "@hexa/adapters/postgres/platform-tables";
import { OfferedPlanRecord, OrderRecord, orderMigrations } from "@hexa/adapters/trial/order/store";
import { createTestDatabase, query } from "@hexa/testing";
import { pino } from "pino";
import { describe, expect, it } from "vitest";

describe("migrations at start", () => {
  it("are applied once when several replicas start together on a new database", async () => {
    const database = await createTestDatabase();
    try {
      const open = () =>
        openServiceDatabase({
          url: database.url,
          schema: "trial_order",
          entities: [OrderRecord, OfferedPlanRecord],
          migrations: [...platformMigrations, ...orderMigrations],
          logger: pino({ level: "silent" }),
        });
      const replicas = await Promise.all([open(), open(), open(), open()]);
      await Promise.all(replicas.map((replica) => replica.close()));
      const applied = await query<{ name: string }>(
        database.url,
        "select name from trial_order.schema_migrations order by name",
      );
      expect(applied.map((row) => row.name)).toEqual([
        ...platformMigrations.map((migration) => migration.name),
        ...orderMigrations.map((migration) => migration.name),
      ]);
    } finally {
      await database.drop();
    }
  });
});
