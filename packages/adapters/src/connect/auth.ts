/**
 * Authentication and authorization of application calls. Every RPC a service mounts has one
 * access declaration (its module's `access`, next to the handlers): the roles that may call it,
 * and, for customers and people, whether they may call it on their own resources only. The
 * interceptor verifies the bearer token, limits each principal's rate, checks the role and the
 * owner field of the request, and hands the handler the caller as an {@link Actor}, for the
 * ownership checks only the handler can make (a resource loaded by id).
 *
 * Health and reflection are not application services: they need no token.
 */
import type { DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createContextKey,
  type HandlerContext,
  type Interceptor,
  type StreamRequest,
  type UnaryRequest,
} from "@connectrpc/connect";
import type { Actor, Role } from "@hexa/core/shared";
import { Health } from "@hexa/proto/grpc/health/v1/health_pb";
import type { TokenVerifier, VerifiedToken } from "../auth/tokens.ts";
import { reflectionServiceNames } from "./reflection.ts";

/** Who may call one RPC. `admin` may always; it is never listed. */
export interface Access {
  readonly roles: readonly Exclude<Role, "admin">[];
  /**
   * A role that may call it on its own resources only. With `field`, the request's field must
   * be the caller's subject (checked here; left empty, it is set to the subject); without it, the
   * handler checks the resource it loads.
   */
  readonly own?: { readonly role: "customer" | "person"; readonly field?: string };
}

/** The access declarations of one service's methods. */
export interface ServiceAccess {
  readonly service: DescService;
  /** By method local name (`placeOrder`). */
  readonly methods: Readonly<Record<string, Access>>;
}

/** Declares access to every method of `service`; a method left out fails the typecheck. */
export function accessOf<S extends DescService>(
  service: S,
  methods: { readonly [K in keyof S["method"] & string]: Access },
): ServiceAccess {
  return { service, methods };
}

const platformServices: ReadonlySet<string> = new Set([Health.typeName, ...reflectionServiceNames]);

const actorKey = createContextKey<Actor | undefined>(undefined, { description: "hexa caller" });

/** The caller of the current application call (set by {@link authInterceptor}). */
export function actorOf(context: HandlerContext): Actor | undefined {
  return context.values.get(actorKey);
}

/** Rules by procedure (`/pkg.Service/Method`). */
export function accessByProcedure(declared: readonly ServiceAccess[]): Map<string, Access> {
  const rules = new Map<string, Access>();
  for (const { service, methods } of declared) {
    for (const method of service.methods) {
      const rule = methods[method.localName];
      if (rule) rules.set(`/${service.typeName}/${method.name}`, rule);
    }
  }
  return rules;
}

/** Throws naming every mounted application RPC without an access declaration. */
export function requireAccessDeclared(router: ConnectRouter, rules: ReadonlyMap<string, Access>): void {
  const missing = router.handlers
    .filter((handler) => !platformServices.has(handler.service.typeName))
    .map((handler) => `/${handler.service.typeName}/${handler.method.name}`)
    .filter((procedure) => !rules.has(procedure));
  if (missing.length > 0) {
    throw new Error(`no access declared for ${missing.join(", ")}: add it to the module's access`);
  }
}

export interface RateLimit {
  /** Calls per second each principal may make on average. */
  readonly perSecond: number;
  /** Calls a principal may make at once after being idle. */
  readonly burst: number;
}

/** One token bucket per principal; idle buckets are forgotten. */
export class RateLimiter {
  readonly #limit: RateLimit;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(limit: RateLimit) {
    this.#limit = limit;
  }

  /** Takes one token of `key`'s bucket; false when it is empty. */
  take(key: string, now = performance.now()): boolean {
    const { perSecond, burst } = this.#limit;
    const bucket = this.#buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    if (this.#buckets.size > 10_000) this.#forgetFull(now);
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #forgetFull(now: number): void {
    const { perSecond, burst } = this.#limit;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * perSecond >= burst) this.#buckets.delete(key);
    }
  }
}

