import pg from "pg";

/**
 * Marks a unit of work's last statement: the client sends the transaction's COMMIT with it, in the
 * same write before one Sync, and answers the COMMIT that follows without a round trip. Only for the
 * last statement of a transaction, never of a savepoint (database.ts's unit of work opens none).
 */
export function thenCommit(sql: string): string {
  return `${sql}${THEN_COMMIT}`;
}

/** The statement of each marked text seen so far (the marked texts are built once: statements.ts). */
const unmarked = new Map<string, string>();

function withoutCommitMark(marked: string): string {
  let text = unmarked.get(marked);
  if (text === undefined) {
    text = marked.slice(0, -THEN_COMMIT.length);
    if (unmarked.size < MAX_PREPARED) unmarked.set(marked, text);
  }
  return text;
}

const THEN_COMMIT = " /* then commit */";

/**
 * Marks a statement whose answer nothing reads (an advisory lock): the client answers it at once and
 * sends it with the transaction's next statement, in the same write before one Sync, so PostgreSQL
 * runs it first (and the next one only if it succeeded, on a snapshot taken after it: a read after a
 * lock sees what the lock's holder committed). A lock and the read it guards are one round trip.
 */
export function withNext(sql: string): string {
  return `${sql}${WITH_NEXT}`;
}

const WITH_NEXT = " /* with the next statement */";

/** A statement held back until the transaction's next one ({@link withNext}). */
interface HeldStatement {
  readonly name: string | undefined;
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * The pg client of every service's pool (MikroORM's `driverOptions.Client`). What sets it apart from
 * pg's own, each measured by `./hexa benchmark round-trips` (docs/benchmarks.md):
 * - opening a connection gives up after `connectTimeoutMs` (pg-pool's own timeout would also bound the
 *   wait for a free connection, which a burst may rightly queue for);
 * - statements sent with parameters are prepared once per connection ({@link preparedName});
 * - a transaction's BEGIN goes out with its first statement, and its COMMIT with its last one
 *   ({@link thenCommit}), each in the statement's write and round trip ({@link Batched}).
 */
export function serviceClient(connectTimeoutMs: number): typeof pg.Client {
  return class ServiceClient extends pg.Client {
    /** The BEGIN (or START TRANSACTION) asked for and not sent yet. */
    #begin: string | undefined;
    /** The transaction was committed with its last statement; its own COMMIT is answered here. */
    #committed = false;
    /** Statements marked {@link withNext}, not sent yet. */
    #held: HeldStatement[] = [];

    constructor(config: pg.ClientConfig = {}) {
      // pg-pool hands its options over with the password non-enumerable: copied by name.
      super({ ...config, password: config.password, connectionTimeoutMillis: connectTimeoutMs });
    }

    // biome-ignore lint/suspicious/noExplicitAny: forwards every overload of pg's query
    override query(...args: any[]): any {
      const [given, values] = args;
      const plain = typeof given === "string" && args.length <= 2;
      const parameters: unknown[] = plain && Array.isArray(values) ? values : [];
      const ending = plain && parameters.length === 0 && TRANSACTION_END.test(given);
      if (this.#committed) {
        this.#committed = false;
        if (ending) return Promise.resolve(answered(given));
        if (!(plain && TRANSACTION_START.test(given)))
          return Promise.reject(
            new Error("a statement after its transaction was committed with its last one"),
          );
      }
      if (plain && parameters.length === 0 && TRANSACTION_START.test(given) && this.#begin === undefined) {
        // Answered at once; it is sent with what the transaction runs next.
        this.#begin = given;
        return Promise.resolve(answered("BEGIN"));
      }
      if (plain && parameters.length > 0 && given.endsWith(WITH_NEXT)) {
        const text = given.slice(0, -WITH_NEXT.length);
        this.#held.push({ name: preparedName(text), text, values: parameters });
        return Promise.resolve(answered("SELECT"));
      }
      const begin = this.#begin;
      this.#begin = undefined;
      const held = this.#held;
      this.#held = [];
      // A transaction that ran nothing: nothing to end either. One rolled back: what it held is moot.
      if (begin !== undefined && ending && held.length === 0) return Promise.resolve(answered(given));
      if (ending && ROLLBACK.test(given)) {
        return begin !== undefined ? Promise.resolve(answered(given)) : super.query(...(args as [string]));
      }
      const commit = plain && parameters.length > 0 && given.endsWith(THEN_COMMIT);
      const text = commit ? withoutCommitMark(given) : given;
      const name = parameters.length > 0 ? preparedName(text) : undefined;
      const send = () => (name ? super.query({ name, text, values }) : super.query(...(args as [string])));
      // What was held goes with a statement only when every part is parsed already, and so does a
      // BEGIN unless the statement is not: a ParseComplete of another part would otherwise tell pg
      // the statement was parsed before it is.
      const together =
        parameters.length > 0 &&
        held.every((statement) => statement.name !== undefined && this.#parsed(statement.name)) &&
        (begin === undefined || name === undefined || this.#parsed(name));
      if ((begin !== undefined || held.length > 0) && !together) {
        return this.#sendApart(begin, held).then(() => this.query(...args));
      }
      if (begin === undefined && held.length === 0 && !commit) return send();
      return new Promise((resolve, reject) => {
        const statement = { text, values: parameters, ...(name ? { name } : {}) };
        let settled = false; // pg may call back again at the ReadyForQuery after an error
        super.query(
          new Batched(
            [...(begin !== undefined ? [begin] : []), ...held],
            statement,
            commit ? ["commit"] : [],
            (error, result) => {
              if (settled) return;
              settled = true;
              if (error) return reject(error);
              this.#committed = commit;
              resolve(result);
            },
          ),
        );
      });
    }

    /** Sends a held BEGIN and held statements one by one, each in a round trip of its own. */
    async #sendApart(begin: string | undefined, held: readonly HeldStatement[]): Promise<void> {
      if (begin !== undefined) await super.query(begin);
      for (const { name, text, values } of held) {
        await (name ? super.query({ name, text, values: [...values] }) : super.query(text, [...values]));
      }
    }

    #parsed(name: string): boolean {
      const { connection } = this as unknown as { connection: { parsedStatements: Record<string, string> } };
      return name in connection.parsedStatements;
    }
  };
}

