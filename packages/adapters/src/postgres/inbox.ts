import type { EventEnvelope } from "../messaging/bus.ts";
import type { EntityManager, ServiceDatabase } from "./database.ts";

/**
 * Makes a consumer idempotent: the handler's effect and the inbox row (consumer, event id) commit in
 * one transaction, so a redelivered event is skipped. Two replicas racing on one event serialize on
 * the inbox's primary key; the second finds it handled.
 */
export function handledOnce(
  db: ServiceDatabase,
  consumer: string,
  handle: (em: EntityManager, event: EventEnvelope) => Promise<void>,
): (event: EventEnvelope) => Promise<void> {
  return (event) =>
    db.transaction(async (em) => {
      const claimed: unknown[] = await em.execute(
        `insert into ${db.table("inbox")} (consumer, event_id) values (?, ?) on conflict do nothing returning event_id`,
        [consumer, event.id],
      );
      if (claimed.length === 0) return;
      await handle(em, event);
    });
}
