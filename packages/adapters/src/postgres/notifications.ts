import { Unavailable } from "@hexa/core/shared";
import pg from "pg";
import type { Logger } from "pino";
import type { EntityManager } from "./database.ts";

/**
 * Fan-out of changes across replicas through Postgres LISTEN/NOTIFY.
 *
 * A writer calls {@link notifyChannel} inside the transaction that makes a change: Postgres delivers
 * the notification when the transaction commits, and never for one rolled back. Each process keeps
 * one {@link ChannelListener} per channel: a dedicated connection LISTENing, which wakes the
 * process's own listeners of the topic a notification names (a person, an order, …), whichever
 * replica committed the change.
 *
 * A read model's trigger announces its changes with {@link announcement}: only while a listening
 * connection is known in the schema's `listener` table (platform-tables.ts), since an announcement
 * costs PostgreSQL about as much as the change itself, listened to or not (docs/benchmarks.md).
 */

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/** Postgres refuses payloads of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_999;

/** Where a schema's listening connections are known, by channel and backend pid (platform-tables.ts). */
export const LISTENERS_TABLE = "listener";

/** The advisory lock between a channel's writers and a connection starting to listen to it. */
function listeningLock(channel: string): string {
  return `hashtextextended('listening:${checked("channel", channel)}', 0)`;
}

/**
 * The PL/pgSQL a trigger runs to announce `payload` (an SQL expression of type text) on `channel`
 * when its transaction commits, unless no connection listens to the channel. No race loses a change:
 * the writer holds the channel's lock shared from before it looks until it commits (or announces
 * when it cannot have it), and a connection that starts listening makes itself known, then takes
 * that lock exclusively, so it waits for every writer that looked before it was known, before its
 * listeners read. The writer looks with a snapshot taken after the lock, as each statement of a
 * volatile function gets under READ COMMITTED, the isolation of every unit of work.
 */
export function announcement(schema: string, channel: string, payload: string): string {
  checked("schema", schema);
  const notify = `perform pg_notify('${checked("channel", channel)}', ${payload});`;
  return `if not pg_try_advisory_xact_lock_shared(${listeningLock(channel)}) then
           ${notify}
         elsif exists (select from "${schema}".${LISTENERS_TABLE} where channel = '${channel}') then
           ${notify}
         end if;`;
}

/**
 * Announces `message` to the listeners of `topic` on `channel`, when the transaction `em` works in
 * commits. Within one transaction, the same topic and message are announced once.
 */
export async function notifyChannel(
  em: EntityManager,
  channel: string,
  topic: string,
  message: string,
): Promise<void> {
  const payload = JSON.stringify([topic, message]);
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
    throw new Error(`a notification on ${channel} is limited to ${MAX_PAYLOAD_BYTES} bytes`);
  }
  await em.execute("select pg_notify(?, ?)", [checked("channel", channel), payload]);
}

/** What a listener heard since it last asked. */
export interface Heard {
  /** The messages announced to its topic, oldest first, without repeats. */
  readonly messages: readonly string[];
  /**
   * False when messages may have been lost: the connection dropped and is back (what was announced
   * meanwhile was not heard), or more piled up than the listener keeps.
   */
  readonly complete: boolean;
}

/** One listener of one topic. */
export interface TopicListener {
  /**
   * Resolves with what was heard since the previous answer, as soon as there is something (a
   * message, or a loss); rejects with the signal's reason once the signal aborts. Called again
   * before it answered, it gives the same answer.
   */
  next(): Promise<Heard>;
  /** Stops listening. */
  close(): void;
}

export interface ChannelListenerOptions {
  /** The database the writers notify in. */
  readonly connectionString: string;
  /** The notification channel: a plain lowercase identifier. */
  readonly channel: string;
  readonly logger: Logger;
  /** The name the listening connection shows in `pg_stat_activity`. */
  readonly applicationName?: string;
  /**
   * The schema whose triggers announce on the channel ({@link announcement}): the listening
   * connection makes itself known in its `listener` table. Without it the connection only listens,
   * for writers that always announce (`notifyChannel`).
   */
  readonly announcingSchema?: string;
  /** What is listened to, in words, for logs and for the Unavailable error; default: the channel. */
  readonly description?: string;
  /** Waits before each attempt to reconnect after the connection dropped; the last one repeats. */
  readonly reconnectMs?: readonly number[];
  /** Messages a listener keeps between two calls before it forgets them and reports a loss. */
  readonly maxPending?: number;
}

