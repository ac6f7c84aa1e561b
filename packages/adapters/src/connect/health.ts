/**
 * Readiness and health: the checks a service declares (database, bus), the standard gRPC health
 * service `grpc.health.v1.Health` reflecting them, and the plain HTTP probes `/healthz` (alive:
 * no check has failed past its liveness bound) and `/readyz` (every required check passes and the
 * server is not shutting down; the others are reported in the body).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus } from "@hexa/proto/grpc/health/v1/health_pb";

/** One dependency the service needs to do useful work, e.g. the database or the bus. */
export interface ReadinessCheck {
  /** Short name reported by `/readyz` when the check fails, e.g. "postgres". */
  readonly name: string;
  /** True when the dependency is usable. Throwing, or taking too long, counts as false. */
  check(): Promise<boolean>;
  /**
   * False for a dependency the service can take calls without (the bus: the outbox holds the
   * events): its failure is reported, in `degraded`, but the service stays ready. Default true.
   */
  readonly required?: boolean;
  /**
   * After the check has failed for this long without a pass, the process reports not alive
   * (`/healthz` 503), so the orchestrator restarts it. Default: never.
   */
  readonly livenessBoundMs?: number;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** Names of the required checks that did not pass. */
  readonly failing: readonly string[];
  /** Names of the checks not required for readiness that did not pass. */
  readonly degraded: readonly string[];
  readonly shuttingDown: boolean;
}

export interface ReadinessOptions {
  /** A check that has not answered after this long counts as failing. Default 2000 ms. */
  readonly checkTimeoutMs?: number;
  /** How often the checks are re-run while someone watches (gRPC health Watch). Default 5000 ms. */
  readonly pollMs?: number;
}

/** The server's readiness: its checks, plus whether shutdown has begun (then never ready again). */
export class Readiness {
  readonly #checks: readonly ReadinessCheck[];
  readonly #checkTimeoutMs: number;
  readonly #pollMs: number;
  readonly #listeners = new Set<(ready: boolean) => void>();
  #shuttingDown = false;
  #poller: NodeJS.Timeout | undefined;
  #polling = false;
  #lastNotified: boolean | undefined;
  /** When each check began failing, for those failing now. */
  readonly #failingSince = new Map<ReadinessCheck, number>();

  constructor(checks: readonly ReadinessCheck[], options: ReadinessOptions = {}) {
    this.#checks = checks;
    this.#checkTimeoutMs = options.checkTimeoutMs ?? 2000;
    this.#pollMs = options.pollMs ?? 5000;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Runs every check at once, each bounded by the check timeout. */
  async report(): Promise<ReadinessReport> {
    if (this.#shuttingDown) {
      return { ready: false, failing: [], degraded: [], shuttingDown: true };
    }
    const results = await Promise.all(this.#checks.map((check) => this.#run(check)));
    const failed = this.#checks.filter((_, index) => !results[index]);
    const failing = failed.filter((check) => check.required !== false).map((check) => check.name);
    const degraded = failed.filter((check) => check.required === false).map((check) => check.name);
    const shuttingDown = this.#shuttingDown;
    return { ready: failing.length === 0 && !shuttingDown, failing, degraded, shuttingDown };
  }

  /**
   * Runs the checks that have a liveness bound; returns the names of those failing for longer than
   * it: the process cannot recover by itself (empty while alive).
   */
  async deadDependencies(): Promise<string[]> {
    const bounded = this.#checks.filter((check) => check.livenessBoundMs !== undefined);
    await Promise.all(bounded.map((check) => this.#run(check)));
    const now = performance.now();
    return bounded
      .filter((check) => now - (this.#failingSince.get(check) ?? now) > (check.livenessBoundMs ?? 0))
      .map((check) => check.name);
  }

  /** From now on the server reports not ready; watchers hear it at once. */
  beginShutdown(): void {
    if (this.#shuttingDown) {
      return;
    }
    this.#shuttingDown = true;
    this.#stopPolling();
    this.#notify(false);
  }

  /**
   * Calls `listener` whenever readiness may have changed (the checks are polled while anyone
   * listens). Listeners must tolerate repeated values. Returns the unsubscribe function.
   */
  subscribe(listener: (ready: boolean) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#poller && !this.#shuttingDown) {
      this.#poller = setInterval(() => void this.#poll(), this.#pollMs);
      this.#poller.unref();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#stopPolling();
      }
    };
  }

  async #poll(): Promise<void> {
    if (this.#polling) {
      return;
    }
    this.#polling = true;
    try {
      const { ready } = await this.report();
      if (ready !== this.#lastNotified && !this.#shuttingDown) {
        this.#notify(ready);
      }
    } finally {
      this.#polling = false;
    }
  }

  #notify(ready: boolean): void {
    this.#lastNotified = ready;
    for (const listener of [...this.#listeners]) {
      listener(ready);
    }
  }

  #stopPolling(): void {
    clearInterval(this.#poller);
    this.#poller = undefined;
    this.#lastNotified = undefined;
  }

  async #run(check: ReadinessCheck): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#checkTimeoutMs);
    });
    let passed: boolean;
    try {
      passed = (await Promise.race([check.check(), timedOut])) === true;
    } catch {
      passed = false;
    } finally {
      clearTimeout(timer);
    }
    if (passed) this.#failingSince.delete(check);
    else if (!this.#failingSince.has(check)) this.#failingSince.set(check, performance.now());
    return passed;
  }
}

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = HealthCheckResponse_ServingStatus;

/**
 * The gRPC health service. The overall status ("") and the status of every name in
 * `serviceNames` follow readiness: SERVING when ready, NOT_SERVING otherwise (and from the start
 * of shutdown). Check of an unknown name is NOT_FOUND; Watch of one reports SERVICE_UNKNOWN.
 * Watch streams end once shutdown has begun, after telling the watcher NOT_SERVING.
 */
export function healthService(
  readiness: Readiness,
  serviceNames: readonly string[],
): ServiceImpl<typeof Health> {
  const known = new Set(["", ...serviceNames]);
  const statusOf = (ready: boolean) => ({ status: ready ? SERVING : NOT_SERVING });
  return {
    async check(request) {
      if (!known.has(request.service)) {
        throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
      }
      return statusOf((await readiness.report()).ready);
    },
    async list() {
      const status = statusOf((await readiness.report()).ready);
      return { statuses: Object.fromEntries([...known].map((name) => [name, status])) };
    },
    async *watch(request, context) {
      if (!known.has(request.service)) {
        yield { status: SERVICE_UNKNOWN };
        await untilShutdownOrAbort(readiness, context);
        return;
      }
      const updates = new Updates(readiness, context);
      try {
        let current = (await readiness.report()).ready;
        yield statusOf(current);
        while (!context.signal.aborted && !readiness.shuttingDown) {
          for (const ready of await updates.next()) {
            if (ready !== current) {
              current = ready;
              yield statusOf(current);
            }
          }
        }
      } finally {
        updates.close();
      }
    },
  };
}

/** Readiness changes queued for one watcher, woken by a change, shutdown or the call ending. */
class Updates {
  readonly #queue: boolean[] = [];
  readonly #unsubscribe: () => void;
  readonly #signal: AbortSignal;
  #wake: (() => void) | undefined;
  readonly #onAbort = () => this.#wake?.();

