import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createResilientClient, type ResilientClientOptions } from "../../src/resilience/client.ts";
import {
  type CallPolicyOptions,
  CircuitOpenError,
  createCallPolicy,
  isCircuitOpen,
  isUnavailable,
  withFallback,
} from "../../src/resilience/policy.ts";

/** What the in-test MarketingService does on its next calls; the last step repeats. */
type Step = "ok" | "unavailable" | "internal" | "busy" | "not-found" | "invalid" | { slowMs: number };

interface Received {
  readonly method: string;
  readonly idempotencyKey: string | null;
}

let steps: Step[] = [];
let received: Received[] = [];

async function behave(method: string, context: HandlerContext): Promise<void> {
  received.push({ method, idempotencyKey: context.requestHeader.get("idempotency-key") });
  const step = steps.length > 1 ? steps.shift() : steps[0];
  if (step === undefined || step === "ok") return;
  if (step === "unavailable") throw new ConnectError("marketing is restarting", Code.Unavailable);
  if (step === "internal") throw new ConnectError("marketing broke", Code.Internal);
  if (step === "busy") throw new ConnectError("server busy, retry later", Code.ResourceExhausted);
  if (step === "not-found") throw new ConnectError("no such plan", Code.NotFound);
  if (step === "invalid") throw new ConnectError("plan id is empty", Code.InvalidArgument);
  await new Promise<void>((done) => {
    const timer = setTimeout(done, step.slowMs);
    context.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      done();
    });
  });
}

const plan = (planId: string) => ({
  plan: { planId, productId: "coffee", name: "Coffee club", trialDays: 14 },
});

let server: http2.Http2Server;
let baseUrl: string;
let sessions: Http2SessionManager;

beforeAll(async () => {
  server = http2.createServer(
    connectNodeAdapter({
      routes: (router) =>
        router.service(MarketingService, {
          async getTrialPlan(request, context) {
            await behave("getTrialPlan", context);
            return plan(request.planId);
          },
          async endTrialPlan(request, context) {
            await behave("endTrialPlan", context);
            return plan(request.planId);
          },
          async startTrialPlan(_request, context) {
            await behave("startTrialPlan", context);
            return plan("new");
          },
        }),
    }),
  );
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sessions = new Http2SessionManager(baseUrl);
});

afterAll(async () => {
  sessions?.abort();
  await new Promise((closed) => server?.close(closed));
});

let logs: Array<Record<string, unknown>> = [];

beforeEach(() => {
  steps = ["ok"];
  received = [];
  logs = [];
});

