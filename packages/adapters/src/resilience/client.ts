import { randomUUID } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { type CallOptions, type Client, createClient, type Transport } from "@connectrpc/connect";
import { inClientSpan } from "../telemetry/rpc.ts";
import type { CallPolicy } from "./policy.ts";

/**
 * A generated Connect client whose unary methods all run under a {@link CallPolicy}: each call
 * gets the policy's deadline (as an AbortSignal, and as `timeoutMs` so the server learns it too),
 * goes through its breaker, and is retried on transport failures when its method is declared
 * idempotent. Idempotent calls carry an idempotency key header, the same on every retry of one
 * call, so a server that saw the first attempt can recognise the repeat.
 *
 * Each unary call runs in a CLIENT span whose `traceparent` travels in its headers (see
 * ../telemetry/rpc.ts), so the callee's server span joins the caller's trace.
 *
 * Streaming methods are passed through untouched: a policy cannot replay a stream.
 */

export interface ResilientClientOptions<S extends DescService> {
  /** Methods (by their client name, e.g. `getTrialPlan`) that are safe to repeat. */
  readonly idempotent?: ReadonlyArray<keyof S["method"] & string>;
  /** Header for the idempotency key of idempotent calls; false sends none. Default `idempotency-key`. */
  readonly idempotencyKeyHeader?: string | false;
}

type UnaryMethod = (request: unknown, options?: CallOptions) => Promise<unknown>;

/** Wraps an existing client of `service` (from `createClient(service, transport)`). */
export function withCallPolicy<S extends DescService>(
  service: S,
  client: Client<S>,
  policy: CallPolicy,
  options: ResilientClientOptions<S> = {},
): Client<S> {
  const idempotent = new Set<string>(options.idempotent ?? []);
  const header = options.idempotencyKeyHeader ?? "idempotency-key";
  const known = new Set(service.methods.map((method) => method.localName));
  for (const name of idempotent) {
    if (!known.has(name)) {
      throw new Error(`${policy.name}: ${service.typeName} has no method ${name} (declared idempotent)`);
    }
  }

  const original = client as unknown as Record<string, UnaryMethod>;
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = original[method.localName];
    if (!call) continue;
    if (method.methodKind !== "unary") {
      wrapped[method.localName] = call;
      continue;
    }
    const isIdempotent = idempotent.has(method.localName);
    wrapped[method.localName] = (request: unknown, callOptions: CallOptions = {}) => {
      const headers = new Headers(callOptions.headers);
      if (isIdempotent && header && !headers.has(header)) headers.set(header, randomUUID());
      const timeoutMs =
        callOptions.timeoutMs && callOptions.timeoutMs > 0
          ? Math.min(callOptions.timeoutMs, policy.timeoutMs)
          : policy.timeoutMs;
      return inClientSpan(service.typeName, method.name, headers, () =>
        policy.execute((signal) => call(request, { ...callOptions, headers, signal, timeoutMs }), {
          idempotent: isIdempotent,
          signal: callOptions.signal,
        }),
      );
    };
  }
  return wrapped as Client<S>;
}

/** `createClient(service, transport)` wrapped by {@link withCallPolicy}. */
export function createResilientClient<S extends DescService>(
  service: S,
  transport: Transport,
  policy: CallPolicy,
  options: ResilientClientOptions<S> = {},
): Client<S> {
  return withCallPolicy(service, createClient(service, transport), policy, options);
}
