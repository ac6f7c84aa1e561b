/**
 * The dashboard's view of one order, derived only from the events other contexts publish about it
 * (CQRS read model). The view is a pure function of the set of events seen: whatever order they
 * arrive in, and however often one is redelivered, the same events give the same view.
 */

/** The events the dashboard reacts to, by full proto name, in the order an order's life runs through them. */
export const ORDER_EVENT_TYPES = [
  "trial.order.v1.OrderPlaced",
  "trial.order.v1.OrderRejected",
  "trial.delivery.v1.DeliveryStarted",
  "trial.order.v1.OrderCancelled",
  "trial.delivery.v1.DeliveryCancelled",
  "trial.delivery.v1.DeliveryCompleted",
  "trial.order.v1.ReturnRequested",
  "trial.delivery.v1.PickupRequested",
  "trial.delivery.v1.PickupCompleted",
] as const;

export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

/**
 * The order's status as the dashboard shows it, in the order service's terms: the one list of them
 * (the table's CHECK and the wire form derive from it).
 */
export const ORDER_STATES = [
  "PLACED",
  "DELIVERING",
  "DELIVERED",
  "RETURN_REQUESTED",
  "RETURNED",
  "CANCELLED",
  "REJECTED",
] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export type DeliveryProgress = "NONE" | "IN_PROGRESS" | "COMPLETED" | "CANCELLED";
export type PickupProgress = "NONE" | "REQUESTED" | "COMPLETED";

/** What an event told about the order itself; each event carries some of it, none carries all. */
export interface OrderDetails {
  readonly customerId?: string | undefined;
  readonly planId?: string | undefined;
  readonly productId?: string | undefined;
  readonly quantity?: number | undefined;
  readonly address?: string | undefined;
  readonly placedAt?: Date | undefined;
  readonly returnDueAt?: Date | undefined;
}

/** One event seen about an order: its id, its type, when it happened, and the details it carried. */
export interface OrderFact {
  readonly eventId: string;
  readonly eventType: OrderEventType;
  readonly occurredAt: Date;
  readonly details: OrderDetails;
}

export interface OrderStatus {
  readonly orderId: string;
  /** Undefined until an event carrying it is seen. */
  readonly customerId: string | undefined;
  readonly planId: string | undefined;
  readonly productId: string | undefined;
  readonly quantity: number | undefined;
  readonly address: string | undefined;
  readonly state: OrderState;
  readonly delivery: DeliveryProgress;
  readonly pickup: PickupProgress;
  readonly placedAt: Date | undefined;
  readonly returnDueAt: Date | undefined;
  /** When the latest event seen happened. */
  readonly updatedAt: Date;
  /** Every event seen, in the order they happened; never empty. */
  readonly history: readonly OrderFact[];
}

/**
 * The view with `fact` taken into account, or undefined when that event was seen already (a
 * redelivery changes nothing).
 */
export function withFact(
  known: OrderStatus | undefined,
  orderId: string,
  fact: OrderFact,
): OrderStatus | undefined {
  if (known?.history.some((seen) => seen.eventId === fact.eventId)) return undefined;
  return projectOrderStatus(orderId, [...(known?.history ?? []), fact]);
}

/** The view of an order that these events were seen for; the same set gives the same view in any order. */
export function projectOrderStatus(orderId: string, facts: readonly OrderFact[]): OrderStatus {
  const history = distinct([...facts].sort(happenedBefore));
  const latest = history.at(-1);
  if (!latest) throw new RangeError(`order ${orderId}: a view needs at least one event`);
  const seen = new Set(history.map((fact) => fact.eventType));
  // The order's own announcement is the authority on its details; other events fill the gaps.
  const sources = [...history].sort((a, b) => placedFirst(a) - placedFirst(b));
  const detail = <K extends keyof OrderDetails>(key: K): OrderDetails[K] =>
    sources.find((fact) => fact.details[key] !== undefined)?.details[key];
  return {
    orderId,
    customerId: detail("customerId"),
    planId: detail("planId"),
    productId: detail("productId"),
    quantity: detail("quantity"),
    address: detail("address"),
    state: stateOf(seen),
    delivery: deliveryOf(seen),
    pickup: pickupOf(seen),
    placedAt: detail("placedAt"),
    returnDueAt: detail("returnDueAt"),
    updatedAt: latest.occurredAt,
    history,
  };
}

