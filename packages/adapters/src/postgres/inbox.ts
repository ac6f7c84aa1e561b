import { execute, holdWrite, RowsText } from "../kit/statements.ts";
import type { UnitOfWork } from "../kit/unit-of-work.ts";
import type { EventEnvelope } from "../messaging/bus.ts";
import type { EntityManager, ServiceDatabase } from "./database.ts";

/**
 * Makes a consumer idempotent: the handler's effects and the inbox rows (consumer, event id) commit
 * in one transaction, so a redelivered event is skipped. Two replicas racing on one event serialize
 * on the inbox's primary key; the second finds it handled.
 *
 * The returned function takes one event or several, and returns the events that handling them
 * wrote to the outbox (to publish once it resolves, the transaction having committed).
 *
 * One event (how they come while a consumer keeps up) is claimed with the transaction's last
 * statement: its inbox row is held back (`holdWrite`) and goes out with the handler's last write and
 * the COMMIT, so the claim costs no round trip of its own. An event handled before fails that
 * statement on the inbox's primary key, and the transaction is undone: the handler ran, but nothing
 * it did is kept. So is one whose handler fails on what its earlier handling changed (the inbox then
 * tells it was handled).
 *
 * Several are claimed first, in one statement, and handled in one transaction, each on a cleared
 * entity manager so none sees another's loaded entities; a failure of any undoes them all. They are
 * claimed and handled in order of aggregate id (events of one aggregate keep their order), so that
 * batches running at once lock aggregates in the same order rather than deadlock.
 */
export function handledOnce(
  db: ServiceDatabase,
  consumer: string,
  handle: (unit: UnitOfWork, event: EventEnvelope) => Promise<void>,
): (events: readonly EventEnvelope[]) => Promise<{ written: readonly EventEnvelope[] }> {
  const inbox = db.table("inbox");
  const inboxInsert = `insert into ${inbox} (consumer, event_id) values ($1, $2)`;
  const claimText = new RowsText(
    `insert into ${inbox} (consumer, event_id)`,
    2,
    "on conflict do nothing returning event_id",
  );
  const handleAlone = async (event: EventEnvelope) => {
    try {
      const committed = await db.unitOfWork(async (unit) => {
        await handle(unit, event);
        await holdWrite(unit.em, {
          table: inbox,
          sql: inboxInsert,
          params: [consumer, event.id],
        });
      });
      return { written: committed.events };
    } catch (error) {
      // A repeat fails on the inbox's key once the first handling has committed, so the inbox tells.
      if (await handledBefore(db, consumer, event).catch(() => false)) return { written: [] };
      throw error;
    }
  };
  return async (events) => {
    if (events.length === 1 && events[0]) return handleAlone(events[0]);
    const inLockOrder = [...events].sort((a, b) =>
      a.aggregateId < b.aggregateId ? -1 : a.aggregateId > b.aggregateId ? 1 : 0,
    );
    const committed = await db.unitOfWork(async (unit) => {
      for (const event of await claim(unit.em, claimText, consumer, inLockOrder)) {
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
  claimText: RowsText,
  consumer: string,
  events: readonly EventEnvelope[],
): Promise<EventEnvelope[]> {
  if (events.length === 0) return [];
  const rows = await execute<{ event_id: string }>(
    em,
    claimText.of(events.length),
    events.flatMap((event) => [consumer, event.id]),
  );
  const unclaimed = new Set(rows.map((row) => row.event_id.toLowerCase()));
  return events.filter((event) => unclaimed.delete(event.id.toLowerCase()));
}

async function handledBefore(db: ServiceDatabase, consumer: string, event: EventEnvelope): Promise<boolean> {
  const rows = await db.execute(`select 1 from ${db.table("inbox")} where consumer = ? and event_id = ?`, [
    consumer,
    event.id,
  ]);
  return rows.length > 0;
}
