import type { OrderFact, OrderState, OrderStatus } from "./order-status.ts";

/** Filters of a listing; an absent one does not filter. */
export interface OrderStatusFilter {
  readonly customerId?: string | undefined;
  readonly planId?: string | undefined;
  readonly state?: OrderState | undefined;
}

/** Where a listing stands: the sort key of the last view already shown (most recently updated first). */
export interface OrderStatusPosition {
  readonly updatedAt: Date;
  readonly orderId: string;
}

/** The dashboard's read model: one view per order. */
export interface OrderStatuses extends OrderStatusReads {
  /**
   * Takes `fact` into account in the order's view, in one step (as `withFact` derives it), and
   * lets watchers of the order, in every replica, know once it commits. Answers the new view, or
   * undefined when that event was seen already (nothing changes then).
   */
  add(orderId: string, fact: OrderFact): Promise<OrderStatus | undefined>;
}

/**
 * The views as queries read them: outside a unit of work, nothing locked.
 */
export interface OrderStatusReads {
  get(orderId: string): Promise<OrderStatus | undefined>;
  /** Views matching `filter`, most recently updated first (ties by order id, descending), after `after`. */
  list(
    filter: OrderStatusFilter,
    page: { readonly limit: number; readonly after?: OrderStatusPosition | undefined },
  ): Promise<OrderStatus[]>;
}

/** Tells a watcher that an order's view may have changed, wherever the change was made. */
export interface OrderStatusChanges {
  /**
   * Starts listening for changes of one order. Resolves once listening: every change committed
   * afterwards wakes the listener. Rejects with Unavailable when changes cannot be listened to.
   */
  listen(orderId: string, signal: AbortSignal): Promise<OrderChangeListener>;
}

export interface OrderChangeListener {
  /**
   * Resolves when the order may have changed since the previous call (several changes in between
   * wake it once); rejects with the signal's reason once the signal aborts.
   */
  changed(): Promise<void>;
  /** Stops listening. */
  close(): void;
}

/** One change of an order's view, as a watcher of every order hears of it. */
export interface OrderStatusChange {
  readonly orderId: string;
  /** The order's state before the change; undefined for its first view (or when not known). */
  readonly previousState: OrderState | undefined;
}

/** Tells a watcher of every order which views changed, wherever the change was made. */
export interface OrderStatusFeed {
  /**
   * Starts listening for changes of every order. Resolves once listening: every change committed
   * afterwards is heard, or reported missed. Rejects with Unavailable when changes cannot be listened to.
   */
  listenToEvery(signal: AbortSignal): Promise<OrderStatusFeedListener>;
}

export interface OrderStatusFeedListener {
  /**
   * Resolves with the changes heard since the previous call as soon as there is one, `complete`
   * false when some may have been missed; rejects with the signal's reason once the signal aborts.
   */
  next(): Promise<{ readonly changes: readonly OrderStatusChange[]; readonly complete: boolean }>;
  close(): void;
}
