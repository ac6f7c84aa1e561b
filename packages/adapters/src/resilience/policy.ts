import { Code, ConnectError } from "@connectrpc/connect";
import {
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  isBrokenCircuitError,
  isTaskCancelledError,
  retry,
  TimeoutStrategy,
  timeout,
} from "cockatiel";
import type { Logger } from "pino";

/**
 * Resilience for outbound synchronous calls (cockatiel): a timeout per attempt, a circuit
 * breaker shared by every call through the policy, and retries with exponential backoff and
 * jitter for calls marked idempotent only.
 *
 * Layering, outside in: retry (idempotent calls) -> breaker -> timeout -> the call.
 *
 * What counts as a failure of the dependency (trips the breaker, is retried) is a transport-level
 * answer: Connect codes Unavailable, DeadlineExceeded, Internal, Unknown and Aborted, and the
 * policy's own timeout; any non-Connect error counts as Unknown. ResourceExhausted is the callee
 * shedding load (its in-flight bound, a rate limit): it proves the callee is up, so the breaker
 * never counts it, but it is retried like a failure and, in the end, falls back like one. A business
 * answer (InvalidArgument, NotFound, FailedPrecondition, AlreadyExists, PermissionDenied,
 * Unauthenticated, and every other code) proves the dependency is up: it reaches the caller
 * unchanged, is never retried, and counts as a success for the breaker. A call the caller cancels
 * (its own signal) is neither.
 *
 * While the breaker is open, calls fail at once with {@link CircuitOpenError} (a ConnectError
 * with code Unavailable, "<name> circuit open"), without reaching the dependency; after
 * `halfOpenAfterMs` the next call is let through as a trial: success closes the breaker, a
 * failure opens it again. {@link withFallback} turns such unavailability into the caller's
 * fallback.
 */

export type BreakerState = "closed" | "open" | "half-open" | "isolated";

export interface RetryOptions {
  /** Attempts in all, the first call included (2 = one retry). */
  readonly attempts: number;
  /** First backoff; each next one grows exponentially (with jitter) up to `maxDelayMs`. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  readonly consecutiveFailures: number;
  /** How long the breaker stays open before letting one trial call through. */
  readonly halfOpenAfterMs: number;
}

export interface CallPolicyOptions {
  /** Names the dependency in logs and errors, e.g. `order-service`. */
  readonly name: string;
  /** Deadline of one attempt. */
  readonly timeoutMs: number;
  /** Retry settings for idempotent calls, or false to never retry. */
  readonly retry: RetryOptions | false;
  readonly breaker: BreakerOptions;
  readonly logger: Logger;
  /** Connect codes that count as failures of the dependency; defaults to {@link transportFailureCodes}. */
  readonly failureCodes?: ReadonlySet<Code>;
}

export interface ExecuteOptions {
  /** Safe to repeat (a read, or a write the server deduplicates): only then is a failed call retried. */
  readonly idempotent?: boolean;
  /** The caller's own cancellation. */
  readonly signal?: AbortSignal;
}

export interface CallPolicy {
  readonly name: string;
  readonly timeoutMs: number;
  /** The breaker's state now. Open stays open until a call arrives after `halfOpenAfterMs`. */
  readonly state: BreakerState;
  /**
   * Runs `fn` under the policy. `fn` gets an AbortSignal that fires at the attempt's deadline
   * (or when the caller's signal fires) and must pass it on to the call it makes.
   * Rejects with the call's own error, with a ConnectError DeadlineExceeded on timeout, or with
   * {@link CircuitOpenError} while the breaker is open.
   */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: ExecuteOptions): Promise<T>;
}

/** Connect codes that say the dependency (or the way to it) failed, rather than answered. */
export const transportFailureCodes: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Internal,
  Code.Unknown,
  Code.Aborted,
]);

/** True when the error is a failure of the dependency rather than its (business) answer. */
export function isTransportFailure(
  error: unknown,
  codes: ReadonlySet<Code> = transportFailureCodes,
): boolean {
  return codes.has(ConnectError.from(error).code);
}

/** True when the callee turned the call away for load (RESOURCE_EXHAUSTED): up, but busy. */
export function isLoadShed(error: unknown): boolean {
  return ConnectError.from(error).code === Code.ResourceExhausted;
}

/**
 * Raised at once while a policy's breaker is open. A ConnectError with code Unavailable, so
 * code that only knows Connect errors treats it as "dependency down".
 */
export class CircuitOpenError extends ConnectError {
  /** Name of the policy whose breaker is open. */
  readonly policy: string;

  constructor(policy: string) {
    super(`${policy} circuit open`, Code.Unavailable);
    this.policy = policy;
  }

  // ConnectError answers `instanceof` by shape, which every ConnectError has; restore the
  // ordinary prototype check so only real CircuitOpenErrors match.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(CircuitOpenError, value);
  }
}

export function isCircuitOpen(error: unknown): error is CircuitOpenError {
  return error instanceof CircuitOpenError;
}

/**
 * True when a caller should fall back: the breaker is open, the call failed at transport level, or
 * the callee kept shedding it.
 */
export function isUnavailable(error: unknown): boolean {
  return isCircuitOpen(error) || isTransportFailure(error) || isLoadShed(error);
}

/**
 * Runs a call and, when the dependency is unavailable (breaker open, timeout, transport failure
 * after any retries), answers with `fallback` instead. Business errors still reach the caller.
 *
 *   const plan = await withFallback(
 *     () => marketing.getTrialPlan({ planId }),
 *     () => cachedPlan,
 *   );
 */