/**
 * How far each kind of progress can go, least first. Every event takes the order to a state (and
 * its delivery and pickup to a step) of its own, and the view shows the furthest any event seen
 * took it, so the view of a set of events is the same whatever their order, and a new event merges
 * into a stored view by taking the further of the two.
 * A cancellation goes further than a delivery under way; once the courier has delivered, the
 * product comes back through a return, so a cancelled but delivered order shows DELIVERED until its
 * ReturnRequested arrives.
 */
export const STATE_PRECEDENCE = [
  "PLACED",
  "DELIVERING",
  "CANCELLED",
  "DELIVERED",
  "REJECTED",
  "RETURN_REQUESTED",
  "RETURNED",
] as const satisfies readonly OrderState[];
export const DELIVERY_PRECEDENCE = [
  "NONE",
  "IN_PROGRESS",
  "COMPLETED",
  "CANCELLED",
] as const satisfies readonly DeliveryProgress[];
export const PICKUP_PRECEDENCE = [
  "NONE",
  "REQUESTED",
  "COMPLETED",
] as const satisfies readonly PickupProgress[];

/** Where each event takes the order's state, its delivery and its pickup. */
const REACHED: Record<
  OrderEventType,
  { readonly state: OrderState; readonly delivery: DeliveryProgress; readonly pickup: PickupProgress }
> = {
  "trial.order.v1.OrderPlaced": { state: "PLACED", delivery: "NONE", pickup: "NONE" },
  "trial.order.v1.OrderRejected": { state: "REJECTED", delivery: "NONE", pickup: "NONE" },
  "trial.delivery.v1.DeliveryStarted": { state: "DELIVERING", delivery: "IN_PROGRESS", pickup: "NONE" },
  "trial.order.v1.OrderCancelled": { state: "CANCELLED", delivery: "NONE", pickup: "NONE" },
  "trial.delivery.v1.DeliveryCancelled": { state: "PLACED", delivery: "CANCELLED", pickup: "NONE" },
  "trial.delivery.v1.DeliveryCompleted": { state: "DELIVERED", delivery: "COMPLETED", pickup: "NONE" },
  "trial.order.v1.ReturnRequested": { state: "RETURN_REQUESTED", delivery: "NONE", pickup: "NONE" },
  "trial.delivery.v1.PickupRequested": { state: "RETURN_REQUESTED", delivery: "NONE", pickup: "REQUESTED" },
  "trial.delivery.v1.PickupCompleted": { state: "RETURNED", delivery: "NONE", pickup: "COMPLETED" },
};

/** The state the events seen add up to: the furthest any of them took the order (see {@link STATE_PRECEDENCE}). */
export function stateOf(seen: ReadonlySet<OrderEventType>): OrderState {
  return furthest(STATE_PRECEDENCE, seen, "state");
}

function deliveryOf(seen: ReadonlySet<OrderEventType>): DeliveryProgress {
  return furthest(DELIVERY_PRECEDENCE, seen, "delivery");
}

function pickupOf(seen: ReadonlySet<OrderEventType>): PickupProgress {
  return furthest(PICKUP_PRECEDENCE, seen, "pickup");
}

function furthest<Step extends string>(
  precedence: readonly Step[],
  seen: ReadonlySet<OrderEventType>,
  progress: keyof (typeof REACHED)[OrderEventType],
): Step {
  let rank = 0;
  for (const type of seen) rank = Math.max(rank, precedence.indexOf(REACHED[type][progress] as Step));
  return precedence[rank] as Step;
}

/** Each event once, keeping the order given. */
function distinct(facts: readonly OrderFact[]): OrderFact[] {
  const ids = new Set<string>();
  return facts.filter((fact) => !ids.has(fact.eventId) && ids.add(fact.eventId));
}

/** A total order: by time, then by where the event falls in an order's life, then by event id. */
function happenedBefore(a: OrderFact, b: OrderFact): number {
  return (
    a.occurredAt.getTime() - b.occurredAt.getTime() ||
    ORDER_EVENT_TYPES.indexOf(a.eventType) - ORDER_EVENT_TYPES.indexOf(b.eventType) ||
    (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0)
  );
}

function placedFirst(fact: OrderFact): number {
  return fact.eventType === "trial.order.v1.OrderPlaced" ? 0 : 1;
}
