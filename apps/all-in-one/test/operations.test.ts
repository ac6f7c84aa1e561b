// What an operator meets first: the all-in-one's stdout holds only JSON lines, the ops commands
// follow the server's own configuration (a non-default PORT and EMBEDDED_POSTGRES_PORT), and a busy
// port is refused at once, before the database starts.
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TokenClaims } from "@hexa/adapters/auth/tokens";
import { embeddedPostgresUrl } from "@hexa/adapters/postgres/embedded";
import { createTestDatabase, freePort, type RunningApp, startApp, testToken } from "@hexa/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");

/** Runs a node script of the repository with exactly `env` (and PATH, HOME); resolves with its exit and output. */
function run(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [resolve(root, script), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((done) => child.once("close", (code) => done({ code, stdout, stderr })));
}

describe("the all-in-one on a non-default PORT and EMBEDDED_POSTGRES_PORT", () => {
  let app: RunningApp;
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "hexa-operations-"));
    chmodSync(dataDir, 0o755);
    // The configuration the operator started the server with, and hands every command the same way.
    env = {
      PORT: String(await freePort()),
      EMBEDDED_POSTGRES_PORT: String(await freePort()),
      DATA_DIR: dataDir,
      ...(process.env.AUTH_DEV_KEY_DIR ? { AUTH_DEV_KEY_DIR: process.env.AUTH_DEV_KEY_DIR } : {}),
    };
    app = await startApp("all-in-one", { ...env, LOG_LEVEL: "info" }, 60_000);
  }, 90_000);

  afterAll(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A Connect JSON call with a development token, as curl makes it. */
  const call = async (path: string, claims: Partial<TokenClaims>, body: unknown) =>
    fetch(`${app.url}/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await testToken(claims)}` },
      body: JSON.stringify(body),
    });

  it("runs the product-trial demo against it from PORT alone", async () => {
    const demo = await run("apps/ops/src/demo-trial.ts", [], env);
    expect(demo.stderr).toBe("");
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain("RETURNED");
    expect(demo.stdout).toContain("done");
  }, 60_000);

  it("lists a customer's own orders when ListOrders names no customer", async () => {
    const listed = await call(
      "trial.order.v1.OrderService/ListOrders",
      { roles: ["customer"], subject: "alice" },
      {},
    );
    expect(listed.status).toBe(200);
    const { orders } = (await listed.json()) as { orders: Array<{ customerId: string }> };
    expect(orders.length).toBeGreaterThan(0);
    expect(new Set(orders.map((order) => order.customerId))).toEqual(new Set(["alice"]));
  });

  it("answers a plan order has not heard of with a retryable unavailable, naming the rule and the wait", async () => {
    const planId = randomUUID();
    const refused = await call(
      "trial.order.v1.OrderService/PlaceOrder",
      { roles: ["customer"], subject: "carol" },
      { planId, quantity: 1, address: "1 First Street" },
    );
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    const body = (await refused.json()) as {
      code: string;
      message: string;
      details: Array<{ type: string; debug?: unknown }>;
    };
    expect(body.code).toBe("unavailable");
    expect(body.message).toBe(
      `plan-must-be-known: order has not heard of plan ${planId} yet; a plan just started reaches it within moments, so retry (a plan never started stays unknown)`,
    );
    expect(body.details.map((detail) => detail.type)).toEqual(["hexa.common.v1.RetryInfo"]);
  });

  it("lists the embedded bus's dead letters from EMBEDDED_POSTGRES_PORT alone", async () => {
    const listed = await run("apps/ops/src/dead-letters.ts", ["list"], env);
    expect(listed).toEqual({ code: 0, stdout: "no dead letters\n", stderr: "" });
  });

  it("reaches its embedded PostgreSQL through the Unix socket, not the TCP loopback", async () => {
    const client = new pg.Client({
      connectionString: embeddedPostgresUrl(Number(env.EMBEDDED_POSTGRES_PORT)),
    });
    await client.connect();
    try {
      // client_addr is null for a session over a Unix socket; this one's own is over TCP.
      const { rows } = await client.query<{ socket: number; tcp: number }>(
        `select count(*) filter (where client_addr is null)::int as socket,
                count(*) filter (where client_addr is not null)::int as tcp
           from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()`,
      );
      expect(rows[0]?.socket).toBeGreaterThan(0);
      expect(rows[0]?.tcp).toBe(0);
    } finally {
      await client.end();
    }
  });

  it("writes only JSON objects, one per line, to a stdout that is not a terminal", async () => {
    expect(await app.stop()).toBe(0);
    const lines = app.stdout().trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(3);
    const records = lines.map((line) => {
      const record: unknown = JSON.parse(line);
      expect(typeof record, line).toBe("object");
      return record as { msg?: string; url?: string; services?: string[] };
    });
    const serving = records.find((record) => record.msg === "serving");
    expect(serving?.url).toBe(`http://127.0.0.1:${env.PORT}`);
    expect(serving?.services).toContain("marketing");
    expect(records.at(-1)?.msg).toBe("stopped");
    // No banner on stderr either: it is for a terminal only.
    expect(app.output()).not.toContain("is serving");
  });
});