/**
 * One process's listening end of a channel. The connection opens with the first listener and
 * closes when the last one leaves, so an idle process holds none. When it drops it is opened again,
 * with backoff, for as long as anyone listens; once back, every listener is told that it may have
 * missed messages.
 */
export class ChannelListener {
  readonly #options: ChannelListenerOptions;
  readonly #channel: string;
  readonly #listeners = new Map<string, Set<Listener>>();
  /** Listeners of every topic: each hears `[topic, message]` as JSON. */
  readonly #everyTopic = new Set<Listener>();
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  /** Whether the connection was up since the first listener came: a new connection then means a loss. */
  #everConnected = false;

  constructor(options: ChannelListenerOptions) {
    this.#options = options;
    this.#channel = checked("channel", options.channel);
    if (options.announcingSchema !== undefined) checked("schema", options.announcingSchema);
  }

  /**
   * Starts listening to one topic. Resolves once listening: every message committed afterwards is
   * heard (or reported lost). Rejects with Unavailable when the database cannot be listened to.
   */
  async listen(topic: string, signal: AbortSignal): Promise<TopicListener> {
    signal.throwIfAborted();
    const listener = new Listener(signal, this.#options.maxPending ?? 1_000, () =>
      this.#remove(topic, listener),
    );
    let listeners = this.#listeners.get(topic);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(topic, listeners);
    }
    listeners.add(listener);
    return this.#started(listener);
  }

  /**
   * Starts listening to every topic: each message is heard as the JSON `[topic, message]`. Resolves
   * and rejects as {@link listen} does.
   */
  async listenToEveryTopic(signal: AbortSignal): Promise<TopicListener> {
    signal.throwIfAborted();
    const listener = new Listener(signal, this.#options.maxPending ?? 1_000, () => {
      this.#everyTopic.delete(listener);
      this.#leftMaybeLast();
    });
    this.#everyTopic.add(listener);
    return this.#started(listener);
  }

  async #started(listener: Listener): Promise<TopicListener> {
    try {
      await this.#listening();
    } catch (error) {
      listener.close();
      this.#options.logger.warn({ err: error, channel: this.#channel }, "cannot listen");
      throw new Unavailable(`${this.#description} cannot be listened to right now, retry later`);
    }
    return listener;
  }

  get #description(): string {
    return this.#options.description ?? this.#channel;
  }

  #listening(): Promise<void> {
    if (this.#client) return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#options.connectionString,
      application_name: this.#options.applicationName ?? `hexa listen ${this.#channel}`,
      keepAlive: true,
    });
    client.on("error", (error) => this.#lost(client, error));
    client.on("end", () => this.#lost(client, undefined));
    client.on("notification", (notification) => {
      if (notification.channel === this.#channel && notification.payload) this.#heard(notification.payload);
    });
    try {
      await client.connect();
      await client.query(`listen "${this.#channel}"`);
      await this.#makeKnown(client);
    } catch (error) {
      this.#end(client);
      throw error;
    }
    if (!this.#anyone()) {
      this.#end(client); // everyone left while it was connecting
      return;
    }
    const reconnected = this.#everConnected;
    this.#everConnected = true;
    this.#client = client;
    // Whatever was announced while nobody listened was not heard.
    if (reconnected) for (const listener of this.#all()) listener.lost();
  }

  /**
   * Makes the listening connection known to the announcing triggers, then waits for the writers that
   * looked for a listener before and did not announce: their changes are committed once it returns,
   * so the listeners' first read sees them ({@link announcement}). Rows of connections that ended
   * without leaving go first.
   */
  async #makeKnown(client: pg.Client): Promise<void> {
    const table = this.#listenersTable;
    if (!table) return;
    await client.query(
      `with gone as (delete from ${table} known where channel = $1
         and not exists (select from pg_stat_activity activity where activity.pid = known.pid))
       insert into ${table} (channel, pid) values ($1, pg_backend_pid()) on conflict do nothing`,
      [this.#channel],
    );
    await client.query(`select pg_advisory_xact_lock(${listeningLock(this.#channel)})`);
  }

  get #listenersTable(): string | undefined {
    const schema = this.#options.announcingSchema;
    return schema === undefined ? undefined : `"${schema}".${LISTENERS_TABLE}`;
  }

  #lost(client: pg.Client, error: Error | undefined): void {
    if (client !== this.#client) return;
    this.#client = undefined;
    this.#end(client);
    this.#options.logger.warn(
      { err: error, channel: this.#channel },
      `${this.#description}: listening connection lost; reconnecting`,
    );
    this.#reconnect(0);
  }

  #reconnect(attempt: number): void {
    if (this.#retry || !this.#anyone()) return;
    const delays = this.#options.reconnectMs ?? [100, 500, 2_000, 5_000];
    const delay = delays[Math.min(attempt, delays.length - 1)] ?? 1_000;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#anyone()) return;
      this.#listening().then(
        () => this.#options.logger.info({ channel: this.#channel }, `${this.#description}: listening again`),
        (error: unknown) => {
          this.#options.logger.warn(
            { err: error, channel: this.#channel, attempt: attempt + 1 },
            `${this.#description}: reconnecting failed`,
          );
          this.#reconnect(attempt + 1);
        },
      );
    }, delay);
    this.#retry.unref();
  }

  #heard(payload: string): void {
    let topic: unknown;
    let message: unknown;
    try {
      [topic, message] = JSON.parse(payload) as unknown[];
    } catch {
      topic = undefined;
    }
    if (typeof topic !== "string" || typeof message !== "string") {
      this.#options.logger.debug(
        { channel: this.#channel, payload },
        "ignored a notification of another shape",
      );
      return;
    }
    for (const listener of this.#listeners.get(topic) ?? []) listener.heard(message);
    for (const listener of this.#everyTopic) listener.heard(JSON.stringify([topic, message]));
  }

  #anyone(): boolean {
    return this.#listeners.size > 0 || this.#everyTopic.size > 0;
  }

  *#all(): Iterable<Listener> {
    for (const listeners of this.#listeners.values()) yield* listeners;
    yield* this.#everyTopic;
  }

  #remove(topic: string, listener: Listener): void {
    const listeners = this.#listeners.get(topic);
    listeners?.delete(listener);
    if (listeners?.size === 0) this.#listeners.delete(topic);
    this.#leftMaybeLast();
  }

  /** After a listener left: when it was the last, the connection closes. */
  #leftMaybeLast(): void {
    if (this.#anyone()) return;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#everConnected = false;
    const client = this.#client;
    this.#client = undefined;
    if (client) this.#end(client);
  }

  #end(client: pg.Client): void {
    const table = this.#listenersTable;
    // A connection that cannot say it leaves (it dropped) is cleared by the next one to listen.
    const left = table
      ? client
          .query(`delete from ${table} where channel = $1 and pid = pg_backend_pid()`, [this.#channel])
          .catch(() => undefined)
      : Promise.resolve();
    left
      .then(() => client.end())
      .catch((error: unknown) =>
        this.#options.logger.debug(
          { err: error, channel: this.#channel },
          "listening connection did not close cleanly",
        ),
      );
  }
}