export async function withFallback<T, F>(
  call: Promise<T> | (() => Promise<T>),
  fallback: (error: ConnectError) => F | Promise<F>,
  when: (error: unknown) => boolean = isUnavailable,
): Promise<T | F> {
  try {
    return await (typeof call === "function" ? call() : call);
  } catch (error) {
    if (!when(error)) throw error;
    return await fallback(ConnectError.from(error));
  }
}

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** The newest policy of each name created in this process, weakly held (for `/metrics`). */
const policiesByName = new Map<string, WeakRef<CallPolicy>>();

/** The call policies of this process (the newest of each name), for the breaker state gauge. */
export function callPolicies(): CallPolicy[] {
  const live: CallPolicy[] = [];
  for (const [name, ref] of policiesByName) {
    const policy = ref.deref();
    if (policy) live.push(policy);
    else policiesByName.delete(name);
  }
  return live;
}

export function createCallPolicy(options: CallPolicyOptions): CallPolicy {
  const policy = buildCallPolicy(options);
  policiesByName.set(policy.name, new WeakRef(policy));
  return policy;
}

function buildCallPolicy(options: CallPolicyOptions): CallPolicy {
  const { name, timeoutMs, logger } = options;
  const codes = options.failureCodes ?? transportFailureCodes;
  const isFailure = (error: unknown) => isTransportFailure(error, codes);
  assertPositive(`${name}: timeoutMs`, timeoutMs);
  assertPositive(`${name}: breaker.consecutiveFailures`, options.breaker.consecutiveFailures);

  const breaker = circuitBreaker(handleWhen(isFailure), {
    halfOpenAfter: options.breaker.halfOpenAfterMs,
    breaker: new ConsecutiveBreaker(options.breaker.consecutiveFailures),
  });
  let current: BreakerState = "closed";
  breaker.onStateChange((state) => {
    const from = current;
    current = stateName(state);
    const entry = { policy: name, from, to: current };
    if (current === "open") logger.warn(entry, "circuit breaker state changed");
    else logger.info(entry, "circuit breaker state changed");
  });

  // A call that returned has nothing left to stop: no abort then, which would build an AbortError
  // (with its stack) for every call. A call still running when the deadline fires is aborted.
  const deadline = timeout(timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });

  const retryPolicy = options.retry ? createRetry(options.retry) : undefined;
  function createRetry(settings: RetryOptions) {
    if (!Number.isInteger(settings.attempts) || settings.attempts < 1) {
      throw new RangeError(`${name}: retry.attempts must be a positive integer, got ${settings.attempts}`);
    }
    const policy = retry(
      handleWhen((error) => (isFailure(error) || isLoadShed(error)) && !isCircuitOpen(error)),
      {
        maxAttempts: settings.attempts - 1,
        backoff: new ExponentialBackoff({
          initialDelay: settings.initialDelayMs,
          maxDelay: settings.maxDelayMs,
        }),
      },
    );
    policy.onRetry((event) => {
      const error = "error" in event ? ConnectError.from(event.error).message : "unexpected result";
      logger.warn(
        { policy: name, attempt: event.attempt, delayMs: Math.round(event.delay), error },
        "retrying call",
      );
    });
    return policy;
  }

  /** Turns what came out of the timeout layer into the error the caller and the breaker see. */
  function normalize(error: unknown, callerSignal: AbortSignal | undefined): unknown {
    if (callerSignal?.aborted) {
      return error instanceof ConnectError && error.code === Code.Canceled
        ? error
        : new ConnectError(
            `${name} call cancelled by the caller`,
            Code.Canceled,
            undefined,
            undefined,
            error,
          );
    }
    // Our deadline fired: either the timeout policy's own error, or the call noticing its aborted signal.
    if (isTaskCancelledError(error) || (error instanceof ConnectError && error.code === Code.Canceled)) {
      return new ConnectError(
        `${name} timed out after ${timeoutMs} ms`,
        Code.DeadlineExceeded,
        undefined,
        undefined,
        error,
      );
    }
    return error;
  }

  async function attempt<T>(fn: (signal: AbortSignal) => Promise<T>, callerSignal?: AbortSignal): Promise<T> {
    let outcome: Outcome<T>;
    try {
      outcome = await breaker.execute(async (): Promise<Outcome<T>> => {
        try {
          return { ok: true, value: await deadline.execute(({ signal }) => fn(signal), callerSignal) };
        } catch (raw) {
          const error = normalize(raw, callerSignal);
          // Failures, load shedding and caller cancellations are thrown: the first count against the
          // breaker, the others pass through it uncounted. A business answer is a success for it.
          if (isFailure(error) || isLoadShed(error) || callerSignal?.aborted) throw error;
          return { ok: false, error };
        }
      }, callerSignal);
    } catch (error) {
      if (isBrokenCircuitError(error)) throw new CircuitOpenError(name);
      throw error;
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  return {
    name,
    timeoutMs,
    get state() {
      return stateName(breaker.state);
    },
    execute(fn, executeOptions = {}) {
      const signal = executeOptions.signal;
      if (executeOptions.idempotent && retryPolicy) {
        return retryPolicy.execute(() => attempt(fn, signal), signal);
      }
      return attempt(fn, signal);
    },
  };
}

function stateName(state: CircuitState): BreakerState {
  switch (state) {
    case CircuitState.Closed:
      return "closed";
    case CircuitState.Open:
      return "open";
    case CircuitState.HalfOpen:
      return "half-open";
    default:
      return "isolated";
  }
}

function assertPositive(what: string, value: number): void {
  if (!(value > 0)) throw new RangeError(`${what} must be positive, got ${value}`);
}