function marketingClient(
  overrides: Partial<CallPolicyOptions> = {},
  clientOptions: ResilientClientOptions<typeof MarketingService> = { idempotent: ["getTrialPlan"] },
) {
  const logger = pino({ level: "debug" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const policy = createCallPolicy({
    name: "marketing",
    timeoutMs: 1_000,
    retry: { attempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
    breaker: { consecutiveFailures: 3, halfOpenAfterMs: 150 },
    logger,
    ...overrides,
  });
  const transport = createConnectTransport({ baseUrl, httpVersion: "2", sessionManager: sessions });
  return { policy, client: createResilientClient(MarketingService, transport, policy, clientOptions) };
}

async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the call succeeded");
}

const stateChanges = () =>
  logs
    .filter((line) => line.msg === "circuit breaker state changed")
    .map(({ policy, from, to }) => ({ policy, from, to }));

describe("call policy around a Connect client", () => {
  it("cuts a slow call at the timeout with DeadlineExceeded", async () => {
    const { client } = marketingClient({ timeoutMs: 100 });
    steps = [{ slowMs: 2_000 }];
    const started = Date.now();
    const error = await rejection(client.endTrialPlan({ planId: "p-1" }));
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(received).toHaveLength(1);
  });

  it("retries an idempotent call after transient Unavailable, with one idempotency key for all attempts", async () => {
    const { client } = marketingClient();
    steps = ["unavailable", "unavailable", "ok"];
    const response = await client.getTrialPlan({ planId: "p-2" });
    expect(response.plan?.planId).toBe("p-2");
    expect(received).toHaveLength(3);
    const keys = new Set(received.map((call) => call.idempotencyKey));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(logs.filter((line) => line.msg === "retrying call")).toHaveLength(2);
  });

  it("gives up after the configured attempts", async () => {
    const { client } = marketingClient();
    steps = ["internal"];
    const error = await rejection(client.getTrialPlan({ planId: "p-3" }));
    expect(error.code).toBe(Code.Internal);
    expect(received).toHaveLength(3);
  });

  it("does not retry a call that is not idempotent, and sends it no idempotency key", async () => {
    const { client } = marketingClient();
    steps = ["unavailable", "ok"];
    const error = await rejection(client.endTrialPlan({ planId: "p-4" }));
    expect(error.code).toBe(Code.Unavailable);
    expect(received).toEqual([{ method: "endTrialPlan", idempotencyKey: null }]);
  });

  it("opens after N consecutive failures, fails fast while open, half-opens after the delay and closes on success", async () => {
    const { client, policy } = marketingClient({ retry: false });
    steps = ["unavailable"];
    for (let call = 0; call < 3; call++) {
      expect((await rejection(client.getTrialPlan({ planId: "p-5" }))).code).toBe(Code.Unavailable);
    }
    expect(received).toHaveLength(3);
    expect(policy.state).toBe("open");

    const started = Date.now();
    const fast = await rejection(client.getTrialPlan({ planId: "p-5" }));
    expect(Date.now() - started).toBeLessThan(50);
    expect(fast).toBeInstanceOf(CircuitOpenError);
    expect(isCircuitOpen(fast)).toBe(true);
    expect(fast.code).toBe(Code.Unavailable);
    expect(fast.rawMessage).toBe("marketing circuit open");
    expect(received).toHaveLength(3); // nothing reached the server

    await new Promise((done) => setTimeout(done, 200));
    steps = [{ slowMs: 80 }];
    const trial = client.getTrialPlan({ planId: "p-5" });
    await new Promise((done) => setTimeout(done, 20));
    expect(policy.state).toBe("half-open");
    expect((await trial).plan?.planId).toBe("p-5");
    expect(policy.state).toBe("closed");
    expect(received).toHaveLength(4);

    expect(stateChanges()).toEqual([
      { policy: "marketing", from: "closed", to: "open" },
      { policy: "marketing", from: "open", to: "half-open" },
      { policy: "marketing", from: "half-open", to: "closed" },
    ]);
  });

  it("opens again when the half-open trial fails", async () => {
    const { client, policy } = marketingClient({
      retry: false,
      breaker: { consecutiveFailures: 1, halfOpenAfterMs: 50 },
    });
    steps = ["unavailable"];
    await rejection(client.endTrialPlan({ planId: "p-6" }));
    expect(policy.state).toBe("open");
    await new Promise((done) => setTimeout(done, 70));
    await rejection(client.endTrialPlan({ planId: "p-6" }));
    expect(policy.state).toBe("open");
    expect(received).toHaveLength(2);
    expect(stateChanges().map(({ to }) => to)).toEqual(["open", "half-open", "open"]);
  });

  it("counts timeouts as failures", async () => {
    const { client, policy } = marketingClient({
      timeoutMs: 50,
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 1_000 },
    });
    steps = [{ slowMs: 1_000 }];
    await rejection(client.endTrialPlan({ planId: "p-7" }));
    await rejection(client.endTrialPlan({ planId: "p-7" }));
    expect(policy.state).toBe("open");
  });

  it("neither retries business errors nor lets them open the breaker", async () => {
    const { client, policy } = marketingClient({
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 1_000 },
    });
    steps = ["not-found"];
    for (let call = 0; call < 4; call++) {
      expect((await rejection(client.getTrialPlan({ planId: "p-8" }))).code).toBe(Code.NotFound);
    }
    steps = ["invalid"];
    expect((await rejection(client.endTrialPlan({ planId: "" }))).code).toBe(Code.InvalidArgument);
    expect(received).toHaveLength(5); // one request per call, though getTrialPlan is idempotent
    expect(policy.state).toBe("closed");
    expect(stateChanges()).toEqual([]);
  });

  it("retries the callee's load shedding (resource_exhausted) but never counts it against the breaker", async () => {
    const { client, policy } = marketingClient({
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 1_000 },
    });
    steps = ["busy", "busy", "ok"];
    expect((await client.getTrialPlan({ planId: "p-11" })).plan?.planId).toBe("p-11");
    expect(received).toHaveLength(3);
    steps = ["busy"];
    for (let call = 0; call < 4; call++) {
      const shed = await rejection(client.getTrialPlan({ planId: "p-11" }));
      expect(shed.code).toBe(Code.ResourceExhausted);
      expect(isUnavailable(shed)).toBe(true);
    }
    expect(received).toHaveLength(3 + 4 * 3);
    expect(policy.state).toBe("closed");
    expect(stateChanges()).toEqual([]);
    // Shedding neither resets nor adds to a run of real failures.
    steps = ["unavailable", "busy", "unavailable"];
    for (let call = 0; call < 3; call++) await rejection(client.endTrialPlan({ planId: "p-11" }));
    expect(policy.state).toBe("open");
  });

  it("treats a business answer as proof the dependency is up: it resets the failure count", async () => {
    const { client, policy } = marketingClient({
      retry: false,
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 1_000 },
    });
    steps = ["unavailable", "not-found", "unavailable", "ok"];
    for (let call = 0; call < 3; call++) await rejection(client.endTrialPlan({ planId: "p-9" }));
    expect(policy.state).toBe("closed");
  });

  it("stops retrying as soon as the breaker opens", async () => {
    const { client, policy } = marketingClient({
      retry: { attempts: 5, initialDelayMs: 1, maxDelayMs: 5 },
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 1_000 },
    });
    steps = ["unavailable"];
    const error = await rejection(client.getTrialPlan({ planId: "p-10" }));
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(received).toHaveLength(2);
    expect(policy.state).toBe("open");
  });

  it("falls back while the dependency is unavailable, but lets business errors through", async () => {
    const { client } = marketingClient({
      retry: false,
      breaker: { consecutiveFailures: 1, halfOpenAfterMs: 1_000 },
    });
    steps = ["not-found"];
    const notFound = await rejection(
      withFallback(
        () => client.endTrialPlan({ planId: "p-11" }),
        () => "later",
      ),
    );
    expect(notFound.code).toBe(Code.NotFound);

    steps = ["unavailable"];
    const reasons: Code[] = [];
    const fallback = (error: ConnectError) => {
      reasons.push(error.code);
      return "retry later";
    };
    expect(await withFallback(() => client.endTrialPlan({ planId: "p-11" }), fallback)).toBe("retry later");
    expect(await withFallback(client.endTrialPlan({ planId: "p-11" }), fallback)).toBe("retry later");
    expect(reasons).toEqual([Code.Unavailable, Code.Unavailable]);
    expect(received).toHaveLength(2); // the second fallback came from the open breaker
  });

  it("does not count a call the caller cancels against the dependency", async () => {
    const { client, policy } = marketingClient({
      breaker: { consecutiveFailures: 1, halfOpenAfterMs: 1_000 },
    });
    steps = [{ slowMs: 1_000 }];
    const controller = new AbortController();
    const call = client.getTrialPlan({ planId: "p-12" }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    expect((await rejection(call)).code).toBe(Code.Canceled);
    expect(received).toHaveLength(1);
    expect(policy.state).toBe("closed");
  });

  it("rejects an idempotent method name the service does not have", () => {
    expect(() => marketingClient({}, { idempotent: ["fetchPlan" as "getTrialPlan"] })).toThrow(
      /MarketingService has no method fetchPlan/,
    );
  });
});
