// `./hexa token --role customer --sub alice [--ttl 1h]` prints a development token (a JWT signed
// with the all-in-one's development key) for curl and other callers:
//
//   curl -H "Authorization: Bearer $(./hexa token --role marketer --sub m1)" …
//
// --role may be repeated or comma-separated. The key is AUTH_DEV_KEY_DIR, else DATA_DIR/auth
// (.data/auth), created when missing. With a real identity provider (AUTH_JWKS_URL) tokens come
// from it instead.
import { parseTtl, ROLES } from "@hexa/adapters/auth/tokens";
import { commandLine, usageError } from "./cli.ts";
import { devToken } from "./dev-tokens.ts";

const usage = `usage: ./hexa token --role <role>[,<role>…] --sub <subject> [--ttl 1h]

Prints a development token signed with the key in AUTH_DEV_KEY_DIR, else DATA_DIR/auth (created
when missing), as the all-in-one verifies them.
roles: ${ROLES.join(", ")}`;

const { values } = commandLine(usage, {
  role: { type: "string", multiple: true },
  sub: { type: "string" },
  ttl: { type: "string", default: "1h" },
});
const roles = (values.role ?? []).flatMap((role) => role.split(",")).filter(Boolean);
if (roles.length === 0) usageError("--role is required", usage);
const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
if (unknown.length > 0) usageError(`unknown role ${unknown.join(", ")}`, usage);
if (!values.sub) usageError("--sub is required", usage);
let ttlSeconds: number;
try {
  ttlSeconds = parseTtl(values.ttl);
} catch (error) {
  usageError(`--ttl: ${(error as Error).message}`, usage);
}
console.log(await devToken(roles, values.sub, ttlSeconds));
