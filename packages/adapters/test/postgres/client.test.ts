import { serviceClient, thenCommit, withNext } from "@hexa/adapters/postgres/client";
import { createTestDatabase, type TestDatabase } from "@hexa/testing";
import type pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

let database: TestDatabase;
let client: pg.Client;
/** Round trips the client has finished: PostgreSQL ends each with one ReadyForQuery. */
let roundTrips = 0;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  const ServiceClient = serviceClient(5_000);
  client = new ServiceClient({ connectionString: database.url });
  await client.connect();
  await client.query("create table if not exists client_probe (id int primary key)");
  await client.query("truncate client_probe");
  const { connection } = client as unknown as { connection: NodeJS.EventEmitter };
  connection.on("readyForQuery", () => {
    roundTrips += 1;
  });
  roundTrips = 0;
});
afterEach(async () => {
  await client?.end();
});

const insert = "insert into client_probe (id) values ($1)";
const count = async () =>
  Number((await client.query<{ n: string }>("select count(*) as n from client_probe")).rows[0]?.n);

describe("the services' pg client", () => {
  it("sends a transaction's BEGIN with its first prepared statement, in one round trip", async () => {
    // The first time, the statement is parsed after a BEGIN of its own.
    await client.query("begin");
    await client.query(insert, [1]);
    await client.query("commit");
    expect(roundTrips).toBe(3);
    roundTrips = 0;
    await client.query("begin");
    await client.query(insert, [2]);
    await client.query("commit");
    expect(roundTrips).toBe(2);
    expect(await count()).toBe(2);
  });

  it("runs that statement inside the transaction: a rollback undoes it, parsed before or not", async () => {
    for (const id of [1, 2]) {
      await client.query("begin");
      await client.query(insert, [id]);
      await client.query("rollback");
    }
    expect(await count()).toBe(0);
  });

  it("answers the statement's error to its caller, leaves the transaction to roll back, and goes on", async () => {
    await client.query(insert, [7]);
    await client.query("begin");
    await client.query(insert, [8]);
    await client.query("rollback");
    await client.query("begin");
    await expect(client.query(insert, [7])).rejects.toThrow(/duplicate key/);
    await expect(client.query(insert, [9])).rejects.toThrow(/current transaction is aborted/);
    await client.query("rollback");
    expect((await client.query<{ id: number }>("select id from client_probe order by id")).rows).toEqual([
      { id: 7 },
    ]);
  });

  it("sends the COMMIT with a statement marked last, and answers the COMMIT after it at once", async () => {
    await client.query(insert, [0]);
    roundTrips = 0;
    await client.query("begin");
    await client.query(thenCommit(insert), [1]);
    await client.query("commit");
    // BEGIN, the statement and COMMIT: one round trip.
    expect(roundTrips).toBe(1);
    const other = new (serviceClient(5_000))({ connectionString: database.url });
    await other.connect();
    try {
      expect((await other.query("select id from client_probe order by id")).rows).toEqual([
        { id: 0 },
        { id: 1 },
      ]);
    } finally {
      await other.end();
    }
  });

  it("commits nothing of a transaction whose last statement fails", async () => {
    await client.query(insert, [0]);
    await client.query("begin");
    await client.query(insert, [5]);
    await expect(client.query(thenCommit(insert), [0])).rejects.toThrow(/duplicate key/);
    await client.query("rollback");
    expect(await count()).toBe(1);
  });

  it("refuses a statement after the transaction was committed with its last one", async () => {
    await client.query("begin");
    await client.query(thenCommit(insert), [1]);
    await expect(client.query(insert, [2])).rejects.toThrow(/after its transaction was committed/);
    expect(await count()).toBe(1);
  });

  it("sends nothing for a transaction that ran nothing", async () => {
    await client.query("begin");
    await client.query("commit");
    expect(roundTrips).toBe(0);
  });

  const lock = withNext("select pg_advisory_xact_lock(hashtextextended($1, 0))");
  const countAfter = "select count(*)::int as n from client_probe where id >= $1";

  it("sends a lock marked for the next statement ahead of it: BEGIN, the lock and the statement in one round trip", async () => {
    for (const round of [1, 2]) {
      roundTrips = 0;
      await client.query("begin");
      await client.query(lock, ["probe"]);
      await client.query(thenCommit(insert), [round]);
      await client.query("commit");
      // The first time, the lock and the insert are parsed in round trips of their own.
      expect(roundTrips, `round ${round}`).toBe(round === 1 ? 3 : 1);
    }
    expect(await count()).toBe(2);
  });

  /** Runs a lock and `statement` once, so both are parsed on the connection. */
  const parseWithLock = async (statement: string, values: unknown[]) => {
    await client.query("begin");
    await client.query(lock, ["probe"]);
    await client.query(statement, values);
    await client.query("commit");
  };

  /** Runs `work` while another session holds the lock, in a transaction left open for `work` to end. */
  const whileAnotherHolds = async (work: (holder: pg.Client) => Promise<void>) => {
    const holder = new (serviceClient(5_000))({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query("begin");
      await holder.query("select pg_advisory_xact_lock(hashtextextended($1, 0))", ["probe"]);
      await work(holder);
    } finally {
      await holder.end();
    }
  };

  it("runs the statement after the lock is granted, on a snapshot that sees what its holder committed", async () => {
    await parseWithLock(countAfter, [0]);
    await whileAnotherHolds(async (holder) => {
      await holder.query(insert, [50]);
      roundTrips = 0;
      await client.query("begin");
      await client.query(lock, ["probe"]);
      const counted = client.query<{ n: number }>(countAfter, [50]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await holder.query("commit");
      expect((await counted).rows).toEqual([{ n: 1 }]);
      await client.query("commit");
      expect(roundTrips).toBe(2);
    });
  });

  it("fails the statement a held lock went with when the lock fails, and runs nothing after it", async () => {
    await parseWithLock(insert, [1]);
    await whileAnotherHolds(async (holder) => {
      await client.query("begin");
      await client.query("set local lock_timeout = '50ms'");
      await client.query(lock, ["probe"]);
      await expect(client.query(insert, [2])).rejects.toThrow(/lock timeout/);
      await client.query("rollback");
      await holder.query("rollback");
    });
    expect(await count()).toBe(1);
  });

  it("drops a held lock when the transaction rolls back, and sends one before a COMMIT", async () => {
    const advisoryLocksHeld =
      "select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and $1::int = 1";
    await client.query("begin");
    await client.query(insert, [1]);
    await client.query(lock, ["probe"]);
    await client.query("rollback");
    // Nothing of the rolled-back transaction goes with the next one's first statement.
    await client.query("begin");
    expect((await client.query(advisoryLocksHeld, [1])).rows).toEqual([{ n: 0 }]);
    await client.query("commit");
    roundTrips = 0;
    await client.query("begin");
    await client.query(insert, [1]);
    await client.query(lock, ["probe"]);
    await client.query("commit");
    // BEGIN with the insert, then the lock, then COMMIT.
    expect(roundTrips).toBe(3);
    expect(await count()).toBe(1);
  });

  it("prepares a statement with parameters once per connection, and not one without", async () => {
    await client.query(insert, [3]);
    await client.query(insert, [4]);
    await client.query("select 1 as one");
    const prepared = await client.query<{ statement: string; calls: string }>(
      "select statement, (generic_plans + custom_plans)::text as calls from pg_prepared_statements where $1::int = 1",
      [1],
    );
    expect(prepared.rows.find((row) => row.statement === insert)?.calls).toBe("2");
    expect(prepared.rows.some((row) => row.statement === "select 1 as one")).toBe(false);
  });
});
