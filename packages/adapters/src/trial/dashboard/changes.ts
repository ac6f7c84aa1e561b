import { Unavailable } from "@hexa/core/shared";
import type { OrderChangeListener, OrderStatusChanges } from "@hexa/core/trial/dashboard";
import pg from "pg";
import type { Logger } from "pino";
import type { EntityManager } from "../../postgres/database.ts";

/** The Postgres notification channel that carries the id of every order whose view changed. */
export const ORDER_CHANGES_CHANNEL = "trial_dashboard_order";

/** Name the listening connection shows in `pg_stat_activity`. */
export const LISTENER_APPLICATION_NAME = "hexa dashboard order changes";

/**
 * Announces that an order's view changed. Called inside the transaction that changes it:
 * Postgres delivers the notification at commit, and never for a rolled-back change.
 */
export async function notifyOrderChanged(em: EntityManager, orderId: string): Promise<void> {
  await em.execute("select pg_notify(?, ?)", [ORDER_CHANGES_CHANNEL, orderId]);
}

export interface OrderChangeFeedOptions {
  /** The database the views live in. */
  readonly connectionString: string;
  readonly logger: Logger;
  /** Waits before each attempt to reconnect after the connection dropped; the last one repeats. */
  readonly reconnectMs?: readonly number[];
}

/**
 * Order changes made by any replica, from Postgres LISTEN/NOTIFY: each process keeps one dedicated
 * connection LISTENing on {@link ORDER_CHANGES_CHANNEL} and wakes its own watchers of the order a
 * notification names.
 *
 * The connection opens with the first watcher and closes when the last one leaves, so an idle
 * process holds none and a server that has stopped (its calls ended) holds none either. When the
 * connection drops it is opened again, with backoff, for as long as anyone watches; once it is
 * back every watcher is woken, since changes made meanwhile were not heard.
 */
export class OrderChangeFeed implements OrderStatusChanges {
  readonly #options: OrderChangeFeedOptions;
  readonly #watchers = new Map<string, Set<Watcher>>();
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;

  constructor(options: OrderChangeFeedOptions) {
    this.#options = options;
  }

  async listen(orderId: string, signal: AbortSignal): Promise<OrderChangeListener> {
    signal.throwIfAborted();
    const watcher = new Watcher(signal, () => this.#remove(orderId, watcher));
    let watchers = this.#watchers.get(orderId);
    if (!watchers) {
      watchers = new Set();
      this.#watchers.set(orderId, watchers);
    }
    watchers.add(watcher);
    try {
      await this.#listening();
    } catch (error) {
      watcher.close();
      this.#options.logger.warn({ err: error }, "cannot listen for order changes");
      throw new Unavailable("order changes cannot be watched right now, retry later");
    }
    return watcher;
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
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
    });
    client.on("error", (error) => this.#lost(client, error));
    client.on("end", () => this.#lost(client, undefined));
    client.on("notification", (message) => {
      if (message.channel === ORDER_CHANGES_CHANNEL && message.payload) this.#wake(message.payload);
    });
    try {
      await client.connect();
      await client.query(`listen ${ORDER_CHANGES_CHANNEL}`);
    } catch (error) {
      this.#end(client);
      throw error;
    }
    if (this.#watchers.size === 0) {
      this.#end(client); // everyone left while it was connecting
      return;
    }
    this.#client = client;
    // Whatever changed while nobody was listening was not heard: every watcher looks again.
    for (const watchers of this.#watchers.values()) for (const watcher of watchers) watcher.wake();
  }

  #lost(client: pg.Client, error: Error | undefined): void {
    if (client !== this.#client) return;
    this.#client = undefined;
    this.#end(client);
    this.#options.logger.warn({ err: error }, "order changes connection lost; reconnecting");
    this.#reconnect(0);
  }

  #reconnect(attempt: number): void {
    if (this.#retry || this.#watchers.size === 0) return;
    const delays = this.#options.reconnectMs ?? [100, 500, 2_000, 5_000];
    const delay = delays[Math.min(attempt, delays.length - 1)] ?? 1_000;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#watchers.size === 0) return;
      this.#listening().then(
        () => this.#options.logger.info("order changes connection back"),
        (error: unknown) => {
          this.#options.logger.warn({ err: error, attempt: attempt + 1 }, "order changes reconnect failed");
          this.#reconnect(attempt + 1);
        },
      );
    }, delay);
    this.#retry.unref();
  }

  #wake(orderId: string): void {
    for (const watcher of this.#watchers.get(orderId) ?? []) watcher.wake();
  }

  #remove(orderId: string, watcher: Watcher): void {
    const watchers = this.#watchers.get(orderId);
    watchers?.delete(watcher);
    if (watchers?.size === 0) this.#watchers.delete(orderId);
    if (this.#watchers.size > 0) return;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const client = this.#client;
    this.#client = undefined;
    if (client) this.#end(client);
  }

  #end(client: pg.Client): void {
    client
      .end()
      .catch((error: unknown) =>
        this.#options.logger.debug({ err: error }, "order changes connection did not close cleanly"),
      );
  }
}

/** One watcher of one order: woken by notifications, ended by its signal or `close`. */
class Watcher implements OrderChangeListener {
  readonly #signal: AbortSignal;
  readonly #onClose: () => void;
  #pending = false;
  #waiting: { resolve: () => void; reject: (reason: unknown) => void } | undefined;
  #closed = false;

  constructor(signal: AbortSignal, onClose: () => void) {
    this.#signal = signal;
    this.#onClose = onClose;
    signal.addEventListener("abort", this.#aborted, { once: true });
  }

  wake(): void {
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve();
    } else {
      this.#pending = true;
    }
  }

  changed(): Promise<void> {
    if (this.#signal.aborted) return Promise.reject(this.#signal.reason);
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal.removeEventListener("abort", this.#aborted);
    this.#onClose();
  }

  readonly #aborted = (): void => {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(this.#signal.reason);
    this.close();
  };
}
