/**
 * JSON Web Tokens: verifying callers' tokens (a remote JWKS in production, the development key
 * pair otherwise), issuing development tokens, and the tokens a service presents when it calls
 * another one (signed with the development key, or fetched by OAuth 2 client credentials).
 *
 * Tokens are secrets: nothing here logs one, and errors never quote one.
 */
import { createPrivateKey, randomUUID } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Interceptor } from "@connectrpc/connect";
import { ROLES, type Role } from "@hexa/core/shared";
import {
  type CryptoKey,
  calculateJwkThumbprint,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from "jose";

/** Every role a token may carry (see @hexa/core's access rules). */
export { ROLES };

/** Issuer and audience of the development tokens. */
export const DEV_ISSUER = "hexa-dev";
export const DEV_AUDIENCE = "hexa";
/** The file, in the development key directory, holding the private key (as a JWK). */
export const DEV_KEY_FILE = "signing-key.jwk.json";
/**
 * Or the same key as PEM (an EC P-256 private key, PKCS #8 or SEC 1): what a Helm chart can
 * generate (`genPrivateKey "ecdsa"`) into a Secret, since templates cannot write a JWK.
 */
export const DEV_KEY_PEM_FILE = "signing-key.pem";
const ALGORITHM = "ES256";

/** What a valid token says about its bearer. */
export interface VerifiedToken {
  readonly issuer: string;
  readonly subject: string;
  readonly roles: readonly Role[];
  /** Expiry, seconds since the epoch. */
  readonly expiresAt: number;
}

export interface TokenVerifier {
  /** Resolves with the token's claims, or rejects (bad signature, expired, wrong issuer or audience…). */
  verify(token: string): Promise<VerifiedToken>;
}

export interface VerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  /** Claim holding the roles: an array or a space-separated string; a dotted path reaches into objects. */
  readonly roleClaim?: string;
}

/** A verifier of tokens signed by `key` (a JWKS resolver, or one public key). */
export function createVerifier(
  key: JWTVerifyGetKey | CryptoKey | Uint8Array,
  options: VerifierOptions,
): TokenVerifier {
  const roleClaim = options.roleClaim ?? "roles";
  const check = { issuer: options.issuer, audience: options.audience, clockTolerance: 5 };
  return {
    async verify(token) {
      const { payload } =
        typeof key === "function"
          ? await jwtVerify(token, key, check)
          : await jwtVerify(token, key as CryptoKey, { ...check, algorithms: [ALGORITHM] });
      if (!payload.sub) throw new Error("token has no subject");
      if (payload.exp === undefined) throw new Error("token has no expiry");
      return {
        issuer: payload.iss ?? "",
        subject: payload.sub,
        roles: rolesIn(payload, roleClaim),
        expiresAt: payload.exp,
      };
    },
  };
}

/** A verifier against the identity provider's JWKS (fetched on demand and cached by jose). */
export function remoteVerifier(jwksUrl: string, options: VerifierOptions): TokenVerifier {
  return createVerifier(createRemoteJWKSet(new URL(jwksUrl)), options);
}

/**
 * The known roles listed in `claim`: the claim of that very name (Auth0's namespaced
 * `https://…/roles`), else the dotted path into objects (Keycloak's `realm_access.roles`). Unknown
 * role names are ignored.
 */
export function rolesIn(payload: JWTPayload, claim: string): Role[] {
  let value: unknown = payload[claim];
  if (value === undefined) {
    value = payload;
    for (const part of claim.split(".")) {
      value =
        typeof value === "object" && value !== null ? (value as Record<string, unknown>)[part] : undefined;
    }
  }
  const names = Array.isArray(value) ? value : typeof value === "string" ? value.split(/\s+/) : [];
  return names.filter((name): name is Role => (ROLES as readonly string[]).includes(name));
}

/** The development key pair, kept in a directory as one private JWK. */
export interface DevKeys {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly kid: string;
}

/** Creates the development key pair in `dir` unless it is there already. Safe to run concurrently. */
export async function ensureDevKeys(dir: string): Promise<void> {
  const file = join(dir, DEV_KEY_FILE);
  if (existsSync(file) || existsSync(join(dir, DEV_KEY_PEM_FILE))) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: ALGORITHM };
  const draft = `${file}.${process.pid}.${randomUUID()}`;
  writeFileSync(draft, `${JSON.stringify(jwk)}\n`, { mode: 0o600 });
  try {
    linkSync(draft, file); // atomic: the first writer wins, readers never see half a file
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    unlinkSync(draft);
  }
}

/**
 * Reads the development key pair from `dir`: its JWK file, else its PEM file (whose key id is the
 * key's JWK thumbprint). Throws naming the file when neither is there or the key is bad.
 */
