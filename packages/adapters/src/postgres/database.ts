import { Unavailable } from "@hexa/core/shared";
import type { EntitySchema } from "@mikro-orm/core";
import { Migration, Migrator } from "@mikro-orm/migrations";
import { type EntityManager, MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import type { Logger } from "pino";
import { sendHeldWrites } from "../kit/statements.ts";
import { ReadSession, UnitOfWork } from "../kit/unit-of-work.ts";
import type { EventEnvelope } from "../messaging/bus.ts";
import { serviceClient } from "./client.ts";

export type { EntityManager } from "@mikro-orm/postgresql";

/** One migration: a stable name (sorted order is applied order) and the SQL it runs in the service's schema. */
export interface SchemaMigration {
  readonly name: string;
  readonly sql: readonly string[];
}

/** Values as an SQL list of text literals, `'a', 'b'`: for CHECK constraints in migrations, never for input. */
export function quotedList(values: readonly string[]): string {
  return values.map((value) => `'${value}'`).join(", ");
}

export interface ServiceDatabaseOptions {
  readonly url: string;
  /** The service's own Postgres schema; no other service reads or writes it. */
  readonly schema: string;
  // biome-ignore lint/suspicious/noExplicitAny: entity schemas of any shape
  readonly entities: readonly EntitySchema<any, any>[];
  readonly migrations: readonly SchemaMigration[];
  readonly logger: Logger;
  readonly poolSize?: number;
  /** How long opening a connection may take (the database unreachable) before the work fails unavailable. */
  readonly connectTimeoutMs?: number;
}

/**
 * How long a pooled connection may sit idle before the pool closes it: five minutes, not pg-pool's
 * 10 s. A connection costs PostgreSQL a process to open, and its prepared statements are parsed
 * again on first use, so closing them after 10 s made the first half-second of every burst after a
 * short pause slow (docs/benchmarks.md: propagation p99 87–139 ms, against 27–59 ms with them kept).
 */
const IDLE_CONNECTION_MS = 300_000;

/** A service's store: its own schema, migrated at start, with a unit of work per command. */
export interface ServiceDatabase {
  readonly schema: string;
  /** The connection URL, for the few things MikroORM does not do (LISTEN). */
  readonly url: string;
  /**
   * Runs `work` in one transaction on a fresh entity manager: a unit of work. When it returns, writes
   * the events of the aggregates saved in it to the outbox, then commits; resolves with `work`'s
   * result and those events (to publish, now that they are committed).
   */
  unitOfWork<T>(work: (unit: UnitOfWork) => Promise<T>): Promise<Committed<T>>;
  /** {@link unitOfWork} on the bare entity manager, for work that saves no aggregate (the relay's own statements). */
  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T>;
  /** Reads outside a transaction, for read ports. */
  read(): ReadSession;
  /** A fresh entity manager for reads outside a transaction. */
  reader(): EntityManager;
  /** Schema-qualified, quoted table name for raw SQL. */
  table(name: string): string;
  /** Runs one SQL statement outside any unit of work (`?` placeholders). */
  execute<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  isReachable(): Promise<boolean>;
  close(): Promise<void>;
}

/** What a committed unit of work returned, and the events it wrote to the outbox. */
export interface Committed<T> {
  readonly result: T;
  readonly events: readonly EventEnvelope[];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openServiceDatabase(options: ServiceDatabaseOptions): Promise<ServiceDatabase> {
  if (!IDENTIFIER.test(options.schema))
    throw new Error(`schema name ${options.schema} is not a plain identifier`);
  const migrationsList = [...options.migrations]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((migration) => ({ name: migration.name, class: sqlMigration(migration.sql) }));
  // A Unix socket's directory comes as libpq's `host` parameter, which MikroORM's URL parsing drops.
  const socketDir = new URL(options.url).searchParams.get("host");
  const orm = await MikroORM.init({
    clientUrl: options.url,
    ...(socketDir ? { host: socketDir } : {}),
    schema: options.schema,
    // Several services may share one process (the all-in-one), and one service's work can run inside
    // another's transaction (the embedded bus delivers from the relay's transaction): a context name
    // of its own keeps each store's transactions apart.
    contextName: `hexa:${options.schema}`,
    // biome-ignore lint/suspicious/noExplicitAny: MikroORM's entity list type is narrower than EntitySchema<any>
    entities: [...options.entities] as any[],
    discovery: { warnWhenNoEntities: false },
    extensions: [Migrator],
    pool: { min: 0, max: options.poolSize ?? 10, idleTimeoutMillis: IDLE_CONNECTION_MS },
    driverOptions: {
      // Connects within the timeout, prepares statements, sends BEGIN and COMMIT with them (client.ts).
      Client: serviceClient(options.connectTimeoutMs ?? 5_000),
      keepAlive: true,
      onPoolCreated: (pool: pg.Pool) => dropBrokenConnections(pool, options.logger),
    },
    migrations: {
      schema: options.schema,
      tableName: "schema_migrations",
      migrationsList,
      snapshot: false,
      snapshotOnMigrate: false,
      silent: true,
    },
  });
  try {
    await migrate(orm, options);
  } catch (error) {
    await orm.close();
    throw error;
  }
  const table = (name: string) => `"${options.schema}"."${name}"`;
  // MikroORM's explicit transaction on an entity manager of the unit's own: begin, the work, then
  // flush and commit, or roll back. (`transactional` does the same on a second fork, which it then
  // merges into the first, for nothing here: a unit of work is never nested in another.)
  const unitOfWork = <T>(work: (unit: UnitOfWork) => Promise<T>): Promise<Committed<T>> =>
    unavailableWhenUnreachable(async () => {
      const em = orm.em.fork();
      await em.begin();
      try {
        const unit = new UnitOfWork(em, table("outbox"));
        const result = await work(unit);
        await unit.writeOutbox();
        // The last statement carries the COMMIT (client.ts).
        await sendHeldWrites(em, { commit: true });
        await em.commit();
        return { result, events: unit.events };
      } catch (error) {
        // A rollback failing (the connection lost) must not hide why the work failed.
        await em.rollback().catch((rollbackError: unknown) => {
          options.logger.warn({ err: rollbackError }, "rolling back a unit of work failed");
        });
        throw error;
      }
    });
  return {
    schema: options.schema,
    url: options.url,
    unitOfWork,
    transaction: async (work) => (await unitOfWork((unit) => work(unit.em))).result,
    read: () => new ReadSession(orm.em.fork()),
    reader: () => orm.em.fork(),
    table,
    execute: (sql, params = []) =>
      unavailableWhenUnreachable(() => orm.em.getConnection().execute(sql, [...params])),
    isReachable: async () => {
      try {
        await orm.em.getConnection().execute("select 1");
        return true;
      } catch {
        return false;
      }
    },
    close: () => orm.close(),
  };
}

/**
 * A connection the server dropped (restart, failover, `pg_terminate_backend`) leaves the pool at
 * once, also while it is checked out: the unit of work holding it fails, and the connection is not
 * waited for, since a transaction whose rollback fails never hands it back. The pool then opens
 * new connections as work asks for them, each attempt bounded by the connect timeout.
 */
function dropBrokenConnections(pool: pg.Pool, logger: Logger): void {
  const checkedOut = new Set<pg.PoolClient>();
  pool.on("acquire", (client) => checkedOut.add(client));
  pool.on("release", (_error, client) => checkedOut.delete(client));
  pool.on("connect", (client) => {
    const broken = (error?: Error) => {
      if (!checkedOut.has(client)) return; // an idle one: the pool drops it itself
      checkedOut.delete(client);
      const release = client.release;
      // The holder's own release, when it comes, finds the connection gone already.
      client.release = () => {};
      release(error ?? new Error("connection ended"));
      logger.warn({ err: error }, "database connection lost; dropped from the pool");
    };
    client.on("error", broken);
    client.on("end", () => broken());
  });
}

/** SQLSTATE classes and codes, and socket errors, that mean the database cannot be reached (not that the work is wrong). */
const UNREACHABLE_STATES = /^(08|57P0[1-3]|53300)/;
const UNREACHABLE_SOCKET_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
]);
const UNREACHABLE_MESSAGES =
  /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended|connection lost/i;

