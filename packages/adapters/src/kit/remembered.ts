import { Unavailable } from "@hexa/core/shared";
import type { ReadPort } from "./aggregate-store.ts";
import type { Route } from "./context.ts";

/**
 * The SQLSTATE a guard in the database raises when the statement it checks relies on a remembered
 * read that no longer holds (see {@link Remembered}).
 */
export const STALE_READ_STATE = "HX001";

/** Values remembered at most; past it, everything is forgotten and read again. */
const MAX_REMEMBERED = 10_000;

/**
 * Records a service reads far more often than they change, remembered between units of work, so a
 * unit that relies on one sends no statement to read it. This is only right because the database
 * checks again, in the statement that relies on the read (a trigger on the table written), that the
 * record still holds what the unit relied on, under the lock the read would have taken; when it no
 * longer does, the guard fails the statement with {@link STALE_READ_STATE}, nothing of the unit is
 * committed, and {@link route} forgets everything and runs the call once more on fresh reads.
 * Only values that `keep` accepts are remembered (an active plan, never an ended or unknown one). A
 * record that never changes once written (a hospital) needs no guard, and its calls no {@link route}.
 */
export class Remembered<Key, Value> {
  readonly #values = new Map<Key, Value>();
  readonly #keep: (value: Value) => boolean;

  constructor(keep: (value: Value) => boolean) {
    this.#keep = keep;
  }

  /** `port`, answered from memory for what was remembered, and remembering what it reads and `keep` accepts. */
  reads(port: ReadPort<Value, Key>): ReadPort<Value, Key> {
    return {
      get: async (key) => {
        const known = this.#values.get(key);
        if (known !== undefined) return known;
        const read = await port.get(key);
        if (read !== undefined && this.#keep(read)) {
          if (this.#values.size >= MAX_REMEMBERED) this.#values.clear();
          this.#values.set(key, read);
        }
        return read;
      },
    };
  }

  /**
   * `route`, run once more on fresh reads when a guard finds what it relied on stale. Stale twice in a
   * row (the record changed again meanwhile), the call is refused as unavailable, to be retried.
   */
  route<Request, Response>(route: Route<Request, Response>): Route<Request, Response> {
    return async (request, call) => {
      try {
        return await route(request, call);
      } catch (error) {
        if (!isStaleRead(error)) throw error;
        this.#values.clear();
      }
      try {
        return await route(request, call);
      } catch (error) {
        if (!isStaleRead(error)) throw error;
        throw new Unavailable("what the call relied on changed while it ran; retry", {
          rule: "remembered-read-changed",
          afterMs: 100,
        });
      }
    };
  }
}

/** True when `error` (or one of its causes) is a guard's {@link STALE_READ_STATE}. */
export function isStaleRead(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; depth++) {
    if ((cause as { code?: unknown }).code === STALE_READ_STATE) return true;
    cause = cause.cause;
  }
  return false;
}
