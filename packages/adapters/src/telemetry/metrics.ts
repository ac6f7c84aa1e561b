/**
 * Prometheus metrics of one process, served as text on `GET /metrics` of the service port.
 *
 * RPCs are counted under the names and labels of the gRPC server metrics that stock gRPC
 * dashboards and alerts read (go-grpc-prometheus, grpc-ecosystem): `grpc_server_started_total`,
 * `grpc_server_handled_total` and `grpc_server_handling_seconds`, labelled `grpc_service`,
 * `grpc_method`, `grpc_type` (and `grpc_code`, spelt as gRPC does: `OK`, `InvalidArgument`), for
 * every protocol the port serves (gRPC, gRPC-Web, Connect). `hexa_build_info` is 1, labelled with
 * the build's version. Sampled at each scrape (each source bounded by a timeout, a failing one is
 * left out of that scrape): consumer lag (messages pending per durable consumer), outbox backlog
 * (unpublished rows per service schema), dead letters per consumer, and the circuit breaker state
 * of every call policy. Node's process metrics (`process_*`, `nodejs_*`) come with them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import type { Logger } from "pino";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { observeIterable } from "../connect/interceptors.ts";
import type { BusMetrics } from "../messaging/bus.ts";
import type { BreakerState } from "../resilience/policy.ts";

export const METRICS_PATH = "/metrics";

/** Gauge value of each breaker state: 0 closed, 1 half-open, 2 open (3 isolated by hand). */
export const breakerStateValue: Readonly<Record<BreakerState, number>> = {
  closed: 0,
  "half-open": 1,
  open: 2,
  isolated: 3,
};

/** The names of the platform's own metrics. */
export const metricNames = {
  rpcStarted: "grpc_server_started_total",
  rpcHandled: "grpc_server_handled_total",
  rpcHandling: "grpc_server_handling_seconds",
  buildInfo: "hexa_build_info",
  consumerPending: "hexa_consumer_pending_messages",
  outboxBacklog: "hexa_outbox_unpublished_events",
  deadLetters: "hexa_dead_letters",
  breakerState: "hexa_circuit_breaker_state",
  busConnected: "hexa_bus_connected",
} as const;

export interface MetricSources {
  /** Unpublished outbox rows of each service schema in this process. */
  readonly outboxes?: ReadonlyArray<{ readonly schema: string; unpublished(): Promise<number> }>;
  /** The bus's consumer lag and dead letters. */
  readonly bus?: () => Promise<BusMetrics>;
  /** Whether the bus takes publishes now. */
  readonly busConnected?: () => Promise<boolean>;
  /** The call policies whose breakers are reported, by policy name. */
  readonly breakers?: () => ReadonlyArray<{ readonly name: string; readonly state: BreakerState }>;
}

/** What `hexa_build_info` reports. */
export interface BuildInfo {
  /** The app, e.g. `order` or `all-in-one`. */
  readonly service: string;
  /** The build's version (the image tag in the chart). */
  readonly version: string;
}

/** A gRPC status code as gRPC spells it in `grpc_code` (`OK`, `InvalidArgument`, `Unavailable`). */
export function grpcCodeName(code: Code | undefined): string {
  return code === undefined ? "OK" : Code[code];
}

/** `grpc_type` of a method kind, as the gRPC server metrics name it. */
const grpcTypes = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
} as const;

export interface ServiceMetricsOptions {
  readonly logger?: Logger;
  /** Labels of `hexa_build_info`. Default: service `hexa`, version `dev`. */
  readonly build?: BuildInfo;
  /** Longest a scrape waits for one sampled source. Default 2000 ms. */
  readonly sampleTimeoutMs?: number;
}

