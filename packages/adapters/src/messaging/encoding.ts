import {
  create,
  type DescMessage,
  fromJsonString,
  type MessageInitShape,
  type MessageShape,
  toJsonString,
} from "@bufbuild/protobuf";
import { DomainError } from "@hexa/core/shared";
import type { EventEnvelope } from "./bus.ts";

/** Builds the envelope of a domain event published as the proto message `schema` (protobuf JSON). */
export function encodeEvent<Desc extends DescMessage>(
  event: { id: string; type: string; aggregateId: string; occurredAt: Date },
  schema: Desc,
  init: MessageInitShape<Desc>,
): EventEnvelope {
  if (schema.typeName !== event.type) throw new Error(`event ${event.type} encoded as ${schema.typeName}`);
  return {
    id: event.id,
    type: event.type,
    aggregateId: event.aggregateId,
    occurredAt: event.occurredAt.toISOString(),
    payload: toJsonString(schema, create(schema, init)),
  };
}

/** Reads an envelope's payload as the proto message `schema`; unknown fields from newer publishers are ignored. */
export function decodeEvent<Desc extends DescMessage>(
  schema: Desc,
  event: EventEnvelope,
): MessageShape<Desc> {
  if (event.type !== schema.typeName)
    throw new UndecodableEventError(`expected ${schema.typeName}, got ${event.type}`);
  try {
    return fromJsonString(schema, event.payload, { ignoreUnknownFields: true });
  } catch (error) {
    throw new UndecodableEventError(
      `${event.type} payload: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** An event whose payload is not the message its type names. */
export class UndecodableEventError extends Error {
  override readonly name = "UndecodableEventError";
}

/**
 * True for a failure no retry can cure, so the event is dead-lettered on its first attempt: it
 * cannot be decoded, or its content fails validation (InvalidArgument).
 */
export function isPoison(error: unknown): boolean {
  return (
    error instanceof UndecodableEventError ||
    (error instanceof DomainError && error.kind === "InvalidArgument")
  );
}
