import type { EntityManager } from "./database.ts";

/**
 * Locks a key until the transaction ends, whether or not a row exists for it yet: two consumers
 * creating the same record from events that race serialize here instead of losing an update.
 */
export async function lockKey(em: EntityManager, namespace: string, key: string): Promise<void> {
  await em.execute("select pg_advisory_xact_lock(hashtextextended(?, 0))", [`${namespace}:${key}`]);
}