  constructor(readiness: Readiness, context: HandlerContext) {
    this.#signal = context.signal;
    this.#unsubscribe = readiness.subscribe((ready) => {
      this.#queue.push(ready);
      this.#wake?.();
    });
    this.#signal.addEventListener("abort", this.#onAbort);
  }

  async next(): Promise<boolean[]> {
    if (this.#queue.length === 0 && !this.#signal.aborted) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
    return this.#queue.splice(0);
  }

  close(): void {
    this.#unsubscribe();
    this.#signal.removeEventListener("abort", this.#onAbort);
  }
}

async function untilShutdownOrAbort(readiness: Readiness, context: HandlerContext): Promise<void> {
  const updates = new Updates(readiness, context);
  try {
    while (!context.signal.aborted && !readiness.shuttingDown) {
      await updates.next();
    }
  } finally {
    updates.close();
  }
}

type ProbeRequest = IncomingMessage | Http2ServerRequest;
type ProbeResponse = ServerResponse | Http2ServerResponse;

/** Paths answered by {@link handleProbe}. */
export const probePaths = { alive: "/healthz", ready: "/readyz" } as const;

/**
 * Answers `GET /healthz` (200 while alive, else 503 with `{"status":"not_alive","failing":[...]}`:
 * a dependency failed past its liveness bound) and `GET /readyz` (200 when ready, with
 * `"degraded":[...]` when checks not required fail, else 503 with
 * `{"status":"not_ready","failing":[...],"shuttingDown":...}`, `degraded` likewise), over HTTP/1.1 and
 * HTTP/2 alike. Returns false for any other path, leaving the request to the caller.
 */
export function handleProbe(readiness: Readiness, req: ProbeRequest, res: ProbeResponse): boolean {
  const path = (req.url ?? "").split("?", 1)[0];
  if (path !== probePaths.alive && path !== probePaths.ready) {
    return false;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(req, res, 405, { status: "method_not_allowed" }, { allow: "GET, HEAD" });
    return true;
  }
  if (path === probePaths.alive) {
    readiness.deadDependencies().then(
      (failing) =>
        failing.length === 0
          ? send(req, res, 200, { status: "alive" })
          : send(req, res, 503, { status: "not_alive", failing }),
      () => send(req, res, 200, { status: "alive" }),
    );
    return true;
  }
  readiness.report().then(
    ({ ready, failing, degraded, shuttingDown }) =>
      send(req, res, ready ? 200 : 503, {
        status: ready ? "ready" : "not_ready",
        ...(ready ? {} : { failing }),
        ...(degraded.length > 0 ? { degraded } : {}),
        ...(ready ? {} : { shuttingDown }),
      }),
    () => send(req, res, 503, { status: "not_ready", failing: [], shuttingDown: readiness.shuttingDown }),
  );
  return true;
}

function send(
  req: ProbeRequest,
  res: ProbeResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  const bytes = Buffer.from(JSON.stringify(body));
  // Both response kinds share this part of the API; the union's overloads do not unify in types.
  const out = res as ServerResponse;
  out.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(bytes.byteLength),
    "cache-control": "no-store",
  });
  out.end(req.method === "HEAD" ? undefined : bytes);
}
