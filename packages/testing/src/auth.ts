import type { Interceptor } from "@connectrpc/connect";
import { type DevKeys, loadDevKeys, signDevToken, type TokenClaims } from "@hexa/adapters/auth/tokens";

/**
 * Tokens for tests, signed with the run's development key (the global setup creates it and sets
 * AUTH_DEV_KEY_DIR, which every service the tests start verifies with).
 */
let keys: Promise<DevKeys> | undefined;
let admin: { token: Promise<string>; until: number } | undefined;

export function testKeyDir(): string {
  const dir = process.env.AUTH_DEV_KEY_DIR;
  if (!dir) throw new Error("AUTH_DEV_KEY_DIR is not set: run the tests with the global setup");
  return dir;
}

/** A token with `claims` (default: subject "test-admin", role admin, one hour). */
export async function testToken(claims: Partial<TokenClaims> = {}): Promise<string> {
  keys ??= loadDevKeys(testKeyDir());
  return signDevToken(await keys, { subject: "test-admin", roles: ["admin"], ...claims });
}

/** The admin token the harness's clients send by default (renewed every ten minutes). */
export function adminToken(): Promise<string> {
  if (!admin || Date.now() > admin.until) {
    admin = { token: testToken(), until: Date.now() + 600_000 };
  }
  return admin.token;
}

/** What a harness client sends: a token, a function giving one, or null for none. */
export type TokenOption = string | null | (() => Promise<string>);

export function tokenOf(option: TokenOption | undefined): Promise<string | undefined> {
  if (option === null) return Promise.resolve(undefined);
  if (option === undefined) return adminToken();
  return typeof option === "string" ? Promise.resolve(option) : option();
}

/** Sends `Authorization: Bearer …` from `option` (default: the admin token). */
export function authorization(option?: TokenOption): Interceptor {
  return (next) => async (request) => {
    const token = await tokenOf(option);
    if (token && !request.header.has("authorization")) request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
