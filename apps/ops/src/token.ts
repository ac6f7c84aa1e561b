// `./hexa token --role customer --sub alice [--ttl 1h]` prints a development token (a JWT signed
// with the all-in-one's development key) for curl and other callers:
//
//   curl -H "Authorization: Bearer $(./hexa token --role marketer --sub m1)" …
//
// --role may be repeated or comma-separated. The key is AUTH_DEV_KEY_DIR, else DATA_DIR/auth
// (.data/auth), created when missing. With a real identity provider (AUTH_JWKS_URL) tokens come
// from it instead.
import { parseTtl, ROLES } from "@hexa/adapters/auth/tokens";
import { devToken } from "./dev-tokens.ts";

const usage = `usage: ./hexa token --role <role>[,<role>…] --sub <subject> [--ttl 1h]
roles: ${ROLES.join(", ")}`;

function fail(message: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

const roles: string[] = [];
let subject = "";
let ttl = "1h";
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const value = args[i + 1];
  switch (args[i]) {
    case "--role":
      roles.push(...(value ?? "").split(",").filter(Boolean));
      i++;
      break;
    case "--sub":
      subject = value ?? "";
      i++;
      break;
    case "--ttl":
      ttl = value ?? "";
      i++;
      break;
    case "-h":
    case "--help":
      console.log(usage);
      process.exit(0);
      break;
    default:
      fail(`unknown argument ${args[i]}`);
  }
}
if (roles.length === 0) fail("--role is required");
const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
if (unknown.length > 0) fail(`unknown role ${unknown.join(", ")}`);
if (!subject) fail("--sub is required");
let ttlSeconds: number;
try {
  ttlSeconds = parseTtl(ttl);
} catch (error) {
  fail((error as Error).message);
}
console.log(await devToken(roles, subject, ttlSeconds));
