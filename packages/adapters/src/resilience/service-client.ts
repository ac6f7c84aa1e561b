import type { DescService } from "@bufbuild/protobuf";
import type { Client, Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { ServiceRuntime } from "../runtime/service-module.ts";
import { createResilientClient, type ResilientClientOptions } from "./client.ts";
import { type BreakerOptions, type CallPolicy, createCallPolicy, type RetryOptions } from "./policy.ts";

/** How one service calls another: the deadlines of an attempt and of the whole call, retries, breaker. */
export interface CallSettings {
  /** Deadline of one attempt. */
  readonly timeoutMs: number;
  /** Deadline of the whole call, retries and their waits included. */
  readonly budgetMs: number;
  /** Retries of the methods declared idempotent, within the budget. */
  readonly retry: RetryOptions;
  readonly breaker: BreakerOptions;
}

export interface ServiceClient<S extends DescService> {
  /** The call policy (breaker, retries, deadline) every call of the client goes through. */
  readonly policy: CallPolicy;
  /** The client; made on first use, since a service in the same process answers only once this one serves. */
  client(): Client<S>;
}

/**
 * A client of another service of the suite, as every call between services is made: HTTP/2 to the
 * called service's base URL (`runtime.serviceUrl`), with this service's own credentials (role
 * `service`), each unary call under one cockatiel policy named after the called service (a timeout
 * per attempt, retries of the idempotent methods, one breaker for every call through it).
 */
export function serviceClient<S extends DescService>(
  runtime: ServiceRuntime,
  called: string,
  service: S,
  settings: CallSettings,
  options: ResilientClientOptions<S> & { readonly interceptors?: readonly Interceptor[] } = {},
): ServiceClient<S> {
  const policy = createCallPolicy({
    name: called,
    logger: runtime.logger,
    timeoutMs: settings.timeoutMs,
    retry: settings.retry,
    breaker: settings.breaker,
  });
  let client: Client<S> | undefined;
  return {
    policy,
    client() {
      client ??= createResilientClient(
        service,
        createConnectTransport({
          baseUrl: runtime.serviceUrl(called),
          httpVersion: "2",
          interceptors: [...(options.interceptors ?? []), runtime.callCredentials],
        }),
        policy,
        options,
      );
      return client;
    },
  };
}
