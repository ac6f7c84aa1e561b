// `./hexa demo` drives the product-trial story against a running deployment (by default the
// all-in-one on http://127.0.0.1:8080) through the public API, and prints every status change
// the dashboard streams as it happens.
//
//   ./hexa demo [--url URL]     (default http://$HOST:$PORT, as ./hexa start)
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient } from "@connectrpc/connect";
import { DashboardService, OrderState } from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import { DeliveryService } from "@hexa/proto/trial/delivery/v1/delivery_pb";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import { actingAs, retriedWhileUnavailable, runDemo } from "./demo.ts";

const marketing = createClient(MarketingService, actingAs("marketer", "demo-marketer"));
/** A customer acts on their own orders only. */
const ordersOf = (customerId: string) => createClient(OrderService, actingAs("customer", customerId));
const warehouse = createClient(WarehouseService, actingAs("warehouse", "demo-warehouse"));
const delivery = createClient(DeliveryService, actingAs("courier", "demo-courier"));
const dashboard = createClient(DashboardService, actingAs("marketer", "demo-marketer"));
const started = Date.now();

function say(text: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(2).padStart(6);
  console.log(`${seconds}s  ${text}`);
}

/** Prints the dashboard's view of an order each time it changes, until `stop` is aborted. */
function watch(orderId: string, label: string, stop: AbortSignal): Promise<void> {
  return (async () => {
    let last = "";
    try {
      for await (const { order } of dashboard.watchOrder({ orderId }, { signal: stop })) {
        const state = OrderState[order?.state ?? OrderState.UNSPECIFIED];
        const line = `${state}  delivery ${order?.delivery}  pickup ${order?.pickup}`;
        if (line !== last) say(`  [dashboard] ${label}: ${line}`);
        last = line;
      }
    } catch (error) {
      if (!stop.aborted) say(`  [dashboard] ${label}: watch ended: ${ConnectError.from(error).message}`);
    }
  })();
}

/** Polls the dashboard until the order reaches `state` (events take a moment to travel). */
async function until(orderId: string, state: OrderState, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await dashboard.getOrderStatus({ orderId }).catch(() => undefined);
    if (view?.order?.state === state) return;
    if (Date.now() > deadline)
      throw new Error(`order ${orderId} did not reach ${OrderState[state]} in ${timeoutMs} ms`);
    await new Promise((resume) => setTimeout(resume, 100));
  }
}

async function placeOrder(planId: string, customerId: string, quantity: number): Promise<string> {
  // The plan reaches order through the bus; until then order answers unavailable, to retry.
  const { order } = await retriedWhileUnavailable(() =>
    ordersOf(customerId).placeOrder({ customerId, planId, quantity, address: "221B Baker Street" }),
  );
  return order?.orderId ?? "";
}

async function story(): Promise<void> {
  const product = `espresso-${Date.now().toString(36)}`;
  const stop = new AbortController();
  const watchers: Promise<void>[] = [];

  say(`warehouse restocks 2 units of ${product}`);
  await warehouse.restock({ productId: product, quantity: 2 });
  say("marketing starts a 7-day trial plan");
  const { plan } = await marketing.startTrialPlan({
    productId: product,
    name: "Espresso week",
    trialDays: 7,
  });
  const planId = plan?.planId ?? "";

  say("1. a customer orders, the courier delivers, the customer returns it early, the courier picks it up");
  const first = await placeOrder(planId, "alice", 1);
  watchers.push(watch(first, "alice", stop.signal));
  await until(first, OrderState.DELIVERING);
  say("  courier confirms the delivery");
  await delivery.completeDelivery({ orderId: first });
  await until(first, OrderState.DELIVERED);
  say("  alice asks to return it");
  await ordersOf("alice").requestReturn({ orderId: first });
  await until(first, OrderState.RETURN_REQUESTED);
  say("  courier confirms the pickup");
  await delivery.completePickup({ orderId: first });
  await until(first, OrderState.RETURNED);

  say("2. a customer cancels while the product is on its way: the delivery stops");
  const second = await placeOrder(planId, "bob", 1);
  watchers.push(watch(second, "bob", stop.signal));
  await until(second, OrderState.DELIVERING);
  await ordersOf("bob").cancelOrder({ orderId: second });
  await until(second, OrderState.CANCELLED);
  const refused = await delivery
    .completeDelivery({ orderId: second })
    .catch((e: unknown) => ConnectError.from(e));
  say(
    `  the courier cannot deliver it now: ${refused instanceof ConnectError ? refused.message : "delivered?!"}`,
  );

  say("3. a customer orders more than the warehouse has: the order is rejected (the saga's compensation)");
  const third = await placeOrder(planId, "carol", 5);
  watchers.push(watch(third, "carol", stop.signal));
  await until(third, OrderState.REJECTED);

  say("4. marketing ends the plan: its open orders are cancelled");
  const fourth = await placeOrder(planId, "dave", 1);
  watchers.push(watch(fourth, "dave", stop.signal));
  await until(fourth, OrderState.DELIVERING);
  const { plan: ended } = await marketing.endTrialPlan({ planId });
  const endedAt = ended?.endedAt ? timestampDate(ended.endedAt).toISOString() : "?";
  say(`  plan ended at ${endedAt}; orders closed: ${ended?.ordersClosing?.cancelledOrders ?? 0} cancelled`);
  await until(fourth, OrderState.CANCELLED);
  const late = await ordersOf("erin")
    .placeOrder({ customerId: "erin", planId, quantity: 1, address: "x" })
    .catch((e: unknown) => ConnectError.from(e));
  say(`  a new order for the ended plan: ${late instanceof ConnectError ? late.message : "accepted?!"}`);

  const { stock } = await warehouse.getStock({ productId: product });
  say(
    `warehouse stock of ${product}: on hand ${stock?.onHand}, reserved ${stock?.reserved}, available ${stock?.available}`,
  );
  await new Promise((resume) => setTimeout(resume, 300));
  stop.abort();
  await Promise.all(watchers);
  say("done");
}

await runDemo(story);
