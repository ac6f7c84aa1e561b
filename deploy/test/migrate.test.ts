// The chart's migrations hook Job runs `migrate <enabled services>` in the image. Here the same
// command, with the arguments the chart renders, runs against a real PostgreSQL: every service's
// schema is created and migrated, a second run (the next `helm upgrade`) changes nothing, and a
// wrong argument or a missing DATABASE_URL stops it with exit code 2.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { services as registry } from "@hexa/adapters/services";
import { createTestDatabase, query, type TestDatabase } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byKind, render } from "../src/manifests.ts";

const root = resolve(import.meta.dirname, "../..");

interface Run {
  readonly code: number;
  readonly output: string;
}

/** `node apps/ops/src/migrate.ts ...args`, as the image's `migrate` command runs it. */
function migrate(args: readonly string[], env: Record<string, string>): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [resolve(root, "apps/ops/src/migrate.ts"), ...args],
      { cwd: root, env: { PATH: process.env.PATH ?? "", ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        done({ code, output: stdout + stderr });
      },
    );
  });
}

describe("the migrations Job's command", () => {
  let database: TestDatabase;
  let services: string[];

  beforeAll(async () => {
    database = await createTestDatabase();
    const job = byKind(await render(), "Job").get("hexa-migrations");
    const [command, ...args]: string[] = job?.spec.template.spec.containers[0].args ?? [];
    expect(command).toBe("migrate");
    services = args;
  });

  afterAll(async () => {
    await database?.drop();
  });

  it("migrates every enabled service's schema, and a second run changes nothing", async () => {
    const first = await migrate(services, { DATABASE_URL: database.url });
    expect(first.output).toContain("migration applied");
    expect(first.code).toBe(0);

    const schemas = await query<{ schema: string }>(
      database.url,
      "select table_schema as schema from information_schema.tables where table_name = 'schema_migrations' order by 1",
    );
    const expected = services.map(
      (service) => registry.get(service)?.schema ?? `(unknown service ${service})`,
    );
    expect(schemas.map((row) => row.schema)).toEqual(expected.sort());
    for (const { schema } of schemas) {
      const [applied] = await query<{ count: string }>(
        database.url,
        `select count(*) as count from "${schema}".schema_migrations`,
      );
      // The platform's outbox and inbox, then at least one of the service's own.
      expect(Number(applied?.count), schema).toBeGreaterThanOrEqual(2);
    }

    const second = await migrate(services, { DATABASE_URL: database.url });
    expect(second.code).toBe(0);
    expect(second.output).not.toContain("migration applied");
    expect(second.output.match(/schema up to date/g)).toHaveLength(services.length);
  });

  it("stops with exit code 2 on an unknown service or without DATABASE_URL", async () => {
    const unknown = await migrate(["order", "nonexistent"], { DATABASE_URL: database.url });
    expect(unknown.code).toBe(2);
    expect(unknown.output).toContain("unknown service: nonexistent");
    const none = await migrate([], { DATABASE_URL: database.url });
    expect(none.code).toBe(2);
    const noDatabase = await migrate(["order"], {});
    expect(noDatabase.code).toBe(2);
    expect(noDatabase.output).toContain("DATABASE_URL: required");
  });
});
