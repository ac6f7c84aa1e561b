import type { NotificationChangeListener, NotificationChanges } from "@hexa/core/vaccination/notification";
import type { Logger } from "pino";
import { ChannelListener } from "../../postgres/notifications.ts";
import { NOTIFICATION_CHANGES_CHANNEL } from "./store.ts";

/** Name the listening connection shows in `pg_stat_activity`. */
export const LISTENER_APPLICATION_NAME = "hexa notification changes";

/**
 * Changes of people's notifications made by any replica: the store announces each committed change
 * on {@link NOTIFICATION_CHANGES_CHANNEL} (topic: the person), and one listening connection per
 * process, open while anyone watches, hands them to this process's watchers.
 */
export class NotificationChangeFeed implements NotificationChanges {
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
      channel: NOTIFICATION_CHANGES_CHANNEL,
      logger: options.logger,
      applicationName: LISTENER_APPLICATION_NAME,
      announcingSchema: options.schema,
      description: "notification changes",
      ...(options.reconnectMs ? { reconnectMs: options.reconnectMs } : {}),
    });
  }

  async listen(personId: string, signal: AbortSignal): Promise<NotificationChangeListener> {
    const listener = await this.#channel.listen(personId, signal);
    return {
      changed: async () => {
        const heard = await listener.next();
        return { notificationIds: heard.messages, complete: heard.complete };
      },
      close: () => listener.close(),
    };
  }
}
