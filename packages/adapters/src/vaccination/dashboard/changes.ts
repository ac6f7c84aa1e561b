import type { DashboardChangeListener, DashboardChanges } from "@hexa/core/vaccination/dashboard";
import type { Logger } from "pino";
import type { EntityManager } from "../../postgres/database.ts";
import { ChannelListener, notifyChannel } from "../../postgres/notifications.ts";

/**
 * The Postgres notification channel on which every policy's transaction announces that the read
 * models changed (one topic, one message: Postgres sends it once per transaction), when it commits.
 */
export const DASHBOARD_CHANGES_CHANNEL = "vaccination_dashboard_changes";
const TOPIC = "read-models";

/** Name the listening connection shows in `pg_stat_activity`. */
export const LISTENER_APPLICATION_NAME = "hexa vaccination dashboard changes";

/** In a policy's unit of work: the read models changed, as watchers hear once it commits. */
export function announceDashboardChange(em: EntityManager): Promise<void> {
  return notifyChannel(em, DASHBOARD_CHANGES_CHANNEL, TOPIC, "changed");
}

/**
 * Changes of the read models made by any replica: one listening connection per process, open
 * while anyone watches. After the connection dropped and came back, every watcher is woken.
 */
export class DashboardChangeFeed implements DashboardChanges {
  readonly #channel: ChannelListener;

  constructor(options: { connectionString: string; logger: Logger; reconnectMs?: readonly number[] }) {
    this.#channel = new ChannelListener({
      connectionString: options.connectionString,
      channel: DASHBOARD_CHANGES_CHANNEL,
      logger: options.logger,
      applicationName: LISTENER_APPLICATION_NAME,
      description: "vaccination dashboard changes",
      ...(options.reconnectMs ? { reconnectMs: options.reconnectMs } : {}),
    });
  }

  async listen(signal: AbortSignal): Promise<DashboardChangeListener> {
    const listener = await this.#channel.listen(TOPIC, signal);
    return {
      changed: async () => {
        await listener.next();
      },
      close: () => listener.close(),
    };
  }
}
