/** Who is signed in: the bearer token sent with every call, and what it says. */
export interface Session {
  readonly token: string;
  readonly subject: string;
  readonly roles: readonly string[];
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  /** How the session was opened, so signing out can end it the same way. */
  readonly via: "development" | "oidc";
}

const KEY = "hexa.console.session";

export function storedSession(now = Date.now()): Session | undefined {
  const text = sessionStorage.getItem(KEY);
  if (!text) return undefined;
  const session = JSON.parse(text) as Session;
  if (session.expiresAt * 1000 <= now) {
    sessionStorage.removeItem(KEY);
    return undefined;
  }
  return session;
}

export function storeSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

/** The claims of a JWT's payload (not verified: the services verify every call). */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split(".")[1];
  if (!payload) throw new Error("not a JWT");
  const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
}

/**
 * The role names in `claim` (an array or a space-separated string), as the services read them:
 * the claim of that very name (a namespaced `https://…/roles`), else the dotted path into objects.
 */
export function rolesOf(claims: Record<string, unknown>, claim: string): string[] {
  let value: unknown = claims[claim];
  if (value === undefined) {
    value = claims;
    for (const part of claim.split(".")) {
      value =
        typeof value === "object" && value !== null ? (value as Record<string, unknown>)[part] : undefined;
    }
  }
  if (Array.isArray(value)) return value.filter((role): role is string => typeof role === "string");
  return typeof value === "string" ? value.split(/\s+/).filter(Boolean) : [];
}

/** A session from a token, its roles read from `roleClaim`. */
export function sessionOf(token: string, roleClaim: string, via: Session["via"]): Session {
  const claims = claimsOf(token);
  return {
    token,
    subject: String(claims.sub ?? ""),
    roles: rolesOf(claims, roleClaim),
    expiresAt: Number(claims.exp ?? 0),
    via,
  };
}

/** Laptop mode: asks the all-in-one for a development token. */
export async function developmentSignIn(endpoint: string, role: string, subject: string): Promise<Session> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ role, subject }),
  });
  const answer = (await response.json().catch(() => ({}))) as { token?: string; error?: string };
  if (!response.ok || !answer.token) {
    throw new Error(answer.error ?? `sign-in answered HTTP ${response.status}`);
  }
  return sessionOf(answer.token, "roles", "development");
}
