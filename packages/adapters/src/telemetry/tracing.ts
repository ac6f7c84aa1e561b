/**
 * OpenTelemetry tracing of the platform: the tracer provider an app sets up at start, and the
 * helpers every adapter uses to open spans and carry W3C trace context (`traceparent`) across
 * calls and events.
 *
 * The provider is configured by the standard variables: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * (or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`) for the OTLP/HTTP exporter,
 * `OTEL_SERVICE_NAME` (default: the app's name), `OTEL_TRACES_SAMPLER` and
 * `OTEL_TRACES_SAMPLER_ARG`. Without an endpoint nothing is registered: the API's no-op tracer
 * answers every span request, so tracing costs next to nothing.
 *
 * With a provider, every SQL statement sent through `pg` (MikroORM's driver) inside a span gets a
 * CLIENT span of its own, by `@opentelemetry/instrumentation-pg` applied to the one `pg` module of
 * the process (the ESM import is not seen by the instrumentation's require hook, so it is patched
 * directly rather than through a loader hook).
 */
import {
  type Attributes,
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  type SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import pg from "pg";

/** Name of the instrumentation scope every span of the platform is created under. */
export const TRACER_NAME = "hexa";

export const samplerNames = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;

export type SamplerName = (typeof samplerNames)[number];

export interface TracingOptions {
  /** `service.name` of every span; `OTEL_SERVICE_NAME` when set, else the app's name. */
  readonly serviceName: string;
  /** Full URL spans are POSTed to (OTLP/HTTP protobuf). */
  readonly endpoint?: string | undefined;
  /** Default `parentbased_always_on`. */
  readonly sampler?: SamplerName | undefined;
  /** Ratio of the `*traceidratio` samplers, 0 to 1. Default 1. */
  readonly samplerArg?: number | undefined;
  /** Spans go here instead of OTLP, each as it ends (tests use an in-memory exporter). */
  readonly exporter?: SpanExporter | undefined;
}

export interface Tracing {
  /** False when no exporter was configured: spans are the API's no-op ones. */
  readonly enabled: boolean;
  /** Exports the spans still buffered, then stops the provider. Safe to call twice. */
  shutdown(): Promise<void>;
}

/** The traces endpoint the standard variables name, or undefined (tracing off). */
export function otlpTracesEndpoint(env: {
  readonly OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  readonly OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string | undefined;
}): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT)
    return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`;
  return undefined;
}

/**
 * Registers a tracer provider (with the AsyncLocalStorage context manager) as the process's
 * global one, and instruments `pg`, when an endpoint or an exporter is given; otherwise
 * registers nothing.
 */
export function startTracing(options: TracingOptions): Tracing {
  let processor: SpanProcessor;
  if (options.exporter) processor = new SimpleSpanProcessor({ exporter: options.exporter });
  else if (options.endpoint)
    processor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: options.endpoint }) });
  else return { enabled: false, shutdown: async () => {} };
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName }),
    sampler: samplerOf(options.sampler ?? "parentbased_always_on", options.samplerArg ?? 1),
    spanProcessors: [processor],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  const sql = instrumentPg(provider);
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    shutdown: () => {
      stopped ??= provider.shutdown().finally(() => {
        sql.remove();
        trace.disable();
        context.disable();
      });
      return stopped;
    },
  };
}

/**
 * Spans of SQL statements: patches `pg.Client` (shared by every pool of the process) with the
 * standard pg instrumentation. Only statements inside a span are traced (`requireParentSpan`),
 * so pool housekeeping and background polls outside any unit of work add no root spans.
 */
function instrumentPg(provider: TracerProvider): { remove(): void } {
  const instrumentation = new PgInstrumentation({ enabled: false, requireParentSpan: true });
  instrumentation.setTracerProvider(provider);
  const definition = instrumentation.getModuleDefinitions().find((module) => module.name === "pg");
  definition?.patch?.(pg);
  return { remove: () => definition?.unpatch?.(pg) };
}

export function samplerOf(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

const w3c = new W3CTraceContextPropagator();

const headersGetter: TextMapGetter<Headers> = {
  keys: (carrier) => [...carrier.keys()],
  get: (carrier, key) => carrier.get(key) ?? undefined,
};

const headersSetter: TextMapSetter<Headers> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

const recordGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

const recordSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The context a caller's `traceparent` (and `tracestate`) header continues; ROOT when none. */
export function contextFromHeaders(headers: Headers): Context {
  return w3c.extract(ROOT_CONTEXT, headers, headersGetter);
}

/** Writes the active span's `traceparent` (and `tracestate`) into outgoing request headers. */
export function injectIntoHeaders(headers: Headers, from: Context = context.active()): void {
  w3c.inject(from, headers, headersSetter);
}

/** The context an event's `traceparent` continues; ROOT when it has none. */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return w3c.extract(ROOT_CONTEXT, { traceparent }, recordGetter);
}

/** The active span's `traceparent`, or undefined when no span is active (or it is not sampled-valid). */
export function activeTraceparent(): string | undefined {
  if (!trace.getSpanContext(context.active())) return undefined;
  const carrier: Record<string, string> = {};
  w3c.inject(context.active(), carrier, recordSetter);
  return carrier.traceparent;
}

/**
 * Runs `work` in a new span, child of `parent`, active while `work` runs: ended when `work`
 * settles, with status ERROR and the exception recorded when it throws.
 */
export function inSpan<T>(
  name: string,
  options: { kind: SpanKind; attributes?: Attributes; parent?: Context },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  return trace
    .getTracer(TRACER_NAME)
    .startActiveSpan(
      name,
      { kind: options.kind, ...(options.attributes ? { attributes: options.attributes } : {}) },
      parent,
      async (span) => {
        try {
          return await work(span);
        } catch (error) {
          markFailed(span, error);
          throw error;
        } finally {
          span.end();
        }
      },
    );
}

/** Status ERROR and the exception as a span event, unless a status was set already. */
export function markFailed(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/** `trace_id` and `span_id` of the active span, for every log line (a pino mixin); {} when none. */
export function traceLogFields(): Record<string, string> {
  const spanContext = trace.getSpanContext(context.active());
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
