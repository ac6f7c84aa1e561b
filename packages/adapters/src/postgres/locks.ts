import { execute } from "../kit/statements.ts";
import { withNext } from "./client.ts";
import type { EntityManager } from "./database.ts";

/**
 * Locks a key until the transaction ends, whether or not a row exists for it yet: two consumers
 * creating the same record from events that race serialize here instead of losing an update. The
 * lock goes to PostgreSQL with the transaction's next statement, ahead of it (client.ts's `withNext`).
 */
export async function lockKey(em: EntityManager, namespace: string, key: string): Promise<void> {
  await execute(em, withNext("select pg_advisory_xact_lock(hashtextextended($1, 0))"), [
    `${namespace}:${key}`,
  ]);
}

/** Several keys' advisory locks in one statement, taken in key order (so two takers never deadlock). */
export async function lockKeys(em: EntityManager, namespace: string, keys: readonly string[]): Promise<void> {
  const sorted = [...new Set(keys)].sort();
  if (sorted.length === 0) return;
  await execute(
    em,
    withNext(
      "select pg_advisory_xact_lock(hashtextextended(k, 0)) from (select k from unnest($1::text[]) as v(k) order by k) as ordered",
    ),
    [sorted.map((key) => `${namespace}:${key}`)],
  );
}

/**
 * Reads a row under a write lock held until commit (`read` selects FOR UPDATE). When the row does not
 * exist yet, the key's advisory lock serializes the transactions that would create it, and the row
 * is read again: the one that waited sees the row the first one committed. The usual case, a row
 * that exists, costs one statement. Without `lock` (outside a unit of work) it only reads.
 */
export async function lockedRow<Row>(
  em: EntityManager,
  lock: { readonly namespace: string; readonly key: string } | undefined,
  read: () => Promise<Row | null | undefined>,
): Promise<Row | null | undefined> {
  const row = await read();
  if (row || !lock) return row;
  await lockKey(em, lock.namespace, lock.key);
  return read();
}