describe("the ops commands' command lines", () => {
  const commands = [
    "apps/ops/src/demo-trial.ts",
    "apps/ops/src/demo-vaccination.ts",
    "apps/ops/src/token.ts",
    "apps/ops/src/migrate.ts",
    "apps/ops/src/dead-letters.ts",
    "apps/ops/src/benchmark-trial.ts",
    "apps/ops/src/benchmark-vaccination.ts",
    "apps/ops/src/benchmark-connect.ts",
    "apps/ops/src/benchmark-round-trips.ts",
  ];

  it.each(commands)("%s answers --help with its usage, touching nothing", async (command) => {
    const help = await run(command, ["--help"], {});
    expect(help.stderr).toBe("");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage:/);
  });

  it("./hexa help lists every command, and ./hexa start --help explains start without starting it", async () => {
    const hexa = (...args: string[]) =>
      spawnSync(resolve(root, "hexa"), args, { cwd: root, encoding: "utf8" });
    const help = hexa("help");
    expect(help.status).toBe(0);
    for (const command of [
      "start",
      "test",
      "demo",
      "service",
      "migrate",
      "token",
      "dead-letters",
      "benchmark",
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    const start = hexa("start", "--help");
    expect(start.status).toBe(0);
    expect(start.stdout).toMatch(
      /^ {2}start {17}every service of both suites in one process on http:\/\/\$HOST:\$PORT/,
    );
    expect(start.stdout).not.toContain("  test");
  });

  it("refuses a flag without its value, or unknown, with the problem and the usage (exit code 2)", async () => {
    const noValue = await run("apps/ops/src/demo-trial.ts", ["--url"], {});
    expect(noValue.code).toBe(2);
    expect(noValue.stdout).toBe("");
    expect(noValue.stderr).toMatch(/^Option '--url <value>' argument missing\nusage: \.\/hexa demo/);
    const unknown = await run(
      "apps/ops/src/token.ts",
      ["--role", "marketer", "--sub", "m1", "--colour", "red"],
      {},
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^Unknown option '--colour'/);
    const notANumber = await run("apps/ops/src/benchmark-trial.ts", ["--orders", "many"], {});
    expect(notANumber.code).toBe(2);
    expect(notANumber.stderr).toMatch(/^--orders: must be a whole number of at least 1, got "many"\n/);
  });
});

// `script` (util-linux) runs the start on a pseudo-terminal, as a person at a terminal would.
const hasScript = spawnSync("script", ["--version"]).status === 0;

describe.skipIf(!hasScript)("a start at a terminal", () => {
  it("prints the banner, with an address to call when it listens on every interface", async () => {
    const database = await createTestDatabase();
    const port = await freePort();
    const child = spawn("script", ["-qefc", `${process.execPath} apps/all-in-one/src/main.ts`, "/dev/null"], {
      cwd: root,
      detached: true, // its own process group, stopped as a whole below
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        HOST: "0.0.0.0",
        PORT: String(port),
        DATABASE_URL: database.url,
        LOG_LEVEL: "warn",
        ...(process.env.AUTH_DEV_KEY_DIR ? { AUTH_DEV_KEY_DIR: process.env.AUTH_DEV_KEY_DIR } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise((done) => child.once("close", done));
    let terminal = "";
    try {
      terminal = await new Promise<string>((seen, failed) => {
        child.stdout.on("data", (chunk) => {
          terminal += chunk;
          if (terminal.includes("  auth:")) seen(terminal);
        });
        child.once("close", () => failed(new Error(`exited before the banner:\n${terminal}`)));
      });
    } finally {
      if (child.pid) process.kill(-child.pid, "SIGTERM");
      await exited;
      await database.drop();
    }
    expect(terminal).toContain(
      `all-in-one is serving marketing, order, warehouse, delivery, dashboard, inventory, reservation, vaccination, notification, vaccination-dashboard on http://127.0.0.1:${port} (listening on every interface, 0.0.0.0)`,
    );
    expect(terminal).toContain(`http://127.0.0.1:${port}/trial.marketing.v1.MarketingService/StartTrialPlan`);
    // The console, without the development sign-in: it is not on a loopback address.
    expect(terminal).toMatch(new RegExp(`  console:  http://127\\.0\\.0\\.1:${port}/\\r?\\n`));
  }, 60_000);
});

describe("a start on a port that is already in use", () => {
  it("is refused with one line naming PORT and exit code 2, before the database starts", async () => {
    const holder = net.createServer();
    await new Promise<void>((listening) => holder.listen(0, "127.0.0.1", listening));
    const port = (holder.address() as net.AddressInfo).port;
    const dataDir = mkdtempSync(join(tmpdir(), "hexa-busy-port-"));
    chmodSync(dataDir, 0o755);
    try {
      const start = await run("apps/all-in-one/src/main.ts", [], {
        HOST: "127.0.0.1",
        PORT: String(port),
        DATA_DIR: dataDir,
        EMBEDDED_POSTGRES_PORT: String(await freePort()),
      });
      expect(start.code).toBe(2);
      expect(start.stdout).toBe("");
      expect(start.stderr).toBe(
        `invalid configuration: PORT: ${port} is already in use on 127.0.0.1; set PORT to a free port\n`,
      );
      // Neither the embedded PostgreSQL's data nor the development key was created.
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      holder.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
