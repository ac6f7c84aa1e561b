/**
 * CORS for browsers calling with gRPC-Web or Connect: only the configured origins get CORS
 * headers, and preflight requests are answered here. No origin is allowed by default, so a
 * browser page of any other origin cannot read an answer.
 */
import type http from "node:http";
import type http2 from "node:http2";
import { cors } from "@connectrpc/connect";

const allowMethods = cors.allowedMethods.join(", ");
const allowHeaders = [...cors.allowedHeaders, "Authorization", "Idempotency-Key"].join(", ");
const exposeHeaders = cors.exposedHeaders.join(", ");
const PREFLIGHT_MAX_AGE_S = "7200";

/**
 * Adds CORS headers for an allowed origin; answers a preflight (OPTIONS with
 * Access-Control-Request-Method) itself: 204 for an allowed origin, 403 otherwise. True when the
 * request was answered.
 */
export function handleCors(
  allowedOrigins: ReadonlySet<string>,
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
): boolean {
  const origin = req.headers.origin;
  const allowed = typeof origin === "string" && allowedOrigins.has(origin);
  const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
  if (typeof origin === "string") res.setHeader("Vary", "Origin");
  if (allowed) {
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Access-Control-Expose-Headers", exposeHeaders);
  }
  if (!preflight) return false;
  if (allowed) {
    res.setHeader("Access-Control-Allow-Methods", allowMethods);
    res.setHeader("Access-Control-Allow-Headers", allowHeaders);
    res.setHeader("Access-Control-Max-Age", PREFLIGHT_MAX_AGE_S);
    res.statusCode = 204;
  } else {
    res.statusCode = 403;
  }
  res.end();
  return true;
}