export async function loadDevKeys(dir: string): Promise<DevKeys> {
  const pemFile = join(dir, DEV_KEY_PEM_FILE);
  const file =
    existsSync(join(dir, DEV_KEY_FILE)) || !existsSync(pemFile) ? join(dir, DEV_KEY_FILE) : pemFile;
  let jwk: JWK;
  try {
    if (file === pemFile) {
      jwk = createPrivateKey(readFileSync(file, "utf8")).export({ format: "jwk" }) as JWK;
      if (jwk.kty !== "EC" || jwk.crv !== "P-256") throw new Error(`an ${ALGORITHM} key is an EC P-256 key`);
      jwk.kid = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
    } else {
      jwk = JSON.parse(readFileSync(file, "utf8")) as JWK;
    }
  } catch (error) {
    throw new Error(`cannot read the development signing key ${file}: ${(error as Error).message}`);
  }
  const { d: _private, ...publicJwk } = jwk;
  return {
    privateKey: (await importJWK(jwk, ALGORITHM)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, ALGORITHM)) as CryptoKey,
    kid: jwk.kid ?? "",
  };
}

export interface TokenClaims {
  readonly subject: string;
  readonly roles: readonly string[];
  /** Lifetime in seconds. Default 3600. */
  readonly ttlSeconds?: number;
  readonly issuer?: string;
  readonly audience?: string;
}

/** A development token signed with the development key. */
export function signDevToken(keys: DevKeys, claims: TokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: [...claims.roles] })
    .setProtectedHeader({ alg: ALGORITHM, kid: keys.kid, typ: "JWT" })
    .setIssuer(claims.issuer ?? DEV_ISSUER)
    .setAudience(claims.audience ?? DEV_AUDIENCE)
    .setSubject(claims.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.ttlSeconds ?? 3600))
    .setJti(randomUUID())
    .sign(keys.privateKey);
}

/** Parses a lifetime such as `90`, `30s`, `15m`, `1h` or `2d` into seconds. */
export function parseTtl(text: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!match) throw new Error(`not a lifetime: ${JSON.stringify(text)} (e.g. 30m, 1h, 2d)`);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as "" | "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

/** The token a service presents when it calls another service. */
export interface TokenSource {
  token(signal?: AbortSignal): Promise<string>;
}

/** Renewed this long before it expires. */
const RENEW_BEFORE_MS = 60_000;

/**
 * Keeps one token while it is valid, and fetches the next one once for all callers waiting. A
 * failed fetch is not kept: the next call tries again.
 */
function cachedSource(fetchToken: () => Promise<{ token: string; expiresAtMs: number }>): TokenSource {
  let current: { token: string; expiresAtMs: number } | undefined;
  let pending: Promise<string> | undefined;
  return {
    token() {
      if (current && Date.now() < current.expiresAtMs - RENEW_BEFORE_MS)
        return Promise.resolve(current.token);
      pending ??= fetchToken()
        .then((fetched) => {
          current = fetched;
          return fetched.token;
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
  };
}

/** Service tokens signed with the development key: role `service`, subject `service:<name>`, 10 minutes. */
export function devServiceTokens(keys: DevKeys, name: string): TokenSource {
  const ttlSeconds = 600;
  return cachedSource(async () => ({
    token: await signDevToken(keys, { subject: `service:${name}`, roles: ["service"], ttlSeconds }),
    expiresAtMs: Date.now() + ttlSeconds * 1000,
  }));
}

export interface ClientCredentials {
  /** The identity provider's token endpoint. */
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Sent as `audience` (Auth0 needs it; others ignore it). */
  readonly audience?: string;
  /** Time allowed for one token request. Default 5000 ms. */
  readonly timeoutMs?: number;
}

/**
 * Service tokens from the identity provider by the OAuth 2 client credentials grant (RFC 6749
 * 4.4), client authenticated with HTTP Basic, cached until shortly before `expires_in`.
 */
export function clientCredentialsTokens(credentials: ClientCredentials): TokenSource {
  return cachedSource(async () => {
    const body = new URLSearchParams({ grant_type: "client_credentials" });
    if (credentials.audience) body.set("audience", credentials.audience);
    const basic = Buffer.from(
      `${encodeURIComponent(credentials.clientId)}:${encodeURIComponent(credentials.clientSecret)}`,
    ).toString("base64");
    const response = await fetch(credentials.tokenUrl, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
        authorization: `Basic ${basic}`,
      },
      body,
      signal: AbortSignal.timeout(credentials.timeoutMs ?? 5_000),
    });
    if (!response.ok) {
      throw new Error(`the token endpoint answered HTTP ${response.status} to the client credentials grant`);
    }
    const answer = (await response.json()) as { access_token?: unknown; expires_in?: unknown };
    if (typeof answer.access_token !== "string" || answer.access_token === "") {
      throw new Error("the token endpoint's answer has no access_token");
    }
    const expiresIn = typeof answer.expires_in === "number" ? answer.expires_in : 300;
    return { token: answer.access_token, expiresAtMs: Date.now() + expiresIn * 1000 };
  });
}

/** A client interceptor that sends `Authorization: Bearer <token>` from `source` on every call. */
export function bearerInterceptor(source: TokenSource): Interceptor {
  return (next) => async (request) => {
    if (!request.header.has("authorization")) {
      request.header.set("authorization", `Bearer ${await source.token(request.signal)}`);
    }
    return next(request);
  };
}
