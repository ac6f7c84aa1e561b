import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { natsUrl, uniqueNamespace } from "@hexa/testing";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type Logger, pino } from "pino";
import { connectJetStreamBus, type JetStreamBus, type JetStreamBusOptions } from "../../src/jetstream/bus.ts";
import { deleteNamespaceStreams } from "../../src/jetstream/streams.ts";
import type { Consumer, EventEnvelope } from "../../src/messaging/bus.ts";

/** Polls until `condition` holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let sequence = 0;

/** A well-formed envelope; every field can be overridden. */
export function anEvent(type: string, fields: Partial<EventEnvelope> = {}): EventEnvelope {
  sequence++;
  return {
    id: randomUUID(),
    type,
    aggregateId: `aggregate-${sequence}`,
    occurredAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, sequence % 1000)).toISOString(),
    payload: JSON.stringify({ n: sequence }),
    ...fields,
  };
}

/** A consumer that records what it is handed, and runs `behaviour` for each event. */
export function recordingConsumer(
  name: string,
  eventType: string,
  behaviour: (event: EventEnvelope) => Promise<void> | void = () => {},
): Consumer & { readonly received: EventEnvelope[] } {
  const received: EventEnvelope[] = [];
  return {
    name,
    eventType,
    received,
    async handle(event) {
      received.push(event);
      await behaviour(event);
    },
  };
}

/** A pino logger whose JSON lines are collected in `lines`. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: "debug" }, sink), lines };
}

/**
 * Opens buses in private namespaces and cleans up after a test file: closes every bus (together, as
 * each close waits up to `idlePullExpiresMs` for its open pull requests) and deletes the
 * namespaces' streams from the shared server.
 */
export class BusFixture {
  readonly #buses: JetStreamBus[] = [];
  readonly #namespaces = new Set<string>();
  #admin: { connection: NatsConnection; manager: JetStreamManager } | undefined;

  namespace(): string {
    const namespace = uniqueNamespace();
    this.#namespaces.add(namespace);
    return namespace;
  }

  async open(namespace: string, options: Partial<JetStreamBusOptions> = {}): Promise<JetStreamBus> {
    this.#namespaces.add(namespace);
    const bus = await connectJetStreamBus({
      url: natsUrl(),
      namespace,
      logger: pino({ level: "silent" }),
      name: `test-${namespace}`,
      // Short pull requests: a stopping subscription waits for its open one to end.
      pullExpiresMs: 1_000,
      idlePullExpiresMs: 2_000,
      ...options,
    });
    this.#buses.push(bus);
    return bus;
  }

  /** A JetStream manager on its own connection, for looking at streams and consumers. */
  async manager(): Promise<JetStreamManager> {
    if (!this.#admin) {
      const connection = await connect({ servers: natsUrl() });
      this.#admin = { connection, manager: await jetstreamManager(connection) };
    }
    return this.#admin.manager;
  }

  async cleanUp(): Promise<void> {
    await Promise.all(this.#buses.splice(0).map((bus) => bus.close()));
    for (const namespace of this.#namespaces) await deleteNamespaceStreams(natsUrl(), namespace);
    await this.#admin?.connection.close();
    this.#admin = undefined;
  }
}
