// Development tokens for the operator commands (token, demos, benchmarks): signed with the
// all-in-one's development key, the one it verifies with when AUTH_JWKS_URL is not set.
import { join } from "node:path";
import type { Interceptor } from "@connectrpc/connect";
import { ensureDevKeys, loadDevKeys, signDevToken } from "@hexa/adapters/auth/tokens";
import { configuration } from "./cli.ts";

/** AUTH_DEV_KEY_DIR, else DATA_DIR/auth (DATA_DIR defaults to .data), as the all-in-one uses. */
export function devKeyDir(): string {
  const env = configuration();
  return env.AUTH_DEV_KEY_DIR ?? join(env.DATA_DIR, "auth");
}

/** A development token for `subject` with `roles`, valid `ttlSeconds` (default one hour). */
export async function devToken(
  roles: readonly string[],
  subject: string,
  ttlSeconds = 3600,
): Promise<string> {
  const dir = devKeyDir();
  await ensureDevKeys(dir);
  return signDevToken(await loadDevKeys(dir), { subject, roles, ttlSeconds });
}

/** A client interceptor calling as `subject` with `role` (one token, signed once). */
export function callingAs(role: string, subject: string): Interceptor {
  let token: Promise<string> | undefined;
  return (next) => async (request) => {
    token ??= devToken([role], subject, 6 * 3600);
    request.header.set("authorization", `Bearer ${await token}`);
    return next(request);
  };
}
