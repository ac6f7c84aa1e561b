import { createHash } from "node:crypto";

/** The namespace of reservation ids derived from idempotency keys; fixed forever, or repeats would diverge. */
const NAMESPACE = "18114e89-bc05-4f70-94f6-c8e7c9b8b287";

/**
 * The reservation id of a booking attempt named by an idempotency key: a name-based UUID (RFC 9562
 * version 5: SHA-1 of the namespace and the name) of the person and the key. The same person and
 * key always give the same id, so concurrent and repeated Reserves book one reservation; another
 * person's identical key gives another id.
 */
export function reservationIdForKey(personId: string, idempotencyKey: string): string {
  const hash = createHash("sha1")
    .update(
      Uint8Array.from(NAMESPACE.replaceAll("-", "").match(/../g) ?? [], (byte) => Number.parseInt(byte, 16)),
    )
    .update(JSON.stringify([personId, idempotencyKey]), "utf8")
    .digest();
  const bytes = Uint8Array.from(hash.subarray(0, 16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