export interface AuthInterceptorOptions {
  readonly verifier: TokenVerifier;
  readonly rules: ReadonlyMap<string, Access>;
  readonly rateLimit: RateLimit;
}

/** Verified tokens kept until they expire, so a token is checked once, not on every call. */
const VERIFIED_CACHE_SIZE = 10_000;

/**
 * Refuses application calls without a valid bearer token (UNAUTHENTICATED), over the caller's
 * rate (RESOURCE_EXHAUSTED; callers with role `service` have no rate limit), or by a role the declaration does not name, or on a resource field
 * that is not the caller's (PERMISSION_DENIED). Messages never quote the token.
 */
export function authInterceptor(options: AuthInterceptorOptions): Interceptor {
  const limiter = new RateLimiter(options.rateLimit);
  const verified = new Map<string, VerifiedToken>();
  const verify = async (token: string): Promise<VerifiedToken> => {
    const known = verified.get(token);
    if (known && known.expiresAt * 1000 > Date.now()) return known;
    if (known) verified.delete(token);
    const fresh = await options.verifier.verify(token);
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.clear();
    verified.set(token, fresh);
    return fresh;
  };
  return (next) => async (req) => {
    if (platformServices.has(req.service.typeName)) return next(req);
    const procedure = `/${req.service.typeName}/${req.method.name}`;
    const rule = options.rules.get(procedure);
    if (!rule) throw new ConnectError(`no access is declared for ${procedure}`, Code.PermissionDenied);
    const token = bearerToken(req.header.get("authorization"));
    if (!token) throw new ConnectError("a bearer token is required", Code.Unauthenticated);
    let caller: VerifiedToken;
    try {
      caller = await verify(token);
    } catch (error) {
      throw new ConnectError(`the bearer token is not valid (${whyInvalid(error)})`, Code.Unauthenticated);
    }
    // Services calling services are not end users: their calls are spawned by calls already
    // admitted, and bounded by the server's in-flight bound of internal calls instead.
    if (!caller.roles.includes("service") && !limiter.take(`${caller.issuer}|${caller.subject}`)) {
      throw new ConnectError("too many calls, retry later", Code.ResourceExhausted);
    }
    const actor = authorize(caller, rule, req.method.name);
    req.contextValues.set(actorKey, actor);
    const field = actor.ownOnly ? rule.own?.field : undefined;
    if (!field) return next(req);
    // Left empty, the owner field means the caller: a customer's ListOrders lists their own.
    const check = (message: unknown) => {
      const request = message as Record<string, unknown>;
      if (request[field] === "") request[field] = actor.subject;
      if (request[field] !== actor.subject) {
        throw new ConnectError(`${field}: may only be the caller's own`, Code.PermissionDenied);
      }
    };
    if (!req.stream) {
      check((req as UnaryRequest).message);
      return next(req);
    }
    const stream = req as StreamRequest;
    return next({ ...stream, message: checkEach(stream.message, check) });
  };
}

/** The caller as an actor, or PERMISSION_DENIED when none of its roles may call `method`. */
function authorize(caller: VerifiedToken, rule: Access, method: string): Actor {
  const granted =
    caller.roles.includes("admin") ||
    caller.roles.some((role) => (rule.roles as readonly Role[]).includes(role));
  if (granted) return { subject: caller.subject, roles: caller.roles, ownOnly: false };
  if (rule.own && caller.roles.includes(rule.own.role)) {
    return { subject: caller.subject, roles: caller.roles, ownOnly: true };
  }
  throw new ConnectError(`the caller's roles may not call ${method}`, Code.PermissionDenied);
}

function bearerToken(header: string | null): string | undefined {
  const match = header ? /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** A short reason for the caller; never the token itself. */
function whyInvalid(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "expired";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "bad signature";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return `claim ${String((error as { claim?: unknown }).claim)} rejected`;
    case "ERR_JWKS_NO_MATCHING_KEY":
      return "unknown signing key";
    default:
      return "malformed or unverifiable";
  }
}

async function* checkEach<T>(source: AsyncIterable<T>, check: (message: T) => void): AsyncIterable<T> {
  for await (const message of source) {
    check(message);
    yield message;
  }
}
