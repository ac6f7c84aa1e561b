/**
 * The inbound server of every service: one TCP port serving gRPC (HTTP/2 cleartext), gRPC-Web
 * and Connect (JSON and binary, HTTP/1.1 or HTTP/2) for the same handlers, plus gRPC health,
 * gRPC server reflection and the `/healthz` and `/readyz` probes (and `/metrics` when given).
 *
 * Node's HTTP/2 server does not fall back to HTTP/1.1 on cleartext connections, so a plain TCP
 * listener reads the first bytes of each connection and hands it to an HTTP/2 server when they
 * are the HTTP/2 connection preface, else to an HTTP/1.1 server. Both run the same handler.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "@hexa/proto/grpc/health/v1/health_pb";
import type { Logger } from "pino";
import type { ServiceMetrics } from "../telemetry/metrics.ts";
import { tracingInterceptor } from "../telemetry/rpc.ts";
import { Admission, SERVER_BUSY_MESSAGE } from "./admission.ts";
import { handleCors } from "./cors.ts";
import { handleProbe, healthService, Readiness, type ReadinessCheck } from "./health.ts";
import {
  attachCallLogState,
  deadlineInterceptor,
  errorMappingInterceptor,
  logCall,
  loggingInterceptor,
  procedureOf,
  protocolOf,
} from "./interceptors.ts";
import { mountReflection, reflectionServiceNames } from "./reflection.ts";

export interface ServeOptions {
  /** Interface to bind, e.g. "0.0.0.0" in a container or "127.0.0.1" on a laptop. */
  readonly host: string;
  /** TCP port; 0 picks a free one (see {@link RunningServer.port}). */
  readonly port: number;
  /** Mounts the application's Connect services. */
  readonly routes: (router: ConnectRouter) => void;
  readonly logger: Logger;
  /** What must work for the service to be ready (database, bus). Default: none. */
  readonly readiness?: readonly ReadinessCheck[];
  /**
   * Most application calls handled at once; further calls wait in `queue`, or are refused with
   * RESOURCE_EXHAUSTED. Health, reflection and the probes are never refused. Default 1000.
   */
  readonly maxInFlight?: number;
  /** Calls waiting for a slot beyond `maxInFlight`, each at most `maxWaitMs`. Default: none wait. */
  readonly queue?: { readonly maxQueued: number; readonly maxWaitMs: number };
  /**
   * Procedures only other services call (`/pkg.Service/Method`), admitted in a lane of their own
   * with its own bound (and a queue like the above): shedding end users never sheds the internal
   * calls of end users' calls already admitted. Default: none.
   */
  readonly internalCalls?: { readonly procedures: ReadonlySet<string>; readonly maxInFlight: number };
  /** Concurrent streaming calls (e.g. watchers), counted apart from unary calls. Default: maxInFlight. */
  readonly maxStreams?: number;
  /** Server-side deadline of each unary application call (DEADLINE_EXCEEDED after it). Default none. */
  readonly requestTimeoutMs?: number;
  /**
   * Time between reporting not ready and closing the listener at shutdown, so load balancers
   * (Kubernetes endpoints) stop routing here before connections are refused. Default 0.
   */
  readonly drainDelayMs?: number;
  /** How often readiness checks re-run while a gRPC health Watch is open. Default 5000 ms. */
  readonly readinessPollMs?: number;
  /** A readiness check not answering within this time counts as failing. Default 2000 ms. */
  readonly readinessCheckTimeoutMs?: number;
  /**
   * More interceptors for every call (e.g. authentication), run inside error mapping and
   * logging, so what they throw is mapped and logged like a handler's error.
   */
  readonly interceptors?: readonly Interceptor[];
  /** Largest request message accepted, in bytes; a larger one gets RESOURCE_EXHAUSTED. Default 1 MiB. */
  readonly maxRequestBytes?: number;
  /** Browser origins given CORS headers (gRPC-Web, Connect); preflights are answered. Default none. */
  readonly corsAllowedOrigins?: readonly string[];
  /**
   * Counts every application call, and answers `GET /metrics` beside the probes (so, like them,
   * it needs no credentials). Default: no metrics.
   */
  readonly metrics?: ServiceMetrics;
  /**
   * Plain HTTP routes served beside the RPCs and probes, needing no credentials (documents, static
   * files). Each answers the request and returns true, or returns false to pass it on. Tried in
   * order, after the probes and `/metrics`, before the Connect handler.
   */
  readonly httpRoutes?: readonly HttpRoute[];
}

