import pg from "pg";

/**
 * The pg client of every service's pool (MikroORM's `driverOptions.Client`). Three things set it apart
 * from pg's own, each measured by `./hexa benchmark round-trips` (docs/benchmarks.md):
 * - opening a connection gives up after `connectTimeoutMs` (pg-pool's own timeout would also bound the
 *   wait for a free connection, which a burst may rightly queue for);
 * - statements sent with parameters are prepared once per connection ({@link preparedName});
 * - a transaction's BEGIN goes out with its first statement, in one write and one round trip
 *   ({@link BeganWith}), instead of a round trip of its own.
 */
export function serviceClient(connectTimeoutMs: number): typeof pg.Client {
  return class ServiceClient extends pg.Client {
    /** The BEGIN (or START TRANSACTION) asked for and not sent yet. */
    #begin: string | undefined;

    constructor(config: pg.ClientConfig = {}) {
      // pg-pool hands its options over with the password non-enumerable: copied by name.
      super({ ...config, password: config.password, connectionTimeoutMillis: connectTimeoutMs });
    }

    // biome-ignore lint/suspicious/noExplicitAny: forwards every overload of pg's query
    override query(...args: any[]): any {
      const [text, values] = args;
      const plain = typeof text === "string" && args.length <= 2;
      const parameters: unknown[] = plain && Array.isArray(values) ? values : [];
      if (plain && parameters.length === 0 && TRANSACTION_START.test(text) && this.#begin === undefined) {
        // Answered at once; it is sent with what the transaction runs next.
        this.#begin = text;
        return Promise.resolve(answered("BEGIN"));
      }
      const begin = this.#begin;
      this.#begin = undefined;
      const name = parameters.length > 0 ? preparedName(text) : undefined;
      const send = () => (name ? super.query({ name, text, values }) : super.query(...(args as [string])));
      if (begin === undefined) return send();
      // A transaction that ran nothing: nothing to end either.
      if (parameters.length === 0 && TRANSACTION_END.test(text)) return Promise.resolve(answered(text));
      // The first statement, with the BEGIN. A statement to be parsed first is not paired: the
      // BEGIN's ParseComplete would tell pg the statement was parsed before it is.
      if (parameters.length > 0 && (name === undefined || this.#parsed(name))) {
        return new Promise((resolve, reject) => {
          super.query(
            new BeganWith(begin, { text, values: parameters, ...(name ? { name } : {}) }, (error, result) =>
              error ? reject(error) : resolve(result),
            ),
          );
        });
      }
      return super.query(begin).then(send);
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
 * A statement preceded by its transaction's BEGIN in the same write, before one Sync: PostgreSQL runs
 * the statement only if the BEGIN succeeded (after an error it skips to the Sync), so the statement
 * never runs outside the transaction. The BEGIN's own CommandComplete is the only reply set aside;
 * the statement's rows and errors reach the caller as a plain query's would.
 */
class BeganWith extends pg.Query {
  readonly #begin: string;
  #begun = false;

  constructor(
    begin: string,
    statement: pg.QueryConfig,
    callback: (error: Error | undefined, result: pg.QueryResult) => void,
  ) {
    super(statement, undefined, callback);
    this.#begin = begin;
  }

  // pg's Query declares `submit` as a property; pg reads the Error it may return (never, for a
  // statement with an array of values and a unique name).
  override submit: pg.Query["submit"] = (connection): Error | null => {
    const wire = connection as unknown as WireConnection;
    wire.stream.cork();
    try {
      wire.parse({ text: this.#begin });
      wire.bind({});
      wire.execute({});
      // The statement's Parse (when needed), Bind, Describe, Execute and the Sync, in the same write.
      return submitStatement.call(this, connection);
    } finally {
      wire.stream.uncork();
    }
  };

  handleCommandComplete(message: unknown, connection: unknown): void {
    if (!this.#begun) {
      this.#begun = true;
      return;
    }
    (
      pg.Query.prototype as unknown as { handleCommandComplete(m: unknown, c: unknown): void }
    ).handleCommandComplete.call(this, message, connection);
  }
}

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
