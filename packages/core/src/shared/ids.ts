import { randomFillSync } from "node:crypto";
import type { Clock } from "./clock.ts";

/** Where the domain gets new identifiers. */
export interface IdGenerator {
  next(): string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by creation time.
 * Within one millisecond the 12-bit `rand_a` field counts up, keeping ids from one generator ordered.
 */
export class UuidV7Generator implements IdGenerator {
  readonly #clock: Clock;
  readonly #random: (bytes: Uint8Array) => void;
  #lastMs = -1;
  #counter = 0;

  constructor(clock: Clock, random: (bytes: Uint8Array) => void = pooledRandom()) {
    this.#clock = clock;
    this.#random = random;
  }

  next(): string {
    let ms = this.#clock.now().getTime();
    if (ms <= this.#lastMs) {
      this.#counter += 1;
      if (this.#counter > 0xfff) {
        this.#lastMs += 1;
        this.#counter = 0;
      }
      ms = this.#lastMs;
    } else {
      this.#lastMs = ms;
      this.#counter = 0;
    }
    const bytes = new Uint8Array(16);
    this.#random(bytes);
    for (let i = 0; i < 6; i++) bytes[i] = Math.floor(ms / 2 ** (8 * (5 - i))) & 0xff;
    bytes[6] = 0x70 | ((this.#counter >> 8) & 0x0f);
    bytes[7] = this.#counter & 0xff;
    bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
    let hex = "";
    for (const byte of bytes) hex += HEX[byte];
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/**
 * Random bytes handed out from a pool the system's source fills 4 KiB at a time: one call for 256
 * ids rather than one for each (each call costs about 2 µs, the copy a few nanoseconds).
 */
function pooledRandom(): (bytes: Uint8Array) => void {
  const pool = new Uint8Array(4096);
  let used = pool.length;
  return (bytes) => {
    if (used + bytes.length > pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    bytes.set(pool.subarray(used, used + bytes.length));
    used += bytes.length;
  };
}
