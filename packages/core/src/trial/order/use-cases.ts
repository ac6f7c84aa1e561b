import { type EventContext, NotFound, requireUuid } from "../../shared/index.ts";
import { type OfferedPlan, planEnded, planStarted } from "./offered-plan.ts";
import { Order, type OrderState } from "./order.ts";
import type { OfferedPlans, OrderReads, Orders } from "./ports.ts";

export interface OrderPorts extends EventContext {
  readonly orders: Orders;
  readonly offeredPlans: OfferedPlans;
}

export interface PlaceOrder {
  readonly customerId: string;
  readonly planId: string;
  readonly quantity: number;
  readonly address: string;
}

/** Places an order; the plan is only read (the adapter holds it FOR SHARE, so orders of one plan go in parallel). */
export async function placeOrder(
  ports: Omit<OrderPorts, "offeredPlans"> & { readonly offeredPlans: Pick<OfferedPlans, "get"> },
  command: PlaceOrder,
): Promise<OrderState> {
  const planId = requireUuid("planId", command.planId);
  const order = Order.place(
    { ...command, orderId: ports.ids.next(), plan: await ports.offeredPlans.get(planId) },
    ports,
  );
  await ports.orders.save(order);
  return order.state;
}

export async function cancelOrder(ports: OrderPorts, command: { orderId: string }): Promise<OrderState> {
  const order = await loadOrder(ports.orders, command.orderId);
  order.cancel("CUSTOMER", ports);
  await ports.orders.save(order);
  return order.state;
}

export async function requestReturn(ports: OrderPorts, command: { orderId: string }): Promise<OrderState> {
  const order = await loadOrder(ports.orders, command.orderId);
  order.requestReturn("CUSTOMER", ports);
  await ports.orders.save(order);
  return order.state;
}

export interface ClosedOrders {
  readonly cancelledOrderIds: string[];
  readonly returnRequestedOrderIds: string[];
}

/**
 * Marketing ended a plan: from now on it takes no orders, its open orders are cancelled and its
 * delivered ones asked back. A repeated call changes nothing and answers the same.
 */
export async function cancelOrdersForPlan(
  ports: OrderPorts,
  command: { planId: string },
): Promise<ClosedOrders> {
  const planId = requireUuid("planId", command.planId);
  await ports.offeredPlans.save(planEnded(await ports.offeredPlans.get(planId), { planId }));
  const orders = await ports.orders.ofPlan(planId);
  for (const order of orders) {
    if (order.closeForEndedPlan(ports)) await ports.orders.save(order);
  }
  return {
    cancelledOrderIds: orders.filter((o) => o.state.cancellationReason === "PLAN_ENDED").map((o) => o.id),
    returnRequestedOrderIds: orders.filter((o) => o.state.returnReason === "PLAN_ENDED").map((o) => o.id),
  };
}

/** The scheduler's round: requests the return of delivered orders whose trial is over. Returns how many. */
export async function requestDueReturns(ports: OrderPorts, batch: { limit: number }): Promise<number> {
  let requested = 0;
  for (const order of await ports.orders.dueForReturn(ports.clock.now(), batch.limit)) {
    if (order.returnIfTrialEnded(ports)) {
      await ports.orders.save(order);
      requested += 1;
    }
  }
  return requested;
}

export async function getOrder(
  ports: { readonly orders: OrderReads },
  query: { orderId: string },
): Promise<OrderState> {
  return (await loadOrder(ports.orders, query.orderId)).state;
}

/** Policy: marketing started a plan, so order takes orders for it. */
export async function whenPlanStarted(
  ports: Pick<OrderPorts, "offeredPlans">,
  started: { planId: string; productId: string; trialDays: number },
): Promise<OfferedPlan> {
  const plan = planStarted(await ports.offeredPlans.get(started.planId), started);
  await ports.offeredPlans.save(plan);
  return plan;
}

/** Policy: marketing ended a plan, so order refuses new orders for it. */
export async function whenPlanEnded(
  ports: Pick<OrderPorts, "offeredPlans">,
  ended: { planId: string },
): Promise<OfferedPlan> {
  const plan = planEnded(await ports.offeredPlans.get(ended.planId), ended);
  await ports.offeredPlans.save(plan);
  return plan;
}

/** Policy: warehouse had no stock for the order, so it is rejected (the saga's compensation). */
export async function whenStockShortage(
  ports: OrderPorts,
  shortage: { orderId: string; requested: number; available: number },
): Promise<OrderState> {
  return changeOrder(ports, shortage.orderId, (order) =>
    order.reject(`${shortage.requested} requested, ${shortage.available} available`, ports),
  );
}

/** Policy: delivery started the order's delivery. */
export function whenDeliveryStarted(ports: OrderPorts, started: { orderId: string }): Promise<OrderState> {
  return changeOrder(ports, started.orderId, (order) => order.deliveryStarted());
}

/** Policy: the courier delivered the order. */
export function whenDeliveryCompleted(
  ports: OrderPorts,
  completed: { orderId: string },
): Promise<OrderState> {
  return changeOrder(ports, completed.orderId, (order) => order.deliveryCompleted(ports));
}

/** Policy: the courier picked the returned product up. */
export function whenPickupCompleted(ports: OrderPorts, completed: { orderId: string }): Promise<OrderState> {
  return changeOrder(ports, completed.orderId, (order) => order.pickupCompleted());
}

async function changeOrder(
  ports: OrderPorts,
  orderId: string,
  change: (order: Order) => void,
): Promise<OrderState> {
  const order = await loadOrder(ports.orders, orderId);
  change(order);
  await ports.orders.save(order);
  return order.state;
}

async function loadOrder(orders: OrderReads, orderId: string): Promise<Order> {
  const order = await orders.get(requireUuid("orderId", orderId));
  if (!order) throw new NotFound("Order", orderId);
  return order;
}
