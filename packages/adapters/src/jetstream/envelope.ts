import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import { type EventEnvelope, Headers } from "../messaging/bus.ts";

/**
 * How an envelope travels on NATS: the payload is the message body (UTF-8 bytes of the protobuf
 * JSON), everything else rides in headers (`Headers` in ../messaging/bus.ts), plus `Nats-Msg-Id`
 * (set through the publish options) so the stream drops a repeated publish.
 */

/** Headers a dead letter carries on top of the original message's own. */
export const DeadLetterHeaders = {
  /** Name of the consumer whose last attempt failed (as the application named it). */
  consumer: "Hexa-Dead-Consumer",
  /** The error of the last attempt, on one line, truncated. */
  error: "Hexa-Dead-Error",
  /** How many deliveries the consumer got before giving up. */
  attempts: "Hexa-Dead-Attempts",
  /** The subject the event was published on; a replay publishes there again. */
  subject: "Hexa-Dead-Subject",
  /** RFC 3339 time the message was dead-lettered. */
  at: "Hexa-Dead-At",
} as const;

/** Longest error text kept in a dead letter's header. */
export const maxErrorLength = 2_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The message body of an envelope. */
export function bodyOf(event: EventEnvelope): Uint8Array {
  return encoder.encode(event.payload);
}

/**
 * The headers an envelope travels with. NATS headers are single-line and the client trims their
 * values, so a field with a line break or surrounding whitespace could not arrive as it left: such
 * an envelope is refused here rather than altered silently.
 */
export function headersOf(event: EventEnvelope): MsgHdrs {
  const fields: Array<[string, string, string | undefined]> = [
    ["id", Headers.eventId, event.id],
    ["type", Headers.eventType, event.type],
    ["aggregateId", Headers.aggregateId, event.aggregateId],
    ["occurredAt", Headers.occurredAt, event.occurredAt],
  ];
  if (event.traceparent !== undefined) fields.push(["traceparent", Headers.traceparent, event.traceparent]);
  const headers = natsHeaders();
  for (const [field, header, value] of fields) {
    if (typeof value !== "string" || value.length === 0) {
      throw new Error(`event envelope field "${field}" must be a non-empty string`);
    }
    if (/[\r\n]/.test(value) || value.trim() !== value) {
      throw new Error(
        `event envelope field "${field}" cannot travel in a NATS header (line break or surrounding whitespace): ${JSON.stringify(value)}`,
      );
    }
    headers.set(header, value);
  }
  return headers;
}

/**
 * Rebuilds the envelope a message carries. Throws a `MalformedEventError` naming the missing
 * headers, or when the body is not UTF-8.
 */
export function envelopeOf(headers: MsgHdrs | undefined, body: Uint8Array): EventEnvelope {
  const read = (name: string) => headers?.get(name) ?? "";
  const missing = [Headers.eventId, Headers.eventType, Headers.aggregateId, Headers.occurredAt].filter(
    (name) => read(name) === "",
  );
  if (missing.length > 0) throw new MalformedEventError(`missing header(s) ${missing.join(", ")}`);
  let payload: string;
  try {
    payload = decoder.decode(body);
  } catch {
    throw new MalformedEventError("body is not UTF-8 text");
  }
  const traceparent = read(Headers.traceparent);
  return {
    id: read(Headers.eventId),
    type: read(Headers.eventType),
    aggregateId: read(Headers.aggregateId),
    occurredAt: read(Headers.occurredAt),
    payload,
    ...(traceparent ? { traceparent } : {}),
  };
}

/**
 * The envelope as far as a message carries one: missing headers read as "" and a body that is not
 * UTF-8 is decoded with replacement characters. For showing dead letters, never for handling.
 */
export function envelopeAsFarAsKnown(headers: MsgHdrs | undefined, body: Uint8Array): EventEnvelope {
  const read = (name: string) => headers?.get(name) ?? "";
  const traceparent = read(Headers.traceparent);
  return {
    id: read(Headers.eventId),
    type: read(Headers.eventType),
    aggregateId: read(Headers.aggregateId),
    occurredAt: read(Headers.occurredAt),
    payload: new TextDecoder().decode(body),
    ...(traceparent ? { traceparent } : {}),
  };
}

/** A message that does not carry a usable envelope; it is dead-lettered without being handled. */
export class MalformedEventError extends Error {
  override readonly name = "MalformedEventError";
}

/**
 * A copy of a message's headers for storing or republishing it elsewhere: JetStream's own
 * `Nats-*` headers are dropped (a copied `Nats-Msg-Id` would be deduplicated against the
 * original, a copied expectation would fail), as are the names in `drop`.
 */
export function copyHeaders(source: MsgHdrs | undefined, drop: readonly string[] = []): MsgHdrs {
  const dropped = new Set(drop.map((name) => name.toLowerCase()));
  const copy = natsHeaders();
  if (!source) return copy;
  for (const key of source.keys()) {
    const lower = key.toLowerCase();
    if (lower.startsWith("nats-") || dropped.has(lower)) continue;
    for (const value of source.values(key)) copy.append(key, value);
  }
  return copy;
}

/** Text made fit for one header value: one line, at most `max` characters. */
export function oneLine(text: string, max = maxErrorLength): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 3)}...`;
}

/** The message of whatever a handler threw. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    if (!error.message) return error.name;
    return error.name === "Error" ? error.message : `${error.name}: ${error.message}`;
  }
  return String(error);
}