/** One listener of one topic: collects messages between calls, ended by its signal or `close`. */
class Listener implements TopicListener {
  readonly #signal: AbortSignal;
  readonly #maxPending: number;
  readonly #onClose: () => void;
  #messages = new Set<string>();
  #complete = true;
  #waiting:
    | { promise: Promise<Heard>; resolve: (heard: Heard) => void; reject: (reason: unknown) => void }
    | undefined;
  #closed = false;

  constructor(signal: AbortSignal, maxPending: number, onClose: () => void) {
    this.#signal = signal;
    this.#maxPending = maxPending;
    this.#onClose = onClose;
    signal.addEventListener("abort", this.#aborted, { once: true });
  }

  heard(message: string): void {
    if (!this.#complete) return; // a loss is already reported: the listener looks at everything
    this.#messages.add(message);
    if (this.#messages.size > this.#maxPending) this.lost();
    else this.#deliver();
  }

  lost(): void {
    this.#messages.clear();
    this.#complete = false;
    this.#deliver();
  }

  next(): Promise<Heard> {
    if (this.#signal.aborted) return Promise.reject(this.#signal.reason);
    if (this.#waiting) return this.#waiting.promise; // asked again before an answer: the same answer
    const { promise, resolve, reject } = Promise.withResolvers<Heard>();
    this.#waiting = { promise, resolve, reject };
    this.#deliver();
    return promise;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal.removeEventListener("abort", this.#aborted);
    this.#onClose();
  }

  #deliver(): void {
    const waiting = this.#waiting;
    if (!waiting || (this.#complete && this.#messages.size === 0)) return;
    this.#waiting = undefined;
    const heard: Heard = { messages: [...this.#messages], complete: this.#complete };
    this.#messages = new Set();
    this.#complete = true;
    waiting.resolve(heard);
  }

  readonly #aborted = (): void => {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(this.#signal.reason);
    this.close();
  };
}

/** `name` as it is, once checked to be safe in SQL text: a channel's or a schema's plain name. */
function checked(kind: "channel" | "schema", name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`${kind} ${name} is not a plain lowercase identifier`);
  return name;
}
