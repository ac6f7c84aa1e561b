/**
 * The consumer side: a pact per consumer-provider pair, written to contracts/pacts/ when its tests
 * pass. One consumer test file owns each pair's file and starts it afresh, so an interaction
 * removed from the tests leaves the pact too.
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type DescMessage, fromJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import type { EventEnvelope } from "@hexa/adapters/messaging/bus";
import { encodeEvent } from "@hexa/adapters/messaging/encoding";
import { PactV4, SpecificationVersion } from "@pact-foundation/pact";
import { type EnvelopeExample, envelopeFromMessage, eventDescription, eventMetadata } from "./messages.ts";
import { pactFileName, pactsDir } from "./paths.ts";

/** A fixed, readable example UUID (a pact file must not change from run to run). */
export function exampleId(n: number): string {
  return `01970000-0000-7000-8000-${n.toString(16).padStart(12, "0")}`;
}

/** The example time of events in pacts, as protobuf JSON writes a Timestamp. */
export const EXAMPLE_TIME = "2025-06-02T09:30:00Z";

/** A pact between two services, named as the deployed services are (their module names). */
export function consumerPact(consumer: string, provider: string): PactV4 {
  rmSync(join(pactsDir, pactFileName(consumer, provider)), { force: true });
  return new PactV4({
    consumer,
    provider,
    dir: pactsDir,
    spec: SpecificationVersion.SPECIFICATION_VERSION_V4,
    logLevel: "error",
  });
}

/**
 * An event a consumer test sets its own state up with, outside any pact: the proto message as
 * the consumer knows it, in an envelope of its own.
 */
export function setUpEvent<Desc extends DescMessage>(
  schema: Desc,
  aggregateId: string,
  init: MessageInitShape<Desc>,
): EventEnvelope {
  const event = { id: randomUUID(), type: schema.typeName, aggregateId, occurredAt: new Date() };
  return encodeEvent(event, schema, init);
}

/** One event a consumer expects: its proto message, and the fields it relies on (with matchers). */
export interface ExpectedEvent extends EnvelopeExample {
  readonly schema: DescMessage;
  /** Protobuf JSON field names (lowerCamelCase) mapped to matchers or exact values. */
  readonly body: Readonly<Record<string, unknown>>;
}

/**
 * Adds the expectation of one event to `pact`, then hands the example message to `handle` as the
 * bus would deliver it. The expectation names proto fields only: a misspelt field fails here, not
 * in a provider's verification.
 */
export async function receivesEvent(
  pact: PactV4,
  event: ExpectedEvent,
  handle: (envelope: EventEnvelope) => Promise<void>,
): Promise<void> {
  const fields = new Set(event.schema.fields.map((field) => field.jsonName));
  const unknown = Object.keys(event.body).filter((name) => !fields.has(name));
  if (unknown.length > 0) {
    throw new Error(`${event.schema.typeName} has no field(s) ${unknown.join(", ")}`);
  }
  await pact
    .addAsynchronousInteraction()
    .expectsToReceive(eventDescription(event.schema.typeName), (message) =>
      message.withJSONContent(event.body).withMetadata(eventMetadata(event.schema, event)),
    )
    .executeTest(async (message) => {
      const envelope = envelopeFromMessage(message);
      // The example itself must be valid protobuf JSON of the message, with no unknown field.
      fromJsonString(event.schema, envelope.payload);
      await handle(envelope);
    });
}
