import { PermissionDenied } from "./errors.ts";

/** The roles a caller's token may carry. `admin` may do everything; `service` is another service. */
export const ROLES = [
  "marketer",
  "customer",
  "courier",
  "warehouse",
  "admin",
  "vaccine-manager",
  "reservation-manager",
  "person",
  "service",
] as const;

export type Role = (typeof ROLES)[number];

/** Who is calling, as far as a use case needs to know. */
export interface Actor {
  /** The token's subject: a customer or person id for those roles. */
  readonly subject: string;
  readonly roles: readonly Role[];
  /**
   * True when the caller may act only on what it owns (a customer's orders, a person's
   * reservations): no other role it holds grants the call.
   */
  readonly ownOnly: boolean;
}

/**
 * The ownership rule: a caller limited to its own resources may touch one only when it is the
 * owner. Everyone else the access declarations let through passes; without an actor (no
 * authentication ran) nothing passes.
 */
export function requireOwnership(actor: Actor | undefined, ownerId: string | undefined, what: string): void {
  if (actor && !actor.ownOnly) return;
  if (!actor || ownerId === undefined || ownerId === "" || ownerId !== actor.subject) {
    throw new PermissionDenied(`${what} belongs to someone else`);
  }
}
