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
      const begin = this.#begin;
      this.#begin = undefined;
      // A transaction that ran nothing: nothing to end either.
      if (begin !== undefined && ending) return Promise.resolve(answered(given));
      const commit = plain && parameters.length > 0 && given.endsWith(THEN_COMMIT);
      const text = commit ? withoutCommitMark(given) : given;
      const name = parameters.length > 0 ? preparedName(text) : undefined;
      const send = () => (name ? super.query({ name, text, values }) : super.query(...(args as [string])));
      // A BEGIN goes with a statement only when that statement is parsed already: the BEGIN's
      // ParseComplete would otherwise tell pg the statement was parsed before it is.
      const withBegin =
        begin !== undefined && parameters.length > 0 && (name === undefined || this.#parsed(name));
      if (begin !== undefined && !withBegin) {
        return super.query(begin).then(() => this.query(...args));
      }
      if (!withBegin && !commit) return send();
      return new Promise((resolve, reject) => {
        const statement = { text, values: parameters, ...(name ? { name } : {}) };
        let settled = false; // pg may call back again at the ReadyForQuery after an error
        super.query(
          new Batched(
            withBegin ? [begin as string] : [],
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

    #parsed(name: string): boolean {
      const { connection } = this as unknown as { connection: { parsedStatements: Record<string, string> } };
      return name in connection.parsedStatements;
    }
  };
}

const TRANSACTION_START = /^\s*(begin|start transaction)\b/i;
const TRANSACTION_END = /^\s*(commit|rollback)\s*$/i;

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
 * A statement with transaction control before it (BEGIN) or after it (COMMIT), in one write before
 * one Sync. PostgreSQL runs each part only if those before it succeeded (after an error it skips to
 * the Sync): the statement never runs outside its transaction, and a statement that fails is never
 * committed. Only the statement's replies reach the caller; the others' CommandComplete are set aside,
 * and an error of any part fails the query.
 */
class Batched extends pg.Query {
  readonly #before: readonly string[];
  readonly #after: readonly string[];
  #completed = 0;
  /** pg failed the statement while writing it (a value it cannot send): nothing after it is sent. */
  #failed = false;

  constructor(
    before: readonly string[],
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
      for (const text of this.#before) control(text);
      // The statement's Parse (when needed), Bind, Describe and Execute; the Sync after the rest.
      const sync = connection.sync;
      connection.sync = () => {};
      let failed: Error | null;
      try {
        failed = submitStatement.call(this, connection);
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
    if (index !== this.#before.length) return; // a BEGIN's or a COMMIT's
    queryHandlers.handleCommandComplete.call(this, message, connection);
  }

  handleError(error: Error, connection: unknown): void {
    this.#failed = true;
    queryHandlers.handleError.call(this, error, connection);
  }
}

/** pg's own handlers of a query's replies, which @types/pg leaves out. */
const queryHandlers = pg.Query.prototype as unknown as {
  handleCommandComplete(this: pg.Query, message: unknown, connection: unknown): void;
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
