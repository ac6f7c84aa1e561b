/**
 * Trace context across events: the outbox records the `traceparent` of the span that committed
 * an event, the bus carries it (a NATS header on JetStream), and each consumer handles the event
 * in a CONSUMER span that is its child, so one trace runs from a command through every policy it
 * sets off, and on through the events those policies publish. The relay's publish of each event
 * is a PRODUCER span `send <event type>` in the same trace.
 */
import { SpanKind } from "@opentelemetry/api";
import type { EventBus, EventEnvelope } from "../messaging/bus.ts";
import { contextFromTraceparent, inSpan } from "./tracing.ts";

/** Runs `handle` in a CONSUMER span `process <event type>`, child of the event's traceparent. */
export function inConsumerSpan<T>(
  consumer: string,
  event: EventEnvelope,
  handle: () => Promise<T>,
): Promise<T> {
  return inSpan(
    `process ${event.type}`,
    {
      kind: SpanKind.CONSUMER,
      parent: contextFromTraceparent(event.traceparent),
      attributes: {
        "messaging.operation.type": "process",
        "messaging.destination.name": event.type,
        "messaging.consumer.group.name": consumer,
        "messaging.message.id": event.id,
        "hexa.aggregate_id": event.aggregateId,
      },
    },
    handle,
  );
}

/**
 * The bus, with each publish in a PRODUCER span `send <event type>`, child of the event's
 * traceparent (the span that committed it). Consumers stay children of that span too: the
 * envelope travels unchanged, so a redelivery or a replay joins the same trace.
 */
export function withPublishSpans(bus: EventBus): EventBus {
  return {
    publish: (event) =>
      inSpan(
        `send ${event.type}`,
        {
          kind: SpanKind.PRODUCER,
          parent: contextFromTraceparent(event.traceparent),
          attributes: {
            "messaging.operation.type": "send",
            "messaging.destination.name": event.type,
            "messaging.message.id": event.id,
            "hexa.aggregate_id": event.aggregateId,
          },
        },
        () => bus.publish(event),
      ),
    subscribe: (consumer, policy) => bus.subscribe(consumer, policy),
    deadLetters: bus.deadLetters,
    isReady: () => bus.isReady(),
    ...(bus.metrics ? { metrics: bus.metrics.bind(bus) } : {}),
    close: () => bus.close(),
  };
}
