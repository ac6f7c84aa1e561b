import type { DashboardChangeListener, DashboardChanges } from "@hexa/core/vaccination/dashboard";
import type { Logger } from "pino";
import { ChannelListener } from "../../postgres/notifications.ts";

/**
 * The Postgres notification channel on which every transaction that changes a read model announces
 * it, when it commits: each table's statement trigger (schema.ts) sends one topic and one message,
 * which Postgres delivers once per transaction however many statements sent it.
 */
export const DASHBOARD_CHANGES_CHANNEL = "vaccination_dashboard_changes";
export const DASHBOARD_CHANGES_TOPIC = "read-models";

/** Name the listening connection shows in `pg_stat_activity`. */
export const LISTENER_APPLICATION_NAME = "hexa vaccination dashboard changes";

/**
 * Changes of the read models made by any replica: one listening connection per process, open
 * while anyone watches. After the connection dropped and came back, every watcher is woken.
 */
export class DashboardChangeFeed implements DashboardChanges {
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
      channel: DASHBOARD_CHANGES_CHANNEL,
      logger: options.logger,
      applicationName: LISTENER_APPLICATION_NAME,
      announcingSchema: options.schema,
      description: "vaccination dashboard changes",
      ...(options.reconnectMs ? { reconnectMs: options.reconnectMs } : {}),
    });
  }

  async listen(signal: AbortSignal): Promise<DashboardChangeListener> {
    const listener = await this.#channel.listen(DASHBOARD_CHANGES_TOPIC, signal);
    return {
      changed: async () => {
        await listener.next();
      },
      close: () => listener.close(),
    };
  }
}