/**
 * How often the event loop's lag is sampled (`nodejs_eventloop_lag_*`). prom-client's default of
 * 10 ms wakes an idle process a hundred times a second, a third of what it spends idle; a stall
 * still shows in full in the sample it delays.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** The metrics registry of one running set of services, with the RPC interceptor that feeds it. */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #started: Counter<RpcLabel>;
  readonly #handled: Counter<RpcLabel | "grpc_code">;
  readonly #handling: Histogram<RpcLabel>;
  #sources: MetricSources = {};

  constructor(options: ServiceMetricsOptions = {}) {
    const registers = [this.registry];
    const timeoutMs = options.sampleTimeoutMs ?? 2_000;
    const sample = async <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await withTimeout(read(), timeoutMs);
      } catch (error) {
        options.logger?.warn({ err: error, metric: what }, "metrics source failed; left out of this scrape");
        return undefined;
      }
    };
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    const rpcLabels: RpcLabel[] = ["grpc_service", "grpc_method", "grpc_type"];
    this.#started = new Counter({
      name: metricNames.rpcStarted,
      help: "RPCs started on the server, by service, method and type.",
      labelNames: rpcLabels,
      registers,
    });
    this.#handled = new Counter({
      name: metricNames.rpcHandled,
      help: "RPCs completed on the server, by service, method, type and gRPC code (OK for success).",
      labelNames: [...rpcLabels, "grpc_code"],
      registers,
    });
    this.#handling = new Histogram({
      name: metricNames.rpcHandling,
      help: "Time from the start of an RPC to its answer (unary) or the end of its stream, in seconds.",
      labelNames: rpcLabels,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const build = options.build ?? { service: "hexa", version: "dev" };
    new Gauge({
      name: metricNames.buildInfo,
      help: "Always 1; the labels name the build: its version, the app and the Node.js version.",
      labelNames: ["version", "service", "node_version"],
      registers,
    }).set({ version: build.version, service: build.service, node_version: process.versions.node }, 1);
    const sources = () => this.#sources;
    let busSample: Promise<BusMetrics | undefined> | undefined;
    // Both bus gauges come from one read of the bus per scrape.
    const busMetrics = () => {
      const read = sources().bus;
      if (!read) return Promise.resolve(undefined);
      busSample ??= sample("bus", read).finally(() => {
        setImmediate(() => {
          busSample = undefined;
        });
      });
      return busSample;
    };
    new Gauge({
      name: metricNames.consumerPending,
      help: "Messages not yet delivered to a durable consumer (JetStream num_pending; events in hand on the embedded bus).",
      labelNames: ["consumer"],
      registers,
      async collect() {
        const bus = await busMetrics();
        this.reset();
        for (const consumer of bus?.consumers ?? []) this.set({ consumer: consumer.name }, consumer.pending);
      },
    });
    new Gauge({
      name: metricNames.deadLetters,
      help: "Dead letters waiting for a replay, by consumer.",
      labelNames: ["consumer"],
      registers,
      async collect() {
        const bus = await busMetrics();
        this.reset();
        for (const entry of bus?.deadLetters ?? []) this.set({ consumer: entry.consumer }, entry.count);
      },
    });
    new Gauge({
      name: metricNames.outboxBacklog,
      help: "Outbox rows committed but not yet published to the bus, by service schema.",
      labelNames: ["schema"],
      registers,
      async collect() {
        const outboxes = sources().outboxes ?? [];
        const counts = await Promise.all(
          outboxes.map((outbox) => sample(`outbox ${outbox.schema}`, () => outbox.unpublished())),
        );
        this.reset();
        outboxes.forEach((outbox, index) => {
          const count = counts[index];
          if (count !== undefined) this.set({ schema: outbox.schema }, count);
        });
      },
    });
    new Gauge({
      name: metricNames.busConnected,
      help: "1 while the event bus takes publishes, 0 while it does not (the outbox holds the events).",
      registers,
      async collect() {
        const read = sources().busConnected;
        const connected = read ? await sample("bus connected", read) : undefined;
        this.reset();
        if (connected !== undefined) this.set(connected ? 1 : 0);
      },
    });
    new Gauge({
      name: metricNames.breakerState,
      help: "Circuit breaker state of each call policy: 0 closed, 1 half-open, 2 open.",
      labelNames: ["policy"],
      registers,
      collect() {
        this.reset();
        for (const breaker of sources().breakers?.() ?? []) {
          this.set({ policy: breaker.name }, breakerStateValue[breaker.state]);
        }
      },
    });
  }

  /** Where the sampled gauges read from; set once the services are started. */
  sample(sources: MetricSources): void {
    this.#sources = sources;
  }

  /**
   * Counts every application RPC: its start, its code, and its duration until the answer (unary)
   * or the end of the stream. `exemptServices` (health, reflection) are not counted.
   */
  interceptor(exemptServices: ReadonlySet<string> = new Set()): Interceptor {
    return (next) => async (req) => {
      if (exemptServices.has(req.service.typeName)) return next(req);
      const labels = {
        grpc_service: req.service.typeName,
        grpc_method: req.method.name,
        grpc_type: grpcTypes[req.method.methodKind],
      };
      this.#started.inc(labels);
      const started = performance.now();
      const finish = (error?: unknown) => {
        const code = error === undefined ? undefined : ConnectError.from(error).code;
        this.#handled.inc({ ...labels, grpc_code: grpcCodeName(code) });
        this.#handling.observe(labels, (performance.now() - started) / 1_000);
      };
      try {
        const res = await next(req);
        if (!res.stream) {
          finish();
          return res;
        }
        return { ...res, message: observeIterable(res.message, finish) } satisfies StreamResponse;
      } catch (error) {
        finish(error);
        throw error;
      }
    };
  }

  /** Answers `GET /metrics` with the text exposition; false (untouched) for any other request. */
  handle(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): boolean {
    const path = (req.url ?? "").split("?")[0];
    if (path !== METRICS_PATH || (req.method !== "GET" && req.method !== "HEAD")) return false;
    // Both response kinds share this part of the API; the union's overloads do not unify in types.
    const out = res as ServerResponse;
    const send = (status: number, contentType: string, text: string) => {
      const bytes = Buffer.from(text);
      out.writeHead(status, {
        "content-type": contentType,
        "content-length": String(bytes.byteLength),
        "cache-control": "no-store",
      });
      out.end(req.method === "HEAD" ? undefined : bytes);
    };
    this.registry.metrics().then(
      (body) => send(200, this.registry.contentType, body),
      () => send(500, "text/plain", "metrics unavailable\n"),
    );
    return true;
  }
}

type RpcLabel = "grpc_service" | "grpc_method" | "grpc_type";

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
