import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { EventContext } from "@hexa/core/shared";
import type { Consumer, EventEnvelope } from "../messaging/bus.ts";
import { decodeEvent } from "../messaging/encoding.ts";
import type { ServiceRuntime } from "../runtime/service-module.ts";
import type { ReadSession, UnitOfWork } from "./unit-of-work.ts";

/**
 * A context's ports, two ways: in a unit of work (every read locks, saves reach the outbox), and
 * outside any transaction (nothing locks, nothing saves). The runtime's clock and ids are added to
 * the write ports.
 */
export interface ContextPorts<Write, Read> {
  write(unit: UnitOfWork): Omit<Write, keyof EventContext>;
  read(session: ReadSession): Read;
}

/** The handler of an RPC: what Connect calls. */
export type Route<Request, Response> = (request: Request, call: HandlerContext) => Promise<Response>;

/** How a context adapter declares its routes (RPC -> use case -> response) and policies (event -> use case). */
export interface ContextBinding<Write, Read> {
  /** An RPC that changes state: the use case runs in a unit of work on the write ports. */
  command<Request, Result, Response>(
    useCase: (ports: Write, request: Request, call: HandlerContext) => Promise<Result>,
    respond: (result: Result) => Response,
  ): Route<Request, Response>;
  /** An RPC that only reads: the use case runs on the read ports, outside any transaction. */
  query<Request, Result, Response>(
    useCase: (ports: Read, request: Request, call: HandlerContext) => Promise<Result>,
    respond: (result: Result) => Response,
  ): Route<Request, Response>;
  /** A policy: each event of `schema`, decoded, runs the use case in a unit of work with its inbox row. */
  policy<Desc extends DescMessage>(
    name: string,
    schema: Desc,
    useCase: (ports: Write, event: MessageShape<Desc>, envelope: EventEnvelope) => Promise<unknown>,
  ): Consumer;
  /** Runs work in a unit of work on the write ports (jobs, and steps outside an RPC). */
  inUnitOfWork<T>(work: (ports: Write) => Promise<T>): Promise<T>;
  /** The read ports on a fresh read session. */
  reading(): Read;
}

export function bindContext<Write, Read>(
  runtime: ServiceRuntime,
  ports: ContextPorts<Write, Read>,
): ContextBinding<Write, Read> {
  const { clock, ids } = runtime;
  const write = (unit: UnitOfWork) => ({ ...ports.write(unit), clock, ids }) as Write;
  const inUnitOfWork = <T>(work: (write: Write) => Promise<T>) =>
    runtime.command((unit) => work(write(unit)));
  const reading = () => ports.read(runtime.db.read());
  return {
    command: (useCase, respond) => async (request, call) =>
      respond(await inUnitOfWork((write) => useCase(write, request, call))),
    query: (useCase, respond) => async (request, call) => respond(await useCase(reading(), request, call)),
    policy: (name, schema, useCase) =>
      runtime.onEvent(name, schema.typeName, async (unit, envelope) => {
        await useCase(write(unit), decodeEvent(schema, envelope), envelope);
      }),
    inUnitOfWork,
    reading,
  };
}
