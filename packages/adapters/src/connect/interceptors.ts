/**
 * Server interceptors shared by every service: typed domain errors become Connect errors with
 * detail messages, unexpected errors become a bare INTERNAL, each call is logged as one line, and
 * an optional server-side deadline bounds unary application calls.
 *
 * In an interceptor array the first entry is the outermost layer, so the order
 * `[loggingInterceptor, errorMappingInterceptor, ...]` logs the code the caller really receives.
 */
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextKey,
  type Interceptor,
  type StreamResponse,
} from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { DomainError, FailedPrecondition, InvalidArgument, NotFound, Unavailable } from "@hexa/core/shared";
import {
  FieldViolationSchema,
  PreconditionFailureSchema,
  ResourceInfoSchema,
  RetryInfoSchema,
} from "@hexa/proto/hexa/common/v1/errors_pb";
import type { Logger } from "pino";
import { isDatabaseUnreachable } from "../postgres/database.ts";

/** The message every unexpected failure is answered with: nothing about the cause leaves the process. */
export const INTERNAL_ERROR_MESSAGE = "internal error";

/**
 * Maps a typed domain error to the Connect error a caller receives: the matching code, a message
 * naming the field or rule, and a detail message from `hexa.common.v1` a client can decode.
 */
export function domainErrorToConnectError(error: DomainError): ConnectError {
  if (error instanceof InvalidArgument) {
    return new ConnectError(`${error.field}: ${error.description}`, Code.InvalidArgument, undefined, [
      { desc: FieldViolationSchema, value: { field: error.field, description: error.description } },
    ]);
  }
  if (error instanceof FailedPrecondition) {
    return new ConnectError(`${error.rule}: ${error.description}`, Code.FailedPrecondition, undefined, [
      { desc: PreconditionFailureSchema, value: { rule: error.rule, description: error.description } },
    ]);
  }
  if (error instanceof NotFound) {
    return new ConnectError(
      `${error.resourceType} ${error.resourceId} was not found`,
      Code.NotFound,
      undefined,
      [
        {
          desc: ResourceInfoSchema,
          value: { resourceType: error.resourceType, resourceId: error.resourceId },
        },
      ],
    );
  }
  if (error instanceof Unavailable && error.retry) {
    const { rule, afterMs } = error.retry;
    // Retry-After travels as a response header (Connect, gRPC-Web) or in the metadata (gRPC).
    return new ConnectError(
      error.message,
      Code.Unavailable,
      { "retry-after": String(Math.ceil(afterMs / 1000)) },
      [{ desc: RetryInfoSchema, value: { rule, description: error.description, retryAfterMs: afterMs } }],
    );
  }
  switch (error.kind) {
    case "ResourceExhausted":
      return new ConnectError(error.message, Code.ResourceExhausted);
    case "Unavailable":
      return new ConnectError(error.message, Code.Unavailable);
    case "PermissionDenied":
      return new ConnectError(error.message, Code.PermissionDenied);
    default:
      // A DomainError subclass outside the known kinds: treat as a programming error.
      return new ConnectError(INTERNAL_ERROR_MESSAGE, Code.Internal);
  }
}

/**
 * Turns anything a handler threw into what the caller may see. ConnectErrors pass through,
 * domain errors are mapped, a failure caused by the call being cancelled stays "canceled", and
 * everything else is logged with its stack and answered with a generic INTERNAL.
 */
export function toCallError(
  error: unknown,
  procedure: string,
  signal: AbortSignal,
  logger: Logger,
): ConnectError {
  if (error instanceof ConnectError) {
    return error;
  }
  if (error instanceof DomainError) {
    return domainErrorToConnectError(error);
  }
  if (signal.aborted) {
    // The caller went away or its deadline passed; the handler merely noticed.
    const reason = signal.reason;
    logger.debug({ procedure, err: error }, "handler stopped after the call was aborted");
    return reason instanceof ConnectError ? reason : new ConnectError("call was canceled", Code.Canceled);
  }
  if (isDatabaseUnreachable(error)) {
    logger.warn({ procedure, err: error }, "database unreachable");
    return domainErrorToConnectError(new Unavailable("the database is unreachable right now, retry later"));
  }
  logger.error({ procedure, err: error }, "unexpected error in handler");
  return new ConnectError(INTERNAL_ERROR_MESSAGE, Code.Internal);
}

/** Maps errors thrown by handlers (unary and streaming) with {@link toCallError}. */
export function errorMappingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = procedureOf(req);
    const map = (error: unknown) => toCallError(error, procedure, req.signal, logger);
    try {
      const res = await next(req);
      if (!res.stream) {
        return res;
      }
      return { ...res, message: mapIterableErrors(res.message, map) } satisfies StreamResponse;
    } catch (error) {
      throw map(error);
    }
  };
}

/**
 * Shared between the logging interceptor and the server: whoever finishes a call first writes
 * its line, so a call is logged exactly once, also when it is refused before any interceptor runs
 * (malformed body, server busy).
 */
export interface CallLogState {
  logged: boolean;
}

/** Context key under which the server puts each call's {@link CallLogState}. */
export const callLogStateKey = createContextKey<CallLogState | undefined>(undefined, {
  description: "hexa call log state",
});

export interface LoggingInterceptorOptions {
  /** Services whose calls are logged at debug level (health checks, reflection): probe noise. */
  readonly quietServices?: ReadonlySet<string>;
}

