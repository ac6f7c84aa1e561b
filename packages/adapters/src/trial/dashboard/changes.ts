import {
  ORDER_STATES,
  type OrderChangeListener,
  type OrderState,
  type OrderStatusChange,
  type OrderStatusChanges,
  type OrderStatusFeed,
  type OrderStatusFeedListener,
} from "@hexa/core/trial/dashboard";
import type { Logger } from "pino";
import { ChannelListener } from "../../postgres/notifications.ts";

/**
 * The Postgres notification channel on which every change of an order's view is announced (topic:
 * the order id; message: the order's state before the change, empty for its first view), by a
 * trigger on the view's table (store.ts), when the change commits.
 */
export const ORDER_CHANGES_CHANNEL = "trial_dashboard_order";

/** Name the listening connection shows in `pg_stat_activity`. */
export const LISTENER_APPLICATION_NAME = "hexa dashboard order changes";

/**
 * Changes of orders' views made by any replica: one listening connection per process, open while
 * anyone watches, wakes this process's watchers of the order a notification names. After the
 * connection dropped and came back, every watcher is woken, since changes made meanwhile were not heard.
 */
export class OrderChangeFeed implements OrderStatusChanges, OrderStatusFeed {
  readonly #channel: ChannelListener;

  constructor(options: {
    connectionString: string;
    /** The schema whose triggers announce the changes. */
    schema: string;
    logger: Logger;
    reconnectMs?: readonly number[];
  }) {
    this.#channel = new ChannelListener({
      connectionString: options.connectionString,
      channel: ORDER_CHANGES_CHANNEL,
      logger: options.logger,
      applicationName: LISTENER_APPLICATION_NAME,
      announcingSchema: options.schema,
      description: "order changes",
      ...(options.reconnectMs ? { reconnectMs: options.reconnectMs } : {}),
    });
  }

  async listen(orderId: string, signal: AbortSignal): Promise<OrderChangeListener> {
    const listener = await this.#channel.listen(orderId, signal);
    return {
      changed: async () => {
        await listener.next();
      },
      close: () => listener.close(),
    };
  }

  /** Every order's changes, on the same listening connection as the watchers of one order. */
  async listenToEvery(signal: AbortSignal): Promise<OrderStatusFeedListener> {
    const listener = await this.#channel.listenToEveryTopic(signal);
    return {
      next: async () => {
        const heard = await listener.next();
        return { changes: heard.messages.map(changeOf), complete: heard.complete };
      },
      close: () => listener.close(),
    };
  }
}

/** A notification heard on every topic, `[order id, previous state]`, as a change. */
function changeOf(message: string): OrderStatusChange {
  const [orderId, previous] = JSON.parse(message) as [string, string];
  const known = (ORDER_STATES as readonly string[]).includes(previous);
  return { orderId, previousState: known ? (previous as OrderState) : undefined };
}
