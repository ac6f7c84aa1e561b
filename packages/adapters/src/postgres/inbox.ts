import { execute, placeholders } from "../kit/statements.ts";
import type { UnitOfWork } from "../kit/unit-of-work.ts";
import type { EventEnvelope } from "../messaging/bus.ts";
import type { EntityManager, ServiceDatabase } from "./database.ts";

/**
 * Makes a consumer idempotent: the handler's effects and the inbox rows (consumer, event id) commit
 * in one transaction, so a redelivered event is skipped. Two replicas racing on one event serialize
 * on the inbox's primary key; the second finds it handled.
 *
 * The returned function takes one event or several, and returns the events that handling them
 * wrote to the outbox (to publish once it resolves, the transaction having committed). Several are
 * claimed in one statement and handled in one transaction, each on a cleared entity manager so none
 * sees another's loaded entities; a failure of any undoes them all.
 * They are claimed and handled in order of aggregate id (events of one aggregate keep their order),
 * so that batches running at once lock aggregates in the same order rather than deadlock.
 */
export function handledOnce(
  db: ServiceDatabase,
  consumer: string,
  handle: (unit: UnitOfWork, event: EventEnvelope) => Promise<void>,
): (events: readonly EventEnvelope[]) => Promise<{ written: readonly EventEnvelope[] }> {
  return async (events) => {
    const inLockOrder = [...events].sort((a, b) =>
      a.aggregateId < b.aggregateId ? -1 : a.aggregateId > b.aggregateId ? 1 : 0,
    );
    const committed = await db.unitOfWork(async (unit) => {
      for (const event of await claim(unit.em, db, consumer, inLockOrder)) {
        await handle(unit, event);
        unit.em.clear();
      }
    });
    return { written: committed.events };
  };
}

/** The events not handled before, in the order given, each once. */
async function claim(
  em: EntityManager,
  db: ServiceDatabase,
  consumer: string,
  events: readonly EventEnvelope[],
): Promise<EventEnvelope[]> {
  if (events.length === 0) return [];
  const rows = await execute<{ event_id: string }>(
    em,
    `insert into ${db.table("inbox")} (consumer, event_id) values ${events.map((_, i) => `(${placeholders(2, i * 2 + 1)})`).join(", ")}
     on conflict do nothing returning event_id`,
    events.flatMap((event) => [consumer, event.id]),
  );
  const unclaimed = new Set(rows.map((row) => row.event_id.toLowerCase()));
  return events.filter((event) => unclaimed.delete(event.id.toLowerCase()));
}