const TRANSACTION_START = /^\s*(begin|start transaction)\b/i;
const TRANSACTION_END = /^\s*(commit|rollback)\s*$/i;
const ROLLBACK = /^\s*rollback\s*$/i;

function answered(command: string): pg.QueryResult {
  return {
    command: command.trim().split(/\s+/)[0]?.toUpperCase() ?? "",
    rowCount: null,
    oid: 0,
    rows: [],
    fields: [],
  };
}

/** The parts of pg's wire connection that a query writes to (pg's `Connection`, untyped by @types/pg). */
interface WireConnection {
  readonly stream: { cork(): void; uncork(): void };
  parse(message: { text: string }): void;
  bind(message: Record<string, never>): void;
  execute(message: Record<string, never>): void;
}

/**
 * A statement with transaction control before it (BEGIN), statements held for it (advisory locks,
 * {@link withNext}) or transaction control after it (COMMIT), in one write before one Sync.
 * PostgreSQL runs each part only if those before it succeeded (after an error it skips to the Sync):
 * the statement never runs outside its transaction, nor before the locks held for it, and a statement
 * that fails is never committed. Only the statement's replies reach the caller; the others' rows and
 * CommandComplete are set aside, and an error of any part fails the query.
 */
class Batched extends pg.Query {
  readonly #before: ReadonlyArray<string | HeldStatement>;
  readonly #after: readonly string[];
  #completed = 0;
  /** pg failed the statement while writing it (a value it cannot send): nothing after it is sent. */
  #failed = false;

  constructor(
    before: ReadonlyArray<string | HeldStatement>,
    statement: pg.QueryConfig,
    after: readonly string[],
    callback: (error: Error | undefined, result: pg.QueryResult) => void,
  ) {
    super(statement, undefined, callback);
    this.#before = before;
    this.#after = after;
  }

  // pg's Query declares `submit` as a property; pg reads the Error it may return (never, for a
  // statement with an array of values and a unique name).
  override submit: pg.Query["submit"] = (connection): Error | null => {
    const wire = connection as unknown as WireConnection;
    const control = (text: string) => {
      wire.parse({ text });
      wire.bind({});
      wire.execute({});
    };
    wire.stream.cork();
    try {
      // Each statement's Bind, Describe and Execute (and Parse, when needed); the Sync after the rest.
      const sync = connection.sync;
      connection.sync = () => {};
      let failed: Error | null = null;
      try {
        for (const part of this.#before) {
          if (typeof part === "string") control(part);
          else
            failed ??= submitStatement.call(new pg.Query({ ...part, values: [...part.values] }), connection);
        }
        failed ??= submitStatement.call(this, connection);
      } finally {
        connection.sync = sync;
      }
      if (!failed && !this.#failed) for (const text of this.#after) control(text);
      connection.sync();
      return failed;
    } finally {
      wire.stream.uncork();
    }
  };

  handleCommandComplete(message: unknown, connection: unknown): void {
    const index = this.#completed++;
    if (index !== this.#before.length) return; // a BEGIN's, a held statement's or a COMMIT's
    queryHandlers.handleCommandComplete.call(this, message, connection);
  }

  handleRowDescription(message: unknown): void {
    if (this.#completed === this.#before.length) queryHandlers.handleRowDescription.call(this, message);
  }

  handleDataRow(message: unknown): void {
    if (this.#completed === this.#before.length) queryHandlers.handleDataRow.call(this, message);
  }

  handleError(error: Error, connection: unknown): void {
    this.#failed = true;
    queryHandlers.handleError.call(this, error, connection);
  }
}

/** pg's own handlers of a query's replies, which @types/pg leaves out. */
const queryHandlers = pg.Query.prototype as unknown as {
  handleCommandComplete(this: pg.Query, message: unknown, connection: unknown): void;
  handleRowDescription(this: pg.Query, message: unknown): void;
  handleDataRow(this: pg.Query, message: unknown): void;
  handleError(this: pg.Query, error: Error, connection: unknown): void;
};

const submitStatement = pg.Query.prototype.submit as (this: pg.Query, connection: unknown) => Error | null;

/** Statement texts named so far, up to {@link MAX_PREPARED}; the same name stands for the same text everywhere. */
const preparedNames = new Map<string, string>();
const MAX_PREPARED = 300;

/**
 * The name a statement sent with parameters is prepared under: a connection parses and plans it the
 * first time, and later only binds the values to the plan it kept, which spares PostgreSQL the parse
 * and the planning of every call after the first. Statements without parameters (BEGIN, COMMIT,
 * MikroORM's own, whose values are in the text) stay unnamed, and so do texts past the first
 * {@link MAX_PREPARED}: a connection keeps what it prepared until it closes.
 */
function preparedName(text: string): string | undefined {
  let name = preparedNames.get(text);
  if (name === undefined && preparedNames.size < MAX_PREPARED) {
    name = `hexa_${preparedNames.size}`;
    preparedNames.set(text, name);
  }
  return name;
}