/** Work failed because the database could not be reached: retry once it answers. */
export class DatabaseUnreachable extends Unavailable {
  constructor() {
    super("the database is unreachable right now, retry later");
    this.name = "DatabaseUnreachable";
  }
}

/** True when `error` says the database could not be reached or dropped the connection: worth retrying later. */
export function isDatabaseUnreachable(error: unknown): boolean {
  if (error instanceof DatabaseUnreachable) return true;
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && (UNREACHABLE_STATES.test(code) || UNREACHABLE_SOCKET_ERRORS.has(code)))
      return true;
    if (UNREACHABLE_MESSAGES.test(cause.message)) return true;
    cause = cause.cause;
  }
  return false;
}

/** Runs `work`; a failure because the database is unreachable becomes {@link Unavailable}, which callers retry. */
async function unavailableWhenUnreachable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isDatabaseUnreachable(error)) throw new DatabaseUnreachable();
    throw error;
  }
}

function sqlMigration(
  statements: readonly string[],
): new (
  ...args: ConstructorParameters<typeof Migration>
) => Migration {
  return class extends Migration {
    override async up(): Promise<void> {
      for (const statement of statements) this.addSql(statement);
    }
  };
}

/**
 * Creates the schema and applies pending migrations. Replicas starting together on a new database
 * take turns: a session advisory lock per schema, held on a connection of its own while the
 * migrator runs on the pool.
 */
async function migrate(orm: MikroORM, options: ServiceDatabaseOptions): Promise<void> {
  const guard = new pg.Client({ connectionString: options.url });
  await guard.connect();
  try {
    await guard.query("select pg_advisory_lock(hashtextextended($1, 0))", [`hexa-migrate:${options.schema}`]);
    await orm.em.getConnection().execute(`create schema if not exists "${options.schema}"`);
    const applied = await orm.migrator.up();
    for (const migration of applied) {
      options.logger.info({ schema: options.schema, migration: migration.name }, "migration applied");
    }
  } finally {
    await guard.end();
  }
}
