import type { EntityName, EntityProperty } from "@mikro-orm/core";
import { CompiledQuery } from "kysely";
import { thenCommit } from "../postgres/client.ts";
import type { EntityManager } from "../postgres/database.ts";

/** What runs a compiled statement: MikroORM's Kysely client, or the transaction it has open. */
interface Executor {
  executeQuery(query: CompiledQuery): Promise<{ rows: unknown[] }>;
}

/**
 * Runs one statement on `em`'s transaction (or outside one) with its values sent as parameters
 * (`$1`, `$2`, …): PostgreSQL receives the text and the values apart. MikroORM's own `execute` and
 * its query builder format the values into the text instead (`formatQuery`), which costs the client
 * the quoting and gives PostgreSQL a different text to parse for every value. The writes the
 * transaction holds back ({@link holdWrite}) go first, so the statement sees them.
 */
export async function execute<Row = Record<string, unknown>>(
  em: EntityManager,
  sql: string,
  params: readonly unknown[],
): Promise<Row[]> {
  await sendHeldWrites(em);
  return run<Row>(em, sql, params);
}

async function run<Row>(em: EntityManager, sql: string, params: readonly unknown[]): Promise<Row[]> {
  const executor = (em.getTransactionContext<Executor>() ??
    em.getConnection().getClient()) as unknown as Executor;
  return (await executor.executeQuery(CompiledQuery.raw(sql, [...params]))).rows as Row[];
}

