/** Tells a watcher that the dashboard's read models may have changed, wherever the change was made. */
export interface DashboardChanges {
  /**
   * Starts listening. Resolves once listening: every change committed afterwards wakes the
   * listener. Rejects with Unavailable when changes cannot be listened to.
   */
  listen(signal: AbortSignal): Promise<DashboardChangeListener>;
}

export interface DashboardChangeListener {
  /**
   * Resolves when the read models may have changed since the previous call (several changes in
   * between wake it once), or may have changed unheard (listening was lost and is back); rejects
   * with the signal's reason once the signal aborts.
   */
  changed(): Promise<void>;
  close(): void;
}

/** Fewest milliseconds between two wake-ups of one watcher: a burst of events is one re-read a second. */
export const WATCH_DASHBOARD_SPACING_MS = 1_000;

/**
 * Wakes the caller once listening (what it read before may be stale already), then after changes,
 * at most once per `spacingMs`, until `signal` aborts. `pause` waits, and ends early when the signal aborts.
 */
export async function* watchDashboard(
  ports: {
    readonly changes: DashboardChanges;
    readonly pause: (ms: number, signal: AbortSignal) => Promise<void>;
  },
  signal: AbortSignal,
  spacingMs = WATCH_DASHBOARD_SPACING_MS,
): AsyncGenerator<void> {
  const listener = await ports.changes.listen(signal);
  try {
    for (;;) {
      yield;
      await ports.pause(spacingMs, signal);
      await listener.changed();
    }
  } finally {
    listener.close();
  }
}
