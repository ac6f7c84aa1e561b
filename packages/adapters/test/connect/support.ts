/**
 * Scaffolding for the Connect server tests: a small MarketingService that answers with a plan or
 * throws the typed domain errors, a logger whose lines the tests can read, and a server started
 * on 127.0.0.1 with a free port.
 */
import { Writable } from "node:stream";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { FailedPrecondition, InvalidArgument, NotFound } from "@hexa/core/shared";
import { MarketingService, TrialPlanStatus } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { pino } from "pino";
import { type RunningServer, type ServeOptions, serve } from "../../src/connect/server.ts";

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A pino logger at debug level writing into an array, plus the raw text for leak checks. */
export function captureLogger() {
  const lines: LogLine[] = [];
  let raw = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString("utf8");
      raw += text;
      for (const line of text.split("\n")) {
        if (line.trim() !== "") {
          lines.push(JSON.parse(line) as LogLine);
        }
      }
      done();
    },
  });
  const logger = pino({ level: "debug" }, stream);
  return { logger, lines, raw: () => raw };
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export const SECRET = "postgres://admin:hunter2@db.internal:5432/marketing";

/** Holds calls for product "slow" until released, and reports when one is waiting. */
export class SlowLane {
  #entered = deferred();
  #release = deferred();

  /** Resolves once a slow call is inside its handler. */
  get entered(): Promise<void> {
    return this.#entered.promise;
  }

  release(): void {
    this.#release.resolve();
  }

  async wait(): Promise<void> {
    this.#entered.resolve();
    await this.#release.promise;
  }

  reset(): void {
    this.#entered = deferred();
    this.#release = deferred();
  }
}

const STARTED_AT = new Date("2030-01-02T03:04:05Z");

function plan(planId: string, productId: string, name: string, trialDays: number, ended = false) {
  return {
    planId,
    productId,
    name,
    trialDays,
    status: ended ? TrialPlanStatus.ENDED : TrialPlanStatus.ACTIVE,
    startedAt: timestampFromDate(STARTED_AT),
  };
}

/** The service under test: just enough behaviour to exercise every server path. */
export function marketingService(slow: SlowLane): ServiceImpl<typeof MarketingService> {
  return {
    async startTrialPlan(request) {
      if (request.trialDays < 1 || request.trialDays > 365) {
        throw new InvalidArgument("trialDays", "must be a whole number from 1 to 365");
      }
      if (request.productId === "boom") {
        throw new Error(`connection to ${SECRET} refused`);
      }
      if (request.productId === "slow") {
        await slow.wait();
      }
      return { plan: plan("plan-1", request.productId, request.name, request.trialDays) };
    },
    async endTrialPlan(request) {
      if (request.planId === "plan-ended") {
        throw new FailedPrecondition("plan-must-be-active", "the plan has already ended");
      }
      return { plan: plan(request.planId, "product-1", "Trial", 30, true) };
    },
    async getTrialPlan(request) {
      if (request.planId !== "plan-1") {
        throw new NotFound("TrialPlan", request.planId);
      }
      return { plan: plan("plan-1", "product-1", "Trial", 30) };
    },
    async listTrialPlans() {
      return { plans: [plan("plan-1", "product-1", "Trial", 30)] };
    },
  };
}

export interface TestServer {
  server: RunningServer;
  slow: SlowLane;
  logs: ReturnType<typeof captureLogger>;
}

/** Starts the real server on 127.0.0.1, port 0, with the test MarketingService mounted. */
export async function startTestServer(options: Partial<ServeOptions> = {}): Promise<TestServer> {
  const slow = new SlowLane();
  const logs = captureLogger();
  const server = await serve({
    host: "127.0.0.1",
    port: 0,
    logger: logs.logger,
    routes: (router: ConnectRouter) => {
      router.service(MarketingService, marketingService(slow));
    },
    ...options,
  });
  return { server, slow, logs };
}