/** An `INSERT` (with or without `ON CONFLICT`) into one table, returning nothing. */
export interface Write {
  readonly table: string;
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** The writes each open transaction holds back, by its entity manager (a unit of work's own). */
const heldWrites = new WeakMap<EntityManager, Write[]>();

/**
 * Holds `write` back until the transaction's next statement or its commit, and then sends the writes
 * held in one statement (one round trip, one statement for PostgreSQL to run): a unit of work's
 * saves and its outbox insert reach PostgreSQL together. A write to a table a held write already
 * changes sends those first (one statement changes a row once), and outside a transaction a write
 * goes at once. A failure of a held write (a primary key taken) fails the statement it went with,
 * so the unit of work fails as it would have at the write.
 */
export async function holdWrite(em: EntityManager, write: Write): Promise<void> {
  if (!em.getTransactionContext()) {
    await run(em, write.sql, write.params);
    return;
  }
  if (heldWrites.get(em)?.some((held) => held.table === write.table)) await sendHeldWrites(em);
  const held = heldWrites.get(em) ?? [];
  held.push(write);
  heldWrites.set(em, held);
}

/**
 * Sends the writes `em`'s transaction holds back, in one statement: the unit of work's last step.
 * With `commit`, the statement is the transaction's last, and the COMMIT goes with it (client.ts).
 */
export async function sendHeldWrites(em: EntityManager, { commit = false } = {}): Promise<void> {
  const held = heldWrites.get(em);
  if (!held?.length) return;
  heldWrites.delete(em);
  await run(
    em,
    heldStatement(held, commit),
    held.flatMap((write) => write.params),
  );
}

/** The statements of held writes built so far, by the texts of the writes in the order they were held. */
interface HeldTexts {
  readonly after: Map<string, HeldTexts>;
  statement?: { readonly open: string; readonly committing: string };
}
const heldTexts: HeldTexts = { after: new Map() };
let heldTextsKept = 0;
const MAX_HELD_TEXTS = 500;

/**
 * The one statement that sends `held`, built once for each sequence of write texts, so neither the
 * client nor the driver's lookup of the prepared name pays for a new text at every commit.
 */
function heldStatement(held: readonly Write[], commit: boolean): string {
  let node: HeldTexts | undefined = heldTexts;
  for (const write of held) {
    let next: HeldTexts | undefined = node.after.get(write.sql);
    if (!next) {
      if (heldTextsKept >= MAX_HELD_TEXTS) {
        node = undefined;
        break;
      }
      next = { after: new Map() };
      node.after.set(write.sql, next);
      heldTextsKept++;
    }
    node = next;
  }
  if (!node) return commit ? thenCommit(combined(held)) : combined(held);
  if (!node.statement) {
    const open = combined(held);
    node.statement = { open, committing: thenCommit(open) };
  }
  return commit ? node.statement.committing : node.statement.open;
}

/**
 * One write as it is; more as `with w1 as (insert …), w2 as (insert …) insert …`, where each runs
 * once, in full, on the statement's snapshot. Placeholders are numbered on from the previous ones'.
 */
function combined(held: readonly Write[]): string {
  let offset = 0;
  const texts = held.map((write) => {
    const text = write.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
    offset += write.params.length;
    return text;
  });
  const last = texts.pop() ?? "";
  return texts.length ? `with ${texts.map((text, i) => `w${i + 1} as (${text})`).join(", ")} ${last}` : last;
}

/** `$1, $2, …, $n` from `from`. */
function placeholders(count: number, from = 1): string {
  return Array.from({ length: count }, (_, i) => `$${from + i}`).join(", ");
}

/**
 * `<head> values ($1, …, $width), ($width+1, …) <tail>` for any number of rows, each text built once
 * per row count: the same text object every time, which the driver's prepared-statement lookup and
 * {@link heldStatement} find at once (a text built anew is hashed anew).
 */
export class RowsText {
  readonly #head: string;
  readonly #width: number;
  readonly #tail: string;
  readonly #texts: string[] = [];

  constructor(head: string, width: number, tail = "") {
    this.#head = head;
    this.#width = width;
    this.#tail = tail;
  }

  of(rows: number): string {
    const kept = this.#texts[rows];
    if (kept !== undefined) return kept;
    const values = Array.from(
      { length: rows },
      (_, i) => `(${placeholders(this.#width, i * this.#width + 1)})`,
    );
    const text = `${this.#head} values ${values.join(", ")}${this.#tail ? ` ${this.#tail}` : ""}`;
    if (rows <= MAX_TEXTS) this.#texts[rows] = text;
    return text;
  }
}

/**
 * An entity's table as plain statements, from MikroORM's metadata (the entity stays the table's
 * definition): reading a row by key, and writing one in one `INSERT … ON CONFLICT DO UPDATE`.
 * Rows come back with the entity's property names and JavaScript types.
 */
export class EntityTable<Row extends object> {
  readonly #entity: EntityName<Row>;
  #shape: { table: string; columns: Map<string, EntityProperty>; keys: string[]; select: string } | undefined;
  readonly #texts = new Map<string, string>();

  constructor(entity: EntityName<Row>) {
    this.#entity = entity;
  }

  async find(
    em: EntityManager,
    key: Partial<Row>,
    lock: "" | "for update" | "for share",
  ): Promise<Row | undefined> {
    return (await this.findAll(em, key, { lock }))[0];
  }

  /**
   * The rows matching every property of `where` (equal to its value, or, for an array, to one of its
   * values), in the order of the properties `orderBy` names.
   */
  async findAll(
    em: EntityManager,
    where: { readonly [Name in keyof Row]?: Row[Name] | readonly Row[Name][] },
    options: {
      readonly orderBy?: ReadonlyArray<keyof Row & string>;
      readonly lock?: "" | "for update" | "for share";
    } = {},
  ): Promise<Row[]> {
    const shape = this.#of(em);
    const conditions = Object.entries(where) as Array<[string, unknown]>;
    const lock = options.lock ?? "";
    const shapeKey = conditions.map(([name, value]) => (Array.isArray(value) ? `${name}[]` : name));
    const sql = this.#text(`find ${shapeKey.join(",")} ${options.orderBy?.join(",") ?? ""} ${lock}`, () => {
      const condition = conditions
        .map(
          ([name, value], i) =>
            `${column(shape.columns, name)} = ${Array.isArray(value) ? `any($${i + 1})` : `$${i + 1}`}`,
        )
        .join(" and ");
      const order = options.orderBy?.length
        ? ` order by ${options.orderBy.map((name) => column(shape.columns, name)).join(", ")}`
        : "";
      return selectText(shape.select, `${condition}${order}`, lock);
    });
    return this.#select(
      em,
      sql,
      conditions.map(([, value]) => value),
    );
  }

