import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDevKeys } from "@hexa/adapters/auth/tokens";
import { deleteNamespaceStreams } from "@hexa/adapters/jetstream/streams";
import { startTemporaryPostgres } from "@hexa/adapters/postgres/embedded";
import { connect } from "@nats-io/transport-node";
import type { TestProject } from "vitest/node";
import { findChromium } from "./chromium.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of the Postgres the tests use; each test creates its own database there. */
    databaseUrl: string;
    /** URL of a NATS server with JetStream, or "" when none is reachable (JetStream tests skip). */
    natsUrl: string;
    /** Directory of the run's signing key (AUTH_DEV_KEY_DIR of every service the tests start). */
    authKeyDir: string;
    /** The bus namespace every test's own namespace extends; its streams are deleted when the run ends. */
    busNamespaceOfRun: string;
    /** Path of the headless Chromium the console's browser tests drive, or "" when they are skipped. */
    chromiumPath: string;
  }
}

/**
 * Finds the real services the integration tests talk to:
 * - Postgres: DATABASE_URL when set, else an embedded PostgreSQL started for this run.
 * - NATS: NATS_URL (default nats://127.0.0.1:4222); when nothing answers, a private nats-server
 *   if the binary is installed; else the JetStream tests are skipped with a printed reason,
 *   except under CI=true, where the run fails.
 * - Chromium (the main project's console tests): the system's, installed with apt when root;
 *   else those tests are skipped with a printed reason, except under CI=true, where the run fails.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cleanups: Array<() => Promise<void> | void> = [];

  let databaseUrl = process.env.DATABASE_URL ?? "";
  if (databaseUrl) {
    console.log(`[tests] PostgreSQL: ${redact(databaseUrl)} (DATABASE_URL)`);
  } else {
    const port = await freePort();
    const started = Date.now();
    const postgres = await startTemporaryPostgres({ port });
    databaseUrl = postgres.url;
    cleanups.push(() => postgres.stop());
    console.log(
      `[tests] PostgreSQL: embedded, 127.0.0.1:${port}, started in ${Date.now() - started} ms (DATABASE_URL not set)`,
    );
  }

  let natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
  const problem = await jetStreamProblem(natsUrl);
  if (problem) {
    const ownServer = await startOwnNatsServer();
    if (ownServer) {
      console.log(`[tests] NATS: ${natsUrl} unusable (${problem}); started nats-server at ${ownServer.url}`);
      natsUrl = ownServer.url;
      cleanups.push(ownServer.stop);
    } else if (process.env.CI === "true") {
      throw new Error(
        `[tests] CI=true: the JetStream tests must run, but ${natsUrl} is unusable: ${problem}`,
      );
    } else {
      console.warn(
        `[tests] SKIPPING the JetStream tests: ${natsUrl} is unusable (${problem}) and no nats-server binary is installed. ` +
          "Set NATS_URL, or install nats-server, to run them.",
      );
      natsUrl = "";
    }
  } else {
    console.log(`[tests] NATS: ${natsUrl}`);
  }

  let chromiumPath = "";
  if (project.name === "main") {
    const chromium = findChromium();
    if ("path" in chromium) {
      chromiumPath = chromium.path;
      console.log(`[tests] Chromium: ${chromiumPath}`);
    } else if (process.env.CI === "true") {
      throw new Error(`[tests] CI=true: the console's browser tests must run, but ${chromium.problem}`);
    } else {
      console.warn(
        `[tests] SKIPPING the console's browser tests: ${chromium.problem}. Set CHROMIUM_PATH to run them.`,
      );
    }
  }
  project.provide("chromiumPath", chromiumPath);

  // One development key pair for the run: services started in the workers (startServices,
  // startApp) verify with it, and the harness's clients sign their tokens with it. Test callers
  // share one subject, so the per-caller rate limit is lifted; its own test sets it.
  const authKeyDir = mkdtempSync(join(tmpdir(), "hexa-test-auth-"));
  await ensureDevKeys(authKeyDir);
  cleanups.push(() => rmSync(authKeyDir, { recursive: true, force: true }));
  process.env.AUTH_DEV_KEY_DIR = authKeyDir;
  process.env.RATE_LIMIT_PER_SECOND ??= "1000000";
  process.env.RATE_LIMIT_BURST ??= "1000000";
  project.provide("authKeyDir", authKeyDir);
  project.provide("databaseUrl", databaseUrl);
  project.provide("natsUrl", natsUrl);
  const busNamespaceOfRun = `t${randomBytes(3).toString("hex")}`;
  project.provide("busNamespaceOfRun", busNamespaceOfRun);
  if (natsUrl) {
    // Registered after any nats-server of the run's own, so it runs before that server stops.
    cleanups.push(async () => {
      const deleted = await deleteNamespaceStreams(natsUrl, busNamespaceOfRun);
      console.log(`[tests] deleted the run's ${deleted} streams from NATS`);
    });
  }
  return async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
}

async function jetStreamProblem(url: string): Promise<string | undefined> {
  try {
    const connection = await connect({ servers: url, timeout: 2_000, reconnect: false });
    try {
      const { jetstreamManager } = await import("@nats-io/jetstream");
      await (await jetstreamManager(connection, { timeout: 2_000 })).getAccountInfo();
      return undefined;
    } finally {
      await connection.close();
    }
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function startOwnNatsServer(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  if (spawnSync("nats-server", ["--version"]).status !== 0) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "hexa-test-nats-"));
  const child = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir], {
    stdio: "ignore",
  });
  const url = `nats://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 50; attempt++) {
    if (!(await jetStreamProblem(url))) {
      return {
        url,
        stop: async () => {
          child.kill("SIGTERM");
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  child.kill("SIGKILL");
  return undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject()));
    });
  });
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