/** A plain HTTP route: answers the request and returns true, or returns false to leave it to the next. */
export type HttpRoute = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => boolean;

export interface RunningServer {
  /** Base URL clients use, e.g. "http://127.0.0.1:43121". */
  readonly url: string;
  /** The bound port (the chosen one when 0 was asked for). */
  readonly port: number;
  /**
   * Graceful shutdown: readiness turns false (probes 503, gRPC health NOT_SERVING) and every
   * answer from then on moves its client away (HTTP/1.1 `Connection: close`, HTTP/2 GOAWAY), then
   * after `drainDelayMs` the listener stops accepting, in-flight calls finish, idle HTTP/1.1
   * connections and HTTP/2 sessions are closed. Calls still running after `graceMs` have their
   * signal aborted with UNAVAILABLE and their connections are destroyed. Safe to call twice.
   */
  close(graceMs?: number): Promise<void>;
}

export { SERVER_BUSY_MESSAGE } from "./admission.ts";

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
/** A connection that sends nothing this long after opening is dropped. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;
/** After the grace period, how long aborted handlers get to answer before connections are cut. */
const ABORT_ANSWER_MS = 100;

/** Services of the platform itself: never refused for load, logged at debug level. */
const platformServices: ReadonlySet<string> = new Set([Health.typeName, ...reflectionServiceNames]);

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const { logger } = options;
  const maxInFlight = options.maxInFlight ?? 1000;
  const readiness = new Readiness(options.readiness ?? [], {
    pollMs: options.readinessPollMs,
    checkTimeoutMs: options.readinessCheckTimeoutMs,
  });
  const shutdown = new AbortController();
  // Streaming calls (watchers) are long-lived: they have a limit of their own, so they never take
  // the slots of unary calls, and they end as soon as shutdown begins, so they never hold it up.
  const streamsClosing = new AbortController();
  const maxStreams = options.maxStreams ?? maxInFlight;
  const queue = options.queue ?? { maxQueued: 0, maxWaitMs: 0 };
  const calls = new Admission({ maxInFlight, ...queue });
  const internalProcedures = options.internalCalls?.procedures ?? new Set<string>();
  const internalCalls = new Admission({ maxInFlight: options.internalCalls?.maxInFlight ?? 0, ...queue });
  let streams = 0;

  /**
   * Runs for every call before its body is read: opens the call's log line (so calls refused
   * before any interceptor runs are logged too) and admits application calls (or refuses them).
   */
  const requestGate = (context: HandlerContext): Promise<void> | undefined => {
    const started = performance.now();
    const state = attachCallLogState(context.values);
    const quiet = platformServices.has(context.service.typeName);
    context.signal.addEventListener("abort", () => blameUnparseableRequest(context.signal.reason), {
      once: true,
    });
    context.signal.addEventListener(
      "abort",
      () =>
        logCall(logger, {
          procedure: procedureOf(context),
          protocol: protocolOf(context.requestHeader),
          started,
          error: context.signal.reason,
          quiet,
          state,
        }),
      { once: true },
    );
    if (quiet) {
      return;
    }
    if (context.method.methodKind !== "unary") {
      if (streams >= maxStreams) throw new ConnectError(SERVER_BUSY_MESSAGE, Code.ResourceExhausted);
      streams++;
      context.signal.addEventListener("abort", () => streams--, { once: true });
      return;
    }
    // The slot is freed when the call ends for the caller (answered, cancelled, timed out); a
    // handler that ignores its signal may briefly run on past that.
    const lane = internalProcedures.has(procedureOf(context)) ? internalCalls : calls;
    return lane.enter(context.signal);
  };

  const interceptors: Interceptor[] = [
    // Outermost: the span is active while the call is logged, and the metrics see the final code.
    tracingInterceptor(platformServices),
    ...(options.metrics ? [options.metrics.interceptor(platformServices)] : []),
    loggingInterceptor(logger, { quietServices: platformServices }),
    errorMappingInterceptor(logger),
  ];
  if (options.requestTimeoutMs !== undefined) {
    interceptors.push(
      deadlineInterceptor({ timeoutMs: options.requestTimeoutMs, exemptServices: platformServices }),
    );
  }
  interceptors.push(streamsEndAtShutdown(streamsClosing.signal));
  interceptors.push(...(options.interceptors ?? []));

  const connectHandler = connectNodeAdapter({
    routes(router) {
      options.routes(router);
      const applicationServices = servicesOf(router).filter(
        (service) => !platformServices.has(service.typeName),
      );
      router.service(
        Health,
        healthService(
          readiness,
          applicationServices.map((service) => service.typeName),
        ),
      );
      mountReflection(router, () => servicesOf(router));
    },
    interceptors,
    requestGate,
    readMaxBytes: options.maxRequestBytes ?? 1_048_576,
    shutdownSignal: shutdown.signal,
    fallback: answerUnimplemented,
  });

  const connections = new ConnectionTracker(logger);
  const corsOrigins: ReadonlySet<string> = new Set(options.corsAllowedOrigins ?? []);
  const onRequest = (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    connections.requestStarted(req, res);
    if (req instanceof http2.Http2ServerRequest && res instanceof http2.Http2ServerResponse) {
      spellGrpcMessageBySpec(req, res);
    }
    if (handleCors(corsOrigins, req, res)) return;
    if (handleProbe(readiness, req, res) || options.metrics?.handle(req, res)) return;
    if (answeredByRoute(options.httpRoutes ?? [], req, res, logger)) return;
    connectHandler(req, res);
  };
  const http1Server = http.createServer(onRequest);
  // The HTTP/1.1 server never listens itself (the TCP listener hands it connections), so it
  // would never start the periodic check that enforces its headersTimeout and requestTimeout.
  // Node starts that check on "listening"; announcing it here turns the protection on.
  http1Server.emit("listening");
  const http2Server = http2.createServer(onRequest);
  http2Server.on("session", (session) => connections.addSession(session));
  http2Server.on("sessionError", (error) => logger.debug({ err: error }, "http2 session error"));

  const listener = net.createServer((socket) => {
    if (!connections.accept(socket)) {
      return;
    }
    routeByFirstBytes(socket, (kind) => {
      connections.handedOver(socket, kind);
      (kind === "http2" ? http2Server : http1Server).emit("connection", socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen({ host: options.host, port: options.port }, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  listener.on("error", (error) => logger.error({ err: error }, "listener error"));

  const port = (listener.address() as net.AddressInfo).port;
  const url = `http://${urlHost(options.host)}:${port}`;
  logger.info({ url, maxInFlight }, "server listening (gRPC, gRPC-Web, Connect)");

  let closing: Promise<void> | undefined;
  const close = (graceMs = 10_000): Promise<void> => {
    closing ??= (async () => {
      const began = performance.now();
      logger.info({ graceMs, drainDelayMs: options.drainDelayMs ?? 0 }, "shutting down: reporting not ready");
      readiness.beginShutdown();
      connections.beginClosing();
      if (options.drainDelayMs) {
        await sleep(options.drainDelayMs);
      }
      streamsClosing.abort(new ConnectError("server is shutting down; reconnect", Code.Unavailable));
      const listenerClosed = new Promise<void>((resolve) => listener.close(() => resolve()));
      const drained = connections.drain();
      if (!(await settlesWithin(drained, graceMs))) {
        logger.warn({ graceMs }, "grace period over: aborting calls still running");
        shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
        await settlesWithin(drained, ABORT_ANSWER_MS);
        connections.destroyAll();
        await drained;
      }
      await listenerClosed;
      http1Server.close(); // stops its timeout check; it holds no connection any more
      logger.info({ durationMs: Math.round(performance.now() - began) }, "server closed");
    })();
    return closing;
  };

  return { url, port, close };
}

/** Whether one of `routes` took the request; a route that throws is logged and answered 500. */
function answeredByRoute(
  routes: readonly HttpRoute[],
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
  logger: Logger,
): boolean {
  try {
    return routes.some((route) => route(req, res));
  } catch (error) {
    logger.error({ err: error, path: req.url }, "http route failed");
    if (!res.headersSent) (res as http.ServerResponse).writeHead(500, { "content-type": "text/plain" });
    res.end("internal error\n");
    return true;
  }
}

/**
 * The gRPC spec percent-encodes only the bytes of `grpc-message` outside 0x20-0x7E, and "%".
 * connect-es encodes it like a URI component (":" becomes "%3A"), which @grpc/grpc-js decodes
 * with `decodeURI`, leaving "%3A" in the message its callers see. Re-spelling the trailer by the
 * spec reads right in every client: connect-es decodes either spelling.
 */
function spellGrpcMessageBySpec(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  const contentType = req.headers["content-type"] ?? "";
  if (!contentType.startsWith("application/grpc") || contentType.startsWith("application/grpc-web")) {
    return;
  }
  const addTrailers = res.addTrailers.bind(res);
  res.addTrailers = (trailers) => {
    const message = trailers["grpc-message"];
    if (typeof message === "string") {
      trailers["grpc-message"] = grpcPercentEncode(percentDecode(message));
    }
    addTrailers(trailers);
  };
}

function grpcPercentEncode(text: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * What no route serves (an unknown service or method, any other path) is answered UNIMPLEMENTED in
 * the caller's protocol, naming the path, instead of connect-es's bare 404: a Connect error body
 * for Connect and plain HTTP callers, a trailers-only gRPC status for gRPC and gRPC-Web.
 */
const answerUnimplemented: NonNullable<ConnectNodeAdapterOptions["fallback"]> = (req, res) => {
  const path = (req.url ?? "").split("?")[0] ?? "";
  const error = new ConnectError(`no procedure ${path} here`, Code.Unimplemented);
  const out = res as http.ServerResponse;
  const contentType = req.headers["content-type"] ?? "";
  if (contentType.startsWith("application/grpc")) {
    const status = {
      "content-type": contentType.split(";")[0] ?? "application/grpc",
      "grpc-status": String(Code.Unimplemented),
      "grpc-message": grpcPercentEncode(error.rawMessage),
    };
    // gRPC's trailers-only answer: one HEADERS frame that ends the stream.
    if (res instanceof http2.Http2ServerResponse)
      res.stream.respond({ ":status": 200, ...status }, { endStream: true });
    else out.writeHead(200, status).end();
    return;
  }
  const body = errorToJsonBytes(error, {});
  out.writeHead(codeToHttpStatus(Code.Unimplemented), {
    "content-type": "application/json",
    "content-length": String(body.byteLength),
  });
  out.end(body);
};

/**
 * connect-es answers a request body that is not valid protobuf binary with INTERNAL, as if the
 * server had failed. The caller sent it, so it is answered INVALID_ARGUMENT, like malformed JSON.
 * Runs while the call is aborted with the error, before the answer is written.
 */
function blameUnparseableRequest(reason: unknown): void {
  if (
    reason instanceof ConnectError &&
    reason.code === Code.Internal &&
    reason.rawMessage.startsWith("parse binary:")
  ) {
    (reason as { code: Code }).code = Code.InvalidArgument;
  }
}

/** Distinct services mounted on a router, in mounting order. */
function servicesOf(router: ConnectRouter): DescService[] {
  return [...new Set(router.handlers.map((handler) => handler.service))];
}

/**
 * Reads until the first bytes tell HTTP/2 (the connection preface) from HTTP/1.x, puts them back
 * into the socket, and hands the socket over.
 */
function routeByFirstBytes(socket: net.Socket, handOver: (kind: "http1" | "http2") => void): void {
  let received: Buffer = Buffer.alloc(0);
  const drop = () => socket.destroy();
  const onData = (chunk: Buffer) => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    const compared = Math.min(received.length, HTTP2_PREFACE.length);
    const matches = received.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
    if (matches && compared < HTTP2_PREFACE.length) {
      return; // could still be either: wait for more bytes
    }
    socket.off("data", onData);
    socket.off("error", drop);
    socket.off("timeout", drop);
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(received);
    const kind = matches ? "http2" : "http1";
    handOver(kind);
    if (kind === "http1") {
      socket.resume();
    }
  };
  socket.on("data", onData);
  socket.on("error", drop);
  socket.on("timeout", drop);
  socket.setTimeout(FIRST_BYTES_TIMEOUT_MS);
}

interface Http1Connection {
  active: number;
  /** Responses not finished yet. */
  readonly responses: Set<http.ServerResponse>;
}

/**
 * Knows every open connection and what runs on it, so shutdown can move clients away while it
 * still serves ({@link beginClosing}), then close idle connections at once and busy ones as soon as
 * their calls finish ({@link drain}).
 */
class ConnectionTracker {
  readonly #logger: Logger;
  readonly #sockets = new Set<net.Socket>();
  readonly #http1 = new Map<net.Socket, Http1Connection>();
  readonly #http2 = new Set<net.Socket>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  #closing = false;
  #draining = false;
  #drained: (() => void) | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Registers a new connection; false (and the connection is dropped) once draining. */
  accept(socket: net.Socket): boolean {
    if (this.#draining) {
      socket.destroy();
      return false;
    }
    this.#sockets.add(socket);
    socket.once("close", () => {
      this.#sockets.delete(socket);
      this.#http1.delete(socket);
      this.#http2.delete(socket);
      this.#checkDrained();
    });
    return true;
  }

  handedOver(socket: net.Socket, kind: "http1" | "http2"): void {
    if (kind === "http1") {
      this.#http1.set(socket, { active: 0, responses: new Set() });
    } else {
      this.#http2.add(socket);
    }
  }

  addSession(session: http2.ServerHttp2Session): void {
    this.#sessions.add(session);
    session.once("close", () => this.#sessions.delete(session));
    if (this.#draining) {
      session.close();
    }
  }

  requestStarted(
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ): void {
    if ("stream" in req) {
      // HTTP/2: a session opened while closing is sent GOAWAY once its first call is answered; the
      // graceful close waits for its streams.
      const session = req.stream.session;
      if (this.#closing && session) res.once("close", () => session.close());
      return;
    }
    const socket = req.socket;
    const connection = this.#http1.get(socket);
    if (!connection) {
      return;
    }
    const response = res as http.ServerResponse;
    connection.active++;
    connection.responses.add(response);
    if (this.#closing) {
      response.shouldKeepAlive = false;
    }
    res.once("close", () => {
      connection.active--;
      connection.responses.delete(response);
      if (this.#draining && connection.active === 0) {
        socket.destroySoon();
      }
    });
  }

  /**
   * From now on (the start of the drain, while still serving) every answer moves its client away:
   * HTTP/1.1 answers carry `Connection: close` and their connection closes after them, HTTP/2
   * sessions get GOAWAY (their streams finish). A client behind a Service then opens its next
   * connection to another replica, instead of reusing one that the end of the drain would cut.
   */
  beginClosing(): void {
    this.#closing = true;
    for (const connection of this.#http1.values()) {
      for (const response of connection.responses) {
        if (!response.headersSent) response.shouldKeepAlive = false;
      }
    }
    for (const session of this.#sessions) {
      session.close();
    }
  }

  /** Closes idle connections now and the others when their calls end; resolves when none is left. */
  drain(): Promise<void> {
    this.#closing = true;
    this.#draining = true;
    const done = new Promise<void>((resolve) => {
      this.#drained = resolve;
    });
    for (const socket of this.#sockets) {
      const connection = this.#http1.get(socket);
      if (connection) {
        if (connection.active === 0) {
          socket.destroySoon();
        }
      } else if (!this.#http2.has(socket)) {
        socket.destroy(); // still waiting for its first bytes
      }
    }
    for (const session of this.#sessions) {
      session.close();
    }
    this.#logger.debug(
      { connections: this.#sockets.size, http2Sessions: this.#sessions.size },
      "draining connections",
    );
    this.#checkDrained();
    return done;
  }

  destroyAll(): void {
    for (const session of this.#sessions) {
      session.destroy();
    }
    for (const socket of this.#sockets) {
      socket.destroy();
    }
  }

  #checkDrained(): void {
    if (this.#draining && this.#sockets.size === 0) {
      this.#drained?.();
    }
  }
}

/** A host to reach a listener on from this machine: a wildcard address becomes the loopback. */
export function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "") {
    return "127.0.0.1";
  }
  if (host === "::") {
    return "[::1]";
  }
  return net.isIPv6(host) ? `[${host}]` : host;
}

/** True when `promise` settles within `ms`; the timer never outlives the answer. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Gives streaming application calls a signal that also fires when shutdown begins. */
function streamsEndAtShutdown(closing: AbortSignal): Interceptor {
  return (next) => (req) =>
    req.method.methodKind === "unary" || platformServices.has(req.service.typeName)
      ? next(req)
      : next({ ...req, signal: AbortSignal.any([req.signal, closing]) });
}
