import { InvalidArgument, NotFound, requireUuid } from "../../shared/index.ts";
import type { OrderFact, OrderState, OrderStatus } from "./order-status.ts";
import type {
  OrderStatusChanges,
  OrderStatuses,
  OrderStatusFeed,
  OrderStatusFilter,
  OrderStatusPosition,
  OrderStatusReads,
} from "./ports.ts";

export interface DashboardPorts {
  readonly statuses: OrderStatuses;
}

/** What the dashboard's queries read. */
export interface DashboardReads {
  readonly statuses: OrderStatusReads;
}

/** Longest customer id the order service accepts, so the longest worth filtering by. */
export const MAX_CUSTOMER_ID_LENGTH = 64;

/**
 * Policy: another context published an event about an order, so the order's view takes it into
 * account. Returns the new view, or undefined when the event had been seen already.
 */
export async function whenOrderEventSeen(
  ports: DashboardPorts,
  seen: { orderId: string; fact: OrderFact },
): Promise<OrderStatus | undefined> {
  return ports.statuses.add(requireUuid("orderId", seen.orderId), seen.fact);
}

export async function getOrderStatus(
  ports: DashboardReads,
  query: { orderId: string },
): Promise<OrderStatus> {
  const status = await ports.statuses.get(requireUuid("orderId", query.orderId));
  if (!status) throw new NotFound("Order", query.orderId);
  return status;
}

export interface ListOrderStatuses {
  /** Empty: any customer. */
  readonly customerId: string;
  /** Empty: any plan. */
  readonly planId: string;
  /** Undefined: any state. */
  readonly state?: OrderState | undefined;
  readonly limit: number;
  /** Undefined for the first page. */
  readonly after?: OrderStatusPosition | undefined;
}

/** One page of views, most recently updated first. */
export async function listOrderStatuses(
  ports: DashboardReads,
  query: ListOrderStatuses,
): Promise<OrderStatus[]> {
  return ports.statuses.list(requireFilter(query), { limit: query.limit, after: query.after });
}

function requireFilter(query: {
  customerId: string;
  planId: string;
  state?: OrderState | undefined;
}): OrderStatusFilter {
  if (query.customerId.length > MAX_CUSTOMER_ID_LENGTH) {
    throw new InvalidArgument("customerId", `must be at most ${MAX_CUSTOMER_ID_LENGTH} characters`);
  }
  const planId = query.planId === "" ? undefined : requireUuid("planId", query.planId);
  return { customerId: query.customerId === "" ? undefined : query.customerId, planId, state: query.state };
}

/** What a watcher of the orders a filter selects hears: a changed view, or to read its list again. */
export type OrderStatusesNews = { readonly status: OrderStatus } | { readonly readAgain: true };

/** More changes at once than this are not read one by one: the watcher reads its list again instead. */
export const MAX_CHANGES_READ = 50;

/**
 * The changes of the views `filter` selects, until `signal` aborts: first "read again" once
 * listening (what the caller read before may already be stale), then each changed view that
 * matches the filter now or matched it before the change (it left the state asked for), and "read
 * again" whenever changes may have been missed or too many came at once.
 */
export async function* watchOrderStatuses(
  ports: DashboardReads & { readonly feed: OrderStatusFeed },
  query: { customerId: string; planId: string; state?: OrderState | undefined },
  signal: AbortSignal,
): AsyncGenerator<OrderStatusesNews> {
  const filter = requireFilter(query);
  const listener = await ports.feed.listenToEvery(signal);
  try {
    yield { readAgain: true };
    for (;;) {
      const heard = await listener.next();
      const previousStates = new Map<string, Set<OrderState | undefined>>();
      for (const change of heard.changes) {
        const states = previousStates.get(change.orderId) ?? new Set();
        states.add(change.previousState);
        previousStates.set(change.orderId, states);
      }
      if (!heard.complete || previousStates.size > MAX_CHANGES_READ) {
        yield { readAgain: true };
        continue;
      }
      for (const [orderId, before] of previousStates) {
        const status = await ports.statuses.get(orderId);
        if (status && selects(filter, status, before)) yield { status };
      }
    }
  } finally {
    listener.close();
  }
}

function selects(
  filter: OrderStatusFilter,
  status: OrderStatus,
  before: Set<OrderState | undefined>,
): boolean {
  if (filter.customerId !== undefined && status.customerId !== filter.customerId) return false;
  if (filter.planId !== undefined && status.planId !== filter.planId) return false;
  return filter.state === undefined || status.state === filter.state || before.has(filter.state);
}

/**
 * The order's view now, then again after every change, until `signal` aborts. An order not seen yet
 * yields nothing until its first event arrives: a watcher may well connect before the dashboard
 * has heard of an order it was just told about. Changes that land close together may show as one
 * view (the latest); no view is shown twice.
 */
export async function* watchOrderStatus(
  ports: DashboardReads & { readonly changes: OrderStatusChanges },
  query: { orderId: string },
  signal: AbortSignal,
): AsyncGenerator<OrderStatus> {
  const orderId = requireUuid("orderId", query.orderId);
  // Listen before the first read, so a change committed between the two is not missed.
  const listener = await ports.changes.listen(orderId, signal);
  try {
    let shown = 0;
    for (;;) {
      const status = await ports.statuses.get(orderId);
      // Events are only ever added, so the number seen tells a newer view from one already shown.
      if (status && status.history.length > shown) {
        shown = status.history.length;
        yield status;
      }
      await listener.changed();
    }
  } finally {
    listener.close();
  }
}
