/**
 * The console's laptop sign-in: `POST /console/sign-in` with `{"role": "...", "subject": "..."}`
 * answers `{"token": "..."}`, a development token signed with the development key, as
 * `./hexa token` prints. It exists only while the all-in-one verifies tokens with that key (no
 * AUTH_JWKS_URL) and listens on a loopback address; it answers loopback callers only.
 */
import { isIPv4, isIPv6 } from "node:net";
import { join } from "node:path";
import { type DevKeys, loadDevKeys, ROLES, signDevToken } from "@hexa/adapters/auth/tokens";
import type { HttpRoute } from "@hexa/adapters/connect/server";
import type { Environment } from "@hexa/adapters/runtime/config";
import { reply } from "@hexa/console/server/routes";

export const SIGN_IN_PATH = "/console/sign-in";
/** The roles a person may sign in with (service tokens are for services). */
export const SIGN_IN_ROLES = ROLES.filter((role) => role !== "service");
const TOKEN_TTL_SECONDS = 8 * 3600;
const MAX_BODY_BYTES = 4096;

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.replace(/^::ffff:/, "");
  if (isIPv4(plain)) return plain.startsWith("127.");
  return isIPv6(address) ? address === "::1" : address === "localhost";
}

/**
 * The directory of the development key when sign-in may exist here (see above), else undefined.
 * The start creates the key there (nothing is written before the start succeeds).
 */
export function signInKeyDir(env: Environment): string | undefined {
  if (env.AUTH_JWKS_URL || !isLoopback(env.HOST)) return undefined;
  return env.AUTH_DEV_KEY_DIR ?? join(env.DATA_DIR, "auth");
}

export type SignInRequest = { role: string; subject: string };

/** The problem with a sign-in request, naming its field, or undefined when it is good. */
export function signInProblem(body: unknown): { field: string; error: string } | undefined {
  const { role, subject } = (typeof body === "object" && body !== null ? body : {}) as Record<
    string,
    unknown
  >;
  if (typeof role !== "string" || !(SIGN_IN_ROLES as readonly string[]).includes(role)) {
    return { field: "role", error: `role must be one of ${SIGN_IN_ROLES.join(", ")}` };
  }
  if (typeof subject !== "string" || subject.trim() === "" || subject.trim().length > 64) {
    return { field: "subject", error: "subject must be 1 to 64 characters" };
  }
  return undefined;
}

/** The sign-in route, signing with the development key in `keyDir` (read at the first sign-in). */
export function signInRoute(keyDir: string): HttpRoute {
  let keys: Promise<DevKeys> | undefined;
  return (req, res) => {
    if (new URL(req.url ?? "/", "http://console").pathname !== SIGN_IN_PATH) return false;
    const answer = (status: number, body: object) => {
      reply(
        res,
        status,
        { "content-type": "application/json", "cache-control": "no-store" },
        JSON.stringify(body),
      );
    };
    if (req.method !== "POST") {
      answer(405, { error: "use POST" });
      return true;
    }
    if (!isLoopback(req.socket.remoteAddress)) {
      answer(403, { error: "development sign-in answers this machine only" });
      return true;
    }
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      text += chunk;
      if (text.length > MAX_BODY_BYTES) req.destroy();
    });
    req.on("end", () => {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        answer(400, { field: "", error: 'the body must be JSON: {"role": …, "subject": …}' });
        return;
      }
      const problem = signInProblem(body);
      if (problem) {
        answer(400, problem);
        return;
      }
      const { role, subject } = body as SignInRequest;
      keys ??= loadDevKeys(keyDir);
      keys
        .then((loaded) =>
          signDevToken(loaded, { subject: subject.trim(), roles: [role], ttlSeconds: TOKEN_TTL_SECONDS }),
        )
        .then(
          (token) => answer(200, { token }),
          () => {
            keys = undefined; // read again next time
            answer(500, { error: "could not sign the token" });
          },
        );
    });
    return true;
  };
}
