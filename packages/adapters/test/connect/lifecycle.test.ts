/**
 * Health, load and shutdown: the HTTP probes and the gRPC health service follow readiness, a full
 * server refuses application calls but still answers health, a server-side deadline ends slow
 * calls, and a graceful close lets a slow call finish while reporting not ready and refusing
 * new connections.
 */
import http2 from "node:http2";
import net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@hexa/proto/grpc/health/v1/health_pb";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { afterEach, describe, expect, it } from "vitest";
import type { ReadinessCheck } from "../../src/connect/health.ts";
import { SERVER_BUSY_MESSAGE } from "../../src/connect/server.ts";
import { startTestServer, type TestServer } from "./support.ts";

const { SERVING, NOT_SERVING } = HealthCheckResponse_ServingStatus;
const MARKETING = "trial.marketing.v1.MarketingService";

/** A readiness check the test switches on and off. */
function toggle(name: string, up = true) {
  const state = { up };
  const check: ReadinessCheck = { name, check: async () => state.up };
  return { state, check };
}

const started: TestServer[] = [];

async function start(options: Parameters<typeof startTestServer>[0] = {}) {
  const server = await startTestServer(options);
  started.push(server);
  return server;
}

afterEach(async () => {
  for (const t of started.splice(0)) {
    t.slow.release();
    await t.server.close(500);
  }
});

/** GET over HTTP/2 (prior knowledge), to show the probes answer there too. */
async function h2Get(url: string, path: string) {
  const session = http2.connect(url);
  try {
    return await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ":path": path, ":method": "GET" });
      let status = 0;
      let body = "";
      req.on("response", (headers) => {
        status = Number(headers[":status"]);
      });
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => {
        body += chunk;
      });
      req.on("end", () => resolve({ status, body }));
      req.on("error", reject);
      req.end();
    });
  } finally {
    session.close();
  }
}

