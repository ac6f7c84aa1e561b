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
 * The state the events seen add up to, the furthest one winning. A cancellation wins over
 * everything before delivery; once the courier has delivered, the product comes back through a
 * return, so a cancelled but delivered order shows DELIVERED until its ReturnRequested arrives.
 */
export function stateOf(seen: ReadonlySet<OrderEventType>): OrderState {
  if (seen.has("trial.delivery.v1.PickupCompleted")) return "RETURNED";
  if (seen.has("trial.order.v1.ReturnRequested") || seen.has("trial.delivery.v1.PickupRequested")) {
    return "RETURN_REQUESTED";
  }
  if (seen.has("trial.order.v1.OrderRejected")) return "REJECTED";
  const delivered = seen.has("trial.delivery.v1.DeliveryCompleted");
  if (seen.has("trial.order.v1.OrderCancelled") && !delivered) return "CANCELLED";
  if (delivered) return "DELIVERED";
  if (seen.has("trial.delivery.v1.DeliveryStarted")) return "DELIVERING";
  return "PLACED";
}

function deliveryOf(seen: ReadonlySet<OrderEventType>): DeliveryProgress {
  if (seen.has("trial.delivery.v1.DeliveryCancelled")) return "CANCELLED";
  if (seen.has("trial.delivery.v1.DeliveryCompleted")) return "COMPLETED";
  if (seen.has("trial.delivery.v1.DeliveryStarted")) return "IN_PROGRESS";
  return "NONE";
}

function pickupOf(seen: ReadonlySet<OrderEventType>): PickupProgress {
  if (seen.has("trial.delivery.v1.PickupCompleted")) return "COMPLETED";
  if (seen.has("trial.delivery.v1.PickupRequested")) return "REQUESTED";
  return "NONE";
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
