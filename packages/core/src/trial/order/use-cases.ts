import { type EventContext, NotFound, requireUuid } from "../../shared/index.ts";
import { type OfferedPlan, planEnded, planStarted } from "./offered-plan.ts";
import { Order, type OrderState } from "./order.ts";
import type { OfferedPlans, Orders } from "./ports.ts";

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

export async function placeOrder(ports: OrderPorts, command: PlaceOrder): Promise<OrderState> {
  const planId = requireUuid("planId", command.planId);
  const order = Order.place(
    { ...command, orderId: ports.ids.next(), plan: await ports.offeredPlans.get(planId) },
    ports,
  );
  await ports.orders.save(order);
  return order.state;
}

export async function getOrder(
  ports: Pick<OrderPorts, "orders">,
  query: { orderId: string },
): Promise<OrderState> {
  const order = await ports.orders.get(requireUuid("orderId", query.orderId));
  if (!order) throw new NotFound("Order", query.orderId);
  return order.state;
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
