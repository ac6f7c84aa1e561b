/**
 * How an event travels in a pact, on both sides of it. The message is what a consumer receives
 * from the bus: the body is the event's protobuf JSON, the metadata the headers it travels with
 * (`Headers` in @hexa/adapters/messaging/bus). Consumers read a pact's message through the
 * JetStream adapter's own reader (`envelopeOf`); providers write theirs through its own writer
 * (`headersOf`).
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { copyHeaders, envelopeOf, headersOf } from "@hexa/adapters/jetstream/envelope";
import { type EventEnvelope, Headers } from "@hexa/adapters/messaging/bus";
import {
  MatchersV3,
  type MessageProvider,
  type MessageProviders,
  type Metadata,
  providerWithMetadata,
} from "@pact-foundation/pact";

/** An RFC 3339 UTC time as protobuf JSON writes a Timestamp: 0, 3, 6 or 9 fractional digits. */
const RFC3339_UTC = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{3}|\\.\\d{6}|\\.\\d{9})?Z$";

const UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/** The aggregate id of a hospital's stock of a vaccine: `<hospital id>/<vaccine id>`. */
export const STOCK_ID_PATTERN = `^${UUID}/${UUID}$`;

/** The aggregate id of a person's vaccination: the person id, 1 to 64 characters. */
export const PERSON_ID_PATTERN = "^\\S.{0,63}$";

/** A matcher: a "YYYY-MM-DD" day, `example` in the consumer test. */
export function anyDay(example: string) {
  return MatchersV3.regex("^\\d{4}-\\d{2}-\\d{2}$", example);
}

/** A matcher: any UUID, `example` in the consumer test. */
export function anyUuid(example: string) {
  return MatchersV3.uuid(example);
}

/** A matcher: any protobuf JSON timestamp, `example` in the consumer test. */
export function anyTimestamp(example: string) {
  return MatchersV3.regex(RFC3339_UTC, example);
}

/** A matcher: any string, `example` in the consumer test. */
export function anyText(example: string) {
  return MatchersV3.string(example);
}

/** A matcher: any integer, `example` in the consumer test. */
export function anyInteger(example: number) {
  return MatchersV3.integer(example);
}

/** The description of the message carrying one event type; providers look their producer up by it. */
export function eventDescription(eventType: string): string {
  return `a ${eventType} event`;
}

/** What a consumer test's example envelope says besides the payload. */
export interface EnvelopeExample {
  readonly eventId: string;
  readonly aggregateId: string;
  readonly occurredAt: string;
  /**
   * A regular expression the aggregate id matches, for aggregates whose id is not a UUID (a
   * person id, a hospital's stock of a vaccine); any UUID when left out.
   */
  readonly aggregateIdPattern?: string;
}

/**
 * The headers a consumer relies on: the event id (its inbox key), the type (it picks the decoder),
 * the aggregate id (the correlation key) and the time. Ids and times match any value (of the
 * aggregate id's pattern, when the example gives one); the type must be exactly the event's full
 * proto name.
 */
export function eventMetadata(schema: DescMessage, example: EnvelopeExample): Metadata {
  return {
    [Headers.eventId]: anyUuid(example.eventId),
    [Headers.eventType]: schema.typeName,
    [Headers.aggregateId]:
      example.aggregateIdPattern === undefined
        ? anyUuid(example.aggregateId)
        : MatchersV3.regex(example.aggregateIdPattern, example.aggregateId),
    [Headers.occurredAt]: anyTimestamp(example.occurredAt),
  };
}

/** A pact's message as a consumer test receives it: the example, matchers resolved. */
export interface PactMessage {
  readonly contents: { readonly content: unknown };
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** The envelope a consumer gets for a pact's message, read as the JetStream adapter reads a message. */
export function envelopeFromMessage(message: PactMessage): EventEnvelope {
  const headers = copyHeaders(undefined);
  for (const [name, value] of Object.entries(message.metadata ?? {})) {
    if (typeof value === "string") headers.set(name, value);
  }
  const { content } = message.contents;
  const body = Buffer.isBuffer(content) ? content : Buffer.from(JSON.stringify(content), "utf8");
  return envelopeOf(headers, new Uint8Array(body));
}

/** The message a provider publishes for `envelope`: its payload as the body, its headers as metadata. */
export function messageOf(envelope: EventEnvelope): MessageProvider {
  const headers = headersOf(envelope);
  const metadata = Object.fromEntries(headers.keys().map((name) => [name, headers.get(name)]));
  return providerWithMetadata(() => JSON.parse(envelope.payload), metadata);
}

/** Produces one event of a type as its publisher does: the real aggregate, the real encoder. */
export type EventProducer = () => EventEnvelope;

/** A provider's events, by full proto name. */
export type PublishedEvents = Readonly<Record<string, EventProducer>>;

/** The message providers of a verification: each event produced once, found by its description. */
export function messageProvidersOf(events: PublishedEvents): MessageProviders {
  return Object.fromEntries(
    Object.entries(events).map(([eventType, produce]) => [eventDescription(eventType), messageOf(produce())]),
  );
}
