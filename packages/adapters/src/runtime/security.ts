import { join } from "node:path";
import {
  clientCredentialsTokens,
  createVerifier,
  DEV_AUDIENCE,
  DEV_ISSUER,
  DEV_KEY_FILE,
  devServiceTokens,
  ensureDevKeys,
  loadDevKeys,
  remoteVerifier,
  type TokenSource,
  type TokenVerifier,
} from "../auth/tokens.ts";
import type { RateLimit } from "../connect/auth.ts";
import { ConfigurationError, type Environment } from "./config.ts";

/** How a process authenticates callers, identifies itself to other services, and limits requests. */
export interface Security {
  readonly verifier: TokenVerifier;
  /** The token source of a service calling others (role `service`), by the calling module's name. */
  serviceTokens(service: string): TokenSource;
  readonly rateLimit: RateLimit;
  readonly maxRequestBytes: number;
  readonly corsAllowedOrigins: readonly string[];
  /** For the start banner: where tokens come from. */
  readonly description: string;
}

export interface SecurityContext {
  /** The all-in-one creates the development key under DATA_DIR when nothing else is configured. */
  readonly allInOne: boolean;
  /** Whether any module calls another service (it then needs a way to get its own token). */
  readonly callsServices: boolean;
}

/**
 * Security from the environment:
 * - AUTH_JWKS_URL: tokens of a real identity provider (AUTH_ISSUER, AUTH_AUDIENCE, AUTH_ROLE_CLAIM);
 *   a service that calls others gets its token by client credentials (AUTH_CLIENT_TOKEN_URL…).
 * - else AUTH_DEV_KEY_DIR, or in the all-in-one DATA_DIR/auth (created on first start): the
 *   development key pair; issuer "hexa-dev", audience "hexa"; services sign their own tokens.
 * - else (a service on its own) a ConfigurationError naming AUTH_JWKS_URL.
 */
export async function securityFromEnvironment(env: Environment, context: SecurityContext): Promise<Security> {
  const limits = {
    rateLimit: { perSecond: env.RATE_LIMIT_PER_SECOND, burst: env.RATE_LIMIT_BURST },
    maxRequestBytes: env.MAX_REQUEST_BYTES,
    corsAllowedOrigins: env.CORS_ALLOWED_ORIGINS,
  };
  if (env.AUTH_JWKS_URL) {
    const {
      AUTH_CLIENT_TOKEN_URL: tokenUrl,
      AUTH_CLIENT_ID: clientId,
      AUTH_CLIENT_SECRET: clientSecret,
    } = env;
    if (context.callsServices && !(tokenUrl && clientId && clientSecret)) {
      throw new ConfigurationError([
        "AUTH_CLIENT_TOKEN_URL: required with AUTH_JWKS_URL when a service calls another (with AUTH_CLIENT_ID and AUTH_CLIENT_SECRET)",
      ]);
    }
    const tokens =
      tokenUrl && clientId && clientSecret
        ? clientCredentialsTokens({
            tokenUrl,
            clientId,
            clientSecret,
            ...(env.AUTH_AUDIENCE ? { audience: env.AUTH_AUDIENCE } : {}),
          })
        : undefined;
    return {
      ...limits,
      verifier: remoteVerifier(env.AUTH_JWKS_URL, {
        issuer: env.AUTH_ISSUER ?? "",
        audience: env.AUTH_AUDIENCE ?? "",
        roleClaim: env.AUTH_ROLE_CLAIM,
      }),
      serviceTokens: () => {
        if (!tokens) throw new Error("no client credentials configured (AUTH_CLIENT_TOKEN_URL)");
        return tokens;
      },
      description: `tokens of ${env.AUTH_ISSUER} (JWKS ${env.AUTH_JWKS_URL})`,
    };
  }
  const dir = env.AUTH_DEV_KEY_DIR ?? (context.allInOne ? join(env.DATA_DIR, "auth") : undefined);
  if (!dir) {
    throw new ConfigurationError([
      `AUTH_JWKS_URL: required when a service runs on its own (or AUTH_DEV_KEY_DIR, the directory of the development key ${DEV_KEY_FILE})`,
    ]);
  }
  if (context.allInOne) await ensureDevKeys(dir);
  let keys: Awaited<ReturnType<typeof loadDevKeys>>;
  try {
    keys = await loadDevKeys(dir);
  } catch (error) {
    throw new ConfigurationError([`AUTH_DEV_KEY_DIR: ${(error as Error).message}`]);
  }
  return {
    ...limits,
    verifier: createVerifier(keys.publicKey, {
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      roleClaim: env.AUTH_ROLE_CLAIM,
    }),
    serviceTokens: (service) => devServiceTokens(keys, service),
    description: `development tokens (key in ${dir}; ./hexa token issues them)`,
  };
}