/**
 * One JSON line per call: procedure, protocol, code ("ok" or the Connect code name) and
 * duration in milliseconds. Request bodies and headers (Authorization included) are never logged.
 */
export function loggingInterceptor(logger: Logger, options: LoggingInterceptorOptions = {}): Interceptor {
  const quiet = options.quietServices ?? new Set<string>();
  return (next) => async (req) => {
    const started = performance.now();
    const procedure = procedureOf(req);
    const finish = (error?: unknown) =>
      logCall(logger, {
        procedure,
        protocol: protocolOf(req.header),
        started,
        error,
        quiet: quiet.has(req.service.typeName),
        state: req.contextValues.get(callLogStateKey),
      });
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

export interface CallLogLine {
  readonly procedure: string;
  readonly protocol: string;
  /** `performance.now()` when the call began. */
  readonly started: number;
  /** What the call failed with; undefined for success. */
  readonly error?: unknown;
  readonly quiet: boolean;
  readonly state: CallLogState | undefined;
}

/** Writes the one line of a call, unless it was written already. */
export function logCall(logger: Logger, line: CallLogLine): void {
  if (line.state) {
    if (line.state.logged) {
      return;
    }
    line.state.logged = true;
  }
  const durationMs = Math.round((performance.now() - line.started) * 10) / 10;
  const fields: Record<string, unknown> = { procedure: line.procedure, protocol: line.protocol };
  let level: "debug" | "info" | "error" = line.quiet ? "debug" : "info";
  if (line.error === undefined) {
    fields.code = "ok";
  } else {
    const error = callErrorOf(line.error);
    fields.code = codeToString(error.code);
    fields.error = error.rawMessage;
    if (!line.quiet && serverFaults.has(error.code)) {
      level = "error";
    }
  }
  fields.durationMs = durationMs;
  logger[level](fields, "rpc");
}

const serverFaults = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

/** The error a caller receives for a failure the handler pipeline ended with. */
function callErrorOf(error: unknown): ConnectError {
  if (error instanceof ConnectError) {
    return error;
  }
  if (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError")) {
    return new ConnectError("call was canceled", Code.Canceled);
  }
  return new ConnectError(INTERNAL_ERROR_MESSAGE, Code.Internal);
}

export interface DeadlineInterceptorOptions {
  readonly timeoutMs: number;
  /** Services the deadline does not apply to (long-lived streams such as health Watch). */
  readonly exemptServices?: ReadonlySet<string>;
}

/**
 * Bounds every unary call by a server-side deadline: the handler's signal aborts and the caller
 * receives DEADLINE_EXCEEDED once `timeoutMs` has passed. Streaming calls only get the signal.
 */
export function deadlineInterceptor(options: DeadlineInterceptorOptions): Interceptor {
  const exempt = options.exemptServices ?? new Set<string>();
  return (next) => async (req) => {
    if (exempt.has(req.service.typeName)) {
      return next(req);
    }
    const expired = new AbortController();
    const timer = setTimeout(() => {
      expired.abort(
        new ConnectError(`request timed out after ${options.timeoutMs} ms`, Code.DeadlineExceeded),
      );
    }, options.timeoutMs);
    const signal = AbortSignal.any([req.signal, expired.signal]);
    if (req.stream) {
      let res: Awaited<ReturnType<typeof next>>;
      try {
        res = await next({ ...req, signal });
      } catch (error) {
        clearTimeout(timer);
        throw error;
      }
      if (!res.stream) {
        clearTimeout(timer);
        return res;
      }
      return {
        ...res,
        message: observeIterable(res.message, () => clearTimeout(timer)),
      } satisfies StreamResponse;
    }
    try {
      return await Promise.race([next({ ...req, signal }), rejectWhenAborted(expired.signal)]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** `/package.Service/Method`, the path every protocol uses for a procedure. */
export function procedureOf(req: {
  readonly service: { readonly typeName: string };
  readonly method: { readonly name: string };
}): string {
  return `/${req.service.typeName}/${req.method.name}`;
}

/** Which of the three protocols a request used, from its content type. */
export function protocolOf(header: Headers): "grpc" | "grpc-web" | "connect" {
  const contentType = header.get("content-type") ?? "";
  if (contentType.startsWith("application/grpc-web")) {
    return "grpc-web";
  }
  if (contentType.startsWith("application/grpc")) {
    return "grpc";
  }
  return "connect";
}

/** Gives each call its own log state, so a line is written once whoever sees the end first. */
export function attachCallLogState(values: ContextValues): CallLogState {
  const state: CallLogState = { logged: false };
  values.set(callLogStateKey, state);
  return state;
}

async function* mapIterableErrors<T>(source: AsyncIterable<T>, map: (error: unknown) => ConnectError) {
  try {
    yield* source;
  } catch (error) {
    throw map(error);
  }
}

/** Passes a stream through and reports once how it ended: done, failed, or abandoned by the reader. */
export async function* observeIterable<T>(source: AsyncIterable<T>, finish: (error?: unknown) => void) {
  let ended = false;
  try {
    yield* source;
    ended = true;
    finish();
  } catch (error) {
    ended = true;
    finish(error);
    throw error;
  } finally {
    if (!ended) {
      finish(new ConnectError("call was canceled", Code.Canceled));
    }
  }
}

function rejectWhenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
