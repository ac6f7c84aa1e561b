/**
 * The one thing the embedded bus needs from Postgres: run a statement, get its rows.
 *
 * Placeholders are positional `?`, the way MikroORM's `Connection.execute` takes them, so an app
 * wires it in one line: `(text, params) => orm.em.getConnection().execute(text, params ?? [])`.
 * The statements the bus sends use `?` for nothing else. Each call is one statement, run on its
 * own (autocommit); the bus needs no transaction spanning several calls.
 */
export type Sql = (text: string, params?: readonly unknown[]) => Promise<Record<string, unknown>[]>;
