/**
 * Text no service stores: a request whose strings hold a NUL character (PostgreSQL's text cannot
 * hold one) or an unpaired UTF-16 surrogate is refused with INVALID_ARGUMENT naming the field,
 * before any handler sees it.
 */
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type UnaryRequest,
} from "@connectrpc/connect";

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what is refused
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The path of the first string in `value` that cannot be stored, if any. */
export function unstorableText(value: unknown, path = ""): string | undefined {
  if (typeof value === "string") return UNSTORABLE.test(value) ? path || "request" : undefined;
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return undefined;
  for (const [key, item] of Object.entries(value)) {
    if (key === "$typeName" || key === "$unknown") continue;
    const found = unstorableText(
      item,
      Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key,
    );
    if (found) return found;
  }
  return undefined;
}

function check(message: unknown): void {
  const field = unstorableText(message);
  if (field) throw new ConnectError(`${field}: must be text without NUL characters`, Code.InvalidArgument);
}

/** Refuses requests carrying text that cannot be stored (see the module comment). */
export function storableTextInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) {
      check((req as UnaryRequest).message);
      return next(req);
    }
    const stream = req as StreamRequest;
    return next({ ...stream, message: checked(stream.message) });
  };
}

async function* checked<T>(source: AsyncIterable<T>): AsyncIterable<T> {
  for await (const message of source) {
    check(message);
    yield message;
  }
}
