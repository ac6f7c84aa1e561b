/**
 * Spans of synchronous calls: a SERVER span around every Connect RPC a service handles (child of
 * the caller's `traceparent` header when it sends one), and a CLIENT span around every call a
 * service makes, whose `traceparent` travels in the request headers.
 *
 * Span name `<package>.<Service>/<Method>`; attributes `rpc.system` (`grpc` for gRPC and
 * gRPC-Web, `connect_rpc` for Connect), `rpc.service`, `rpc.method`, and the Connect code as
 * `rpc.connect_rpc.error_code` (a failure) and `rpc.grpc.status_code` (its number, 0 for ok).
 */
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { contextFromHeaders, injectIntoHeaders, TRACER_NAME } from "./tracing.ts";

/** Codes that are the server's fault, so its span is marked ERROR (a client span: any failure). */
const serverFaults: ReadonlySet<Code> = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

export function rpcAttributes(service: string, method: string, system: string): Attributes {
  return { "rpc.system": system, "rpc.service": service, "rpc.method": method };
}

function rpcSystemOf(header: Headers): string {
  return (header.get("content-type") ?? "").startsWith("application/grpc") ? "grpc" : "connect_rpc";
}

/** Ends an RPC span with the call's outcome. */
export function endRpcSpan(span: Span, kind: "server" | "client", error?: unknown): void {
  if (error === undefined) {
    span.setAttribute("rpc.grpc.status_code", 0); // ok
  } else {
    const failure = ConnectError.from(error);
    span.setAttribute("rpc.grpc.status_code", failure.code);
    span.setAttribute("rpc.connect_rpc.error_code", codeToString(failure.code));
    if (kind === "client" || serverFaults.has(failure.code)) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.rawMessage });
    }
  }
  span.end();
}

/**
 * A SERVER span per call, active while the handler runs (its logs, its outbox writes and the
 * calls it makes belong to it). `exemptServices` (health, reflection) get none.
 */
export function tracingInterceptor(exemptServices: ReadonlySet<string> = new Set()): Interceptor {
  return (next) => async (req) => {
    if (exemptServices.has(req.service.typeName)) return next(req);
    const parent = contextFromHeaders(req.header);
    const span = trace.getTracer(TRACER_NAME).startSpan(
      `${req.service.typeName}/${req.method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: rpcAttributes(req.service.typeName, req.method.name, rpcSystemOf(req.header)),
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    try {
      const res = await context.with(active, () => next(req));
      if (!res.stream) {
        endRpcSpan(span, "server");
        return res;
      }
      return {
        ...res,
        message: inContext(res.message, active, (error) => endRpcSpan(span, "server", error)),
      } satisfies StreamResponse;
    } catch (error) {
      endRpcSpan(span, "server", error);
      throw error;
    }
  };
}

/**
 * Runs one outgoing call in a CLIENT span; `call` gets the headers to send, which carry the
 * span's `traceparent`.
 */
export function inClientSpan<T>(
  service: string,
  method: string,
  headers: Headers,
  call: () => Promise<T>,
): Promise<T> {
  const span = trace.getTracer(TRACER_NAME).startSpan(`${service}/${method}`, {
    kind: SpanKind.CLIENT,
    attributes: rpcAttributes(service, method, "connect_rpc"),
  });
  const active = trace.setSpan(context.active(), span);
  injectIntoHeaders(headers, active);
  return context.with(active, call).then(
    (value) => {
      endRpcSpan(span, "client");
      return value;
    },
    (error: unknown) => {
      endRpcSpan(span, "client", error);
      throw error;
    },
  );
}

/**
 * Passes a response stream through with `active` as the context of each step of the handler's
 * generator (which runs as the stream is read, outside the interceptor), and reports once how the
 * stream ended.
 */
async function* inContext<T>(
  source: AsyncIterable<T>,
  active: Context,
  finish: (error?: unknown) => void,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      const step = await context.with(active, () => iterator.next());
      if (step.done) break;
      yield step.value;
    }
    ended = true;
    finish();
  } catch (error) {
    ended = true;
    finish(error);
    throw error;
  } finally {
    if (!ended) {
      await context.with(active, async () => iterator.return?.());
      finish(new ConnectError("call was canceled", Code.Canceled));
    }
  }
}
