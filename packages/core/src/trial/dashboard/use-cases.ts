import { InvalidArgument, NotFound, requireUuid } from "../../shared/index.ts";
import type { OrderFact, OrderState, OrderStatus } from "./order-status.ts";
import type { OrderStatusChanges, OrderStatuses, OrderStatusPosition, OrderStatusReads } from "./ports.ts";

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
  if (query.customerId.length > MAX_CUSTOMER_ID_LENGTH) {
    throw new InvalidArgument("customerId", `must be at most ${MAX_CUSTOMER_ID_LENGTH} characters`);
  }
  const planId = query.planId === "" ? undefined : requireUuid("planId", query.planId);
  return ports.statuses.list(
    { customerId: query.customerId === "" ? undefined : query.customerId, planId, state: query.state },
    { limit: query.limit, after: query.after },
  );
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