/** What happens when opening a new TCP connection: "connected" or the error code. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
  });
}

async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 3000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) {
      return value;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("HTTP probes", () => {
  it("/healthz answers 200 and /readyz follows the checks, over HTTP/1.1 and HTTP/2", async () => {
    const postgres = toggle("postgres");
    const nats = toggle("nats");
    const { server } = await start({ readiness: [postgres.check, nats.check] });

    for (const get of [
      async (path: string) => {
        const res = await fetch(`${server.url}${path}`);
        return { status: res.status, body: await res.text() };
      },
      (path: string) => h2Get(server.url, path),
    ]) {
      postgres.state.up = true;
      expect(await get("/healthz")).toEqual({ status: 200, body: JSON.stringify({ status: "alive" }) });
      expect(await get("/readyz")).toEqual({ status: 200, body: JSON.stringify({ status: "ready" }) });

      postgres.state.up = false;
      const notReady = await get("/readyz");
      expect(notReady.status).toBe(503);
      expect(JSON.parse(notReady.body)).toEqual({
        status: "not_ready",
        failing: ["postgres"],
        shuttingDown: false,
      });
      expect((await get("/healthz")).status).toBe(200);
    }
  });

  it("stays ready when a check not required fails, naming it; reports not alive once a bounded check fails past its bound", async () => {
    const bus = toggle("bus", false);
    const postgres = toggle("postgres");
    const { server } = await start({
      readiness: [
        { ...postgres.check, livenessBoundMs: 300 },
        { ...bus.check, required: false },
      ],
    });
    const get = async (path: string) => {
      const response = await fetch(`${server.url}${path}`);
      return { status: response.status, body: await response.json() };
    };
    expect(await get("/readyz")).toEqual({ status: 200, body: { status: "ready", degraded: ["bus"] } });

    postgres.state.up = false;
    expect(await get("/healthz")).toEqual({ status: 200, body: { status: "alive" } });
    expect((await get("/readyz")).body).toEqual({
      status: "not_ready",
      failing: ["postgres"],
      degraded: ["bus"],
      shuttingDown: false,
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await get("/healthz")).toEqual({
      status: 503,
      body: { status: "not_alive", failing: ["postgres"] },
    });

    postgres.state.up = true; // one pass and the bound starts over
    expect(await get("/healthz")).toEqual({ status: 200, body: { status: "alive" } });
  });

  it("counts a check that throws or hangs as failing", async () => {
    const { server } = await start({
      readinessCheckTimeoutMs: 50,
      readiness: [
        { name: "throws", check: () => Promise.reject(new Error("down")) },
        { name: "hangs", check: () => new Promise<boolean>(() => {}) },
        { name: "fine", check: async () => true },
      ],
    });
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { failing: string[] }).failing).toEqual(["throws", "hangs"]);
  });
});

describe("gRPC health", () => {
  it("Check and List report SERVING per service and overall, NOT_SERVING when a check fails", async () => {
    const postgres = toggle("postgres");
    const { server } = await start({ readiness: [postgres.check] });
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));

    expect((await health.check({ service: "" })).status).toBe(SERVING);
    expect((await health.check({ service: MARKETING })).status).toBe(SERVING);
    const list = await health.list({});
    expect(Object.fromEntries(Object.entries(list.statuses).map(([name, s]) => [name, s.status]))).toEqual({
      "": SERVING,
      [MARKETING]: SERVING,
    });

    postgres.state.up = false;
    expect((await health.check({ service: MARKETING })).status).toBe(NOT_SERVING);

    const unknown = await health
      .check({ service: "no.such.Service" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(unknown).toMatchObject({ code: Code.NotFound });
  });

  it("Watch streams every change of readiness", async () => {
    const postgres = toggle("postgres");
    const { server } = await start({ readiness: [postgres.check], readinessPollMs: 10 });
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    const abort = new AbortController();
    const updates = health.watch({ service: MARKETING }, { signal: abort.signal })[Symbol.asyncIterator]();

    expect((await updates.next()).value?.status).toBe(SERVING);
    postgres.state.up = false;
    expect((await updates.next()).value?.status).toBe(NOT_SERVING);
    postgres.state.up = true;
    expect((await updates.next()).value?.status).toBe(SERVING);
    abort.abort();
    await updates.next().catch(() => undefined);
  });
});

describe("load shedding", () => {
  it("refuses application calls beyond maxInFlight with resource_exhausted; health still answers", async () => {
    const { server, slow, logs } = await start({ maxInFlight: 1 });
    const marketing = createClient(MarketingService, createGrpcTransport({ baseUrl: server.url }));
    const json = createClient(
      MarketingService,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat: false }),
    );
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));

    const held = marketing.startTrialPlan({ productId: "slow", name: "Held", trialDays: 3 });
    await slow.entered;

    for (const client of [marketing, json]) {
      const refused = await client
        .getTrialPlan({ planId: "plan-1" })
        .catch((e: unknown) => ConnectError.from(e));
      expect(refused).toMatchObject({ code: Code.ResourceExhausted, rawMessage: SERVER_BUSY_MESSAGE });
    }
    expect((await health.check({ service: "" })).status).toBe(SERVING);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    slow.release();
    expect((await held).plan?.name).toBe("Held");
    // The slot is free again.
    expect((await json.getTrialPlan({ planId: "plan-1" })).plan?.planId).toBe("plan-1");
    expect(logs.lines.filter((l) => l.msg === "rpc" && l.code === "resource_exhausted")).toHaveLength(2);
  });
});

describe("admission queue and internal calls", () => {
  const json = (url: string) =>
    createClient(
      MarketingService,
      createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false }),
    );
  const refusalOf = (call: Promise<unknown>) =>
    call.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );

  it("lets calls beyond maxInFlight wait their turn, and refuses one beyond the queue or past the wait", async () => {
    const { server, slow } = await start({ maxInFlight: 1, queue: { maxQueued: 1, maxWaitMs: 300 } });
    const client = json(server.url);
    const held = client.startTrialPlan({ productId: "slow", name: "Held", trialDays: 3 });
    await slow.entered;
    const waiting = client.getTrialPlan({ planId: "plan-1" });
    await new Promise((done) => setTimeout(done, 50));
    expect(await refusalOf(client.getTrialPlan({ planId: "plan-1" }))).toMatchObject({
      code: Code.ResourceExhausted,
      rawMessage: SERVER_BUSY_MESSAGE,
    });
    slow.release();
    expect((await held).plan?.name).toBe("Held");
    expect((await waiting).plan?.planId).toBe("plan-1");

    slow.reset();
    const again = client.startTrialPlan({ productId: "slow", name: "Again", trialDays: 3 });
    await slow.entered;
    const started = performance.now();
    expect(await refusalOf(client.getTrialPlan({ planId: "plan-1" }))).toMatchObject({
      code: Code.ResourceExhausted,
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    slow.release();
    expect((await again).plan?.name).toBe("Again");
  });

  it("admits the procedures only services call in a lane of their own, so a full server still serves them", async () => {
    const { server, slow } = await start({
      maxInFlight: 1,
      internalCalls: { procedures: new Set([`/${MARKETING}/EndTrialPlan`]), maxInFlight: 1 },
    });
    const client = json(server.url);
    const held = client.startTrialPlan({ productId: "slow", name: "Held", trialDays: 3 });
    await slow.entered;
    expect(await refusalOf(client.getTrialPlan({ planId: "plan-1" }))).toMatchObject({
      code: Code.ResourceExhausted,
    });
    expect((await client.endTrialPlan({ planId: "plan-2" })).plan?.planId).toBe("plan-2");
    slow.release();
    await held;
  });
});

describe("server-side deadline", () => {
  it("ends a unary call running longer than requestTimeoutMs with deadline_exceeded", async () => {
    const { server } = await start({ requestTimeoutMs: 50 });
    const marketing = createClient(MarketingService, createGrpcTransport({ baseUrl: server.url }));
    const error = await marketing
      .startTrialPlan({ productId: "slow", name: "Held", trialDays: 3 })
      .catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.DeadlineExceeded, rawMessage: "request timed out after 50 ms" });
    expect((await marketing.getTrialPlan({ planId: "plan-1" })).plan?.planId).toBe("plan-1");
  });
});

describe("graceful close", () => {
  it("lets a slow call finish while reporting not ready and refusing new connections", async () => {
    const { server, slow } = await start({ drainDelayMs: 600 });
    const transport = createGrpcTransport({ baseUrl: server.url });
    const marketing = createClient(MarketingService, transport);
    const health = createClient(Health, transport);

    const watch = health.watch({ service: "" })[Symbol.asyncIterator]();
    expect((await watch.next()).value?.status).toBe(SERVING);

    const held = marketing.startTrialPlan({ productId: "slow", name: "Held", trialDays: 3 });
    await slow.entered;

    let closed = false;
    const closing = server.close(5000).then(() => {
      closed = true;
    });

    // Readiness turns false first: watchers hear NOT_SERVING, then their stream ends.
    expect((await watch.next()).value?.status).toBe(NOT_SERVING);
    expect((await watch.next()).done).toBe(true);
    // During the drain delay the listener still accepts, and /readyz says why it is not ready.
    const readyz = await fetch(`${server.url}/readyz`, { headers: { connection: "close" } });
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toEqual({ status: "not_ready", failing: [], shuttingDown: true });

    // Then new connections are refused, while the slow call is still running. A connection that
    // races the listener's close may be reset instead (ECONNRESET); the next one is refused.
    expect(
      await eventually(
        () => tryConnect(server.port),
        (outcome) => outcome === "ECONNREFUSED",
      ),
    ).toBe("ECONNREFUSED");
    expect(closed).toBe(false);

    slow.release();
    expect((await held).plan?.name).toBe("Held");
    await closing;
    expect(closed).toBe(true);
  });

  it("aborts calls still running after the grace period", async () => {
    const { server, slow } = await start();
    const marketing = createClient(MarketingService, createGrpcTransport({ baseUrl: server.url }));
    const held = marketing
      .startTrialPlan({ productId: "slow", name: "Held", trialDays: 3 })
      .catch((e: unknown) => ConnectError.from(e));
    await slow.entered;
    const began = performance.now();
    await server.close(100);
    expect(performance.now() - began).toBeLessThan(1000);
    const outcome = await held;
    expect(outcome).toBeInstanceOf(ConnectError);
    expect([Code.Unavailable, Code.Canceled, Code.Unknown]).toContain((outcome as ConnectError).code);
  });
});
