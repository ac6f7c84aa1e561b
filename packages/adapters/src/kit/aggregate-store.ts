import type { DomainEvent } from "@hexa/core/shared";
import type { EntityName } from "@mikro-orm/core";
import type { EventEnvelope } from "../messaging/bus.ts";
import { EntityTable } from "./statements.ts";
import type { ReadSession, UnitOfWork } from "./unit-of-work.ts";

/**
 * How a unit of work's `get` locks what it reads, until commit:
 * - `row`: the row FOR UPDATE. For records only a command creates, under a new id.
 * - `row-or-key`: the row FOR UPDATE; while it does not exist, the key (an advisory lock) and the row
 *   read again, so two transactions creating it serialize. One statement when the row exists.
 * - `key`: the key first, then the row FOR UPDATE. For records that events race to create, when a
 *   second attempt is costly (a plan's end, which waits for the orders being placed).
 * - `row-or-insert`: the row FOR UPDATE; a record not there yet is created by a plain INSERT, so of two
 *   transactions creating it at once the second fails on the primary key, and its event is handled
 *   again (by then the row exists and is locked). One statement, and no advisory lock, for records
 *   that events rarely race to create.
 * - `key-not-row`: the key, and the row read as committed, not locked: for records also changed
 *   under another record's lock (a booking, which a discard releases under its stock's lock), where
 *   a row lock taken before that other lock would make the two wait on each other.
 * - `immutable`: nothing; for records never changed once written (a hospital). `save` inserts, so
 *   writing one twice fails on the primary key.
 */
export type WriteLock = "row" | "row-or-key" | "key" | "row-or-insert" | "key-not-row" | "immutable";

/** An aggregate root as the store sees it: its recorded events are handed to the unit of work. */
interface RecordsEvents<Event extends DomainEvent> {
  pullEvents(): Event[];
}

/** A store of one aggregate type in one table, configured instead of written (see {@link aggregateStore}). */
export interface AggregateTable<Aggregate, Key, Row extends object, Event extends DomainEvent> {
  /** The MikroORM entity of the table. */
  readonly entity: EntityName<Row>;
  /** The row's primary key (its properties) for an aggregate's key. */
  readonly key: (key: Key) => Partial<Row>;
  /** The namespace of its keys' advisory locks (`<namespace>:<key>`); needed by the locks on keys. */
  readonly lockNamespace?: string;
  readonly lock: WriteLock;
  /** The aggregate of a stored row. */
  readonly restore: (row: Row) => Aggregate;
  /** The row that stores an aggregate. */
  readonly record: (aggregate: Aggregate) => Partial<Row>;
  /** The wire form of its events; omitted for a store whose aggregates record none (a read model). */
  readonly encode?: (event: Event) => EventEnvelope;
  /**
   * Write the row only when it changed: `true` when every change records an event, else what the
   * aggregate says (for aggregates that record none).
   */
  readonly onlyWhenChanged?: boolean | ((aggregate: Aggregate) => boolean);
}

/** Reads outside a transaction: never locks, cannot save. */
export interface ReadPort<Aggregate, Key> {
  get(key: Key): Promise<Aggregate | undefined>;
}

/**
 * Reads and saves in a unit of work: `get` always locks (as the table declares), and `save` hands the
 * aggregate's events to the unit, which writes them to the outbox when it commits.
 */
export interface WritePort<Aggregate, Key> {
  get(key: Key): Promise<Aggregate | undefined>;
  save(aggregate: Aggregate): Promise<void>;
  /** Saves several in one statement (each as `save` would, in one `INSERT … ON CONFLICT`). */
  saveAll(aggregates: readonly Aggregate[]): Promise<void>;
}

export interface AggregateStore<Aggregate, Key> {
  reader(session: ReadSession): ReadPort<Aggregate, Key>;
  writer(unit: UnitOfWork): WritePort<Aggregate, Key>;
  /** Reads in a unit of work under a shared lock: others may read it so, none may change it meanwhile. */
  shared(unit: UnitOfWork): ReadPort<Aggregate, Key>;
}

/**
 * One generic store for an aggregate, configured by its table, key, `restore`, row and encoder. Its
 * statements send their values as parameters (statements.ts): one to read, one to write.
 */
export function aggregateStore<Aggregate, Key, Row extends object, Event extends DomainEvent = never>(
  table: AggregateTable<Aggregate, Key, Row, Event>,
): AggregateStore<Aggregate, Key> {
  const rows = new EntityTable(table.entity);
  const find = async (
    em: ReadSession["em"],
    key: Key,
    lock: "" | "for update" | "for share" = "",
  ): Promise<Aggregate | undefined> => {
    const row = await rows.find(em, table.key(key), lock);
    return row ? table.restore(row) : undefined;
  };
  const keyLock = (unit: UnitOfWork, key: Key) => {
    if (!table.lockNamespace) throw new Error("a store that locks keys names their namespace");
    return unit.lockKeys(table.lockNamespace, [typeof key === "string" ? key : JSON.stringify(key)]);
  };
  /** The aggregates to write, with their events handed to the unit; unchanged ones left out. */
  const toWrite = (unit: UnitOfWork, aggregates: readonly Aggregate[]) =>
    aggregates.filter((aggregate) => {
      const { onlyWhenChanged, encode } = table;
      const events = encode ? (aggregate as RecordsEvents<Event>).pullEvents() : [];
      if (encode) unit.saved(events.map(encode));
      return typeof onlyWhenChanged === "function"
        ? onlyWhenChanged(aggregate)
        : !onlyWhenChanged || events.length > 0;
    });
  return {
    reader: (session) => ({ get: (key) => find(session.em, key) }),
    shared: (unit) => ({ get: (key) => find(unit.em, key, "for share") }),
    writer: (unit) => {
      /** Keys of the rows this port has seen exist (read under lock, or written). */
      const existing = new Set<string>();
      return {
        get: async (key) => {
          if (table.lock === "immutable") return find(unit.em, key);
          if (table.lock === "key" || table.lock === "key-not-row") await keyLock(unit, key);
          let found = await find(unit.em, key, table.lock === "key-not-row" ? "" : "for update");
          if (!found && table.lock === "row-or-key") {
            await keyLock(unit, key);
            found = await find(unit.em, key, "for update");
          }
          if (found) existing.add(rows.keyOf(unit.em, table.key(key)));
          return found;
        },
        save: async (aggregate) => {
          const [changed] = toWrite(unit, [aggregate]);
          if (!changed) return;
          const row = table.record(changed);
          const key = rows.keyOf(unit.em, row);
          const insertOnly =
            table.lock === "immutable" || (table.lock === "row-or-insert" && !existing.has(key));
          await rows.upsert(unit.em, [row], insertOnly);
          existing.add(key);
        },
        saveAll: async (aggregates) => {
          const changed = toWrite(unit, aggregates).map(table.record);
          if (changed.length === 0) return;
          await rows.upsert(unit.em, changed, table.lock === "immutable");
          for (const row of changed) existing.add(rows.keyOf(unit.em, row));
        },
      };
    },
  };
}