  /**
   * The rows matching `condition` (SQL on the table's columns, with `$1 … $n` for `params`, and an
   * `order by` of its own if any).
   */
  async findWhere(
    em: EntityManager,
    condition: string,
    params: readonly unknown[],
    lock: "" | "for update" | "for share" = "",
  ): Promise<Row[]> {
    return this.#select(em, selectText(this.#of(em).select, condition, lock), params);
  }

  async #select(em: EntityManager, sql: string, params: readonly unknown[]): Promise<Row[]> {
    const { columns } = this.#of(em);
    const rows = await execute(em, sql, params);
    // MikroORM's connection leaves timestamps and JSON as text, for its own hydration to convert.
    for (const found of rows) {
      for (const [name, value] of Object.entries(found)) {
        if (typeof value !== "string") continue;
        const prop = columns.get(name);
        if (prop?.runtimeType === "Date") found[name] = new Date(value);
        else if (prop?.type === "json") found[name] = JSON.parse(value);
      }
    }
    return rows as Row[];
  }

  /** The table's name, with its schema, for a statement of its own. */
  name(em: EntityManager): string {
    return this.#of(em).table;
  }

  /** The row's primary key, as one string. */
  keyOf(em: EntityManager, row: Partial<Row>): string {
    return JSON.stringify(this.#of(em).keys.map((name) => (row as Record<string, unknown>)[name]));
  }

  /**
   * Inserts the rows (all with the same columns), or updates every column given of those whose key
   * exists, in one statement. With `insertOnly`, a row whose key exists already fails on the primary
   * key instead.
   */
  async upsert(em: EntityManager, rows: readonly Partial<Row>[], insertOnly = false): Promise<void> {
    const [first] = rows;
    if (!first) return;
    const shape = this.#of(em);
    const names = Object.keys(first);
    const sql = this.#text(`upsert ${names.join(",")} ${rows.length} ${insertOnly}`, () => {
      const fields = names.map((name) => column(shape.columns, name));
      const keys = shape.keys.map((name) => column(shape.columns, name));
      const updates = fields.filter((field) => !keys.includes(field));
      return `insert into ${shape.table} (${fields.join(", ")})
       values ${rows.map((_, i) => `(${placeholders(names.length, i * names.length + 1)})`).join(", ")}
       ${insertOnly ? "" : `on conflict (${keys.join(", ")}) ${updates.length ? `do update set ${updates.map((field) => `${field} = excluded.${field}`).join(", ")}` : "do nothing"}`}`;
    });
    await holdWrite(em, {
      table: shape.table,
      sql,
      params: rows.flatMap((row) =>
        names.map((name) => {
          const value = (row as Record<string, unknown>)[name];
          return shape.columns.get(name)?.type === "json" && value !== null ? JSON.stringify(value) : value;
        }),
      ),
    });
  }

  /**
   * A statement's text built once for its shape (the columns, the number of rows, the lock): the
   * same text object every time, which the driver's prepared-statement lookup finds at once.
   */
  #text(shape: string, build: () => string): string {
    let text = this.#texts.get(shape);
    if (text === undefined && this.#texts.size < MAX_TEXTS) {
      text = build();
      this.#texts.set(shape, text);
    }
    return text ?? build();
  }

  #of(em: EntityManager) {
    if (this.#shape) return this.#shape;
    const meta = em.getMetadata().get(this.#entity);
    const schema = em.config.get("schema");
    const table = `${schema ? `"${schema}".` : ""}"${meta.tableName}"`;
    const columns = new Map(meta.props.map((prop) => [prop.name, prop] as const));
    const list = meta.props.map((prop) => `"${prop.fieldNames[0]}" as "${prop.name}"`).join(", ");
    this.#shape = { table, columns, keys: meta.primaryKeys, select: `select ${list} from ${table}` };
    return this.#shape;
  }
}

/** Statement texts a table keeps built (batches of every size up to a consumer's pull, and a few more). */
const MAX_TEXTS = 200;

function selectText(select: string, condition: string, lock: string): string {
  return `${select}${condition ? ` where ${condition}` : ""} ${lock}`;
}

function column(columns: Map<string, EntityProperty>, name: string): string {
  const prop = columns.get(name);
  if (!prop) throw new Error(`no column for ${name}`);
  return `"${prop.fieldNames[0]}"`;
}
