// The product-trial actors: marketer, customer, courier, warehouse, and the order dashboard.
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { useQuery, useTransport } from "@connectrpc/connect-query";
import {
  DashboardService,
  OrderState,
  type OrderStatusView,
  OrderStatusViewSchema,
} from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import {
  DeliveryService,
  DeliveryStatus,
  PickupStatus,
  type Shipment,
} from "@hexa/proto/trial/delivery/v1/delivery_pb";
import {
  MarketingService,
  OrdersClosing_State,
  type TrialPlan,
  TrialPlanStatus,
} from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import { skipToken } from "@tanstack/react-query";
import { useState } from "react";
import { useAction } from "../action.ts";
import { refusalOf } from "../errors.ts";
import { useStream } from "../live.ts";
import type { ScreenProps } from "../screens.ts";
import {
  enumLabel,
  Field,
  formValues,
  RefusalMessage,
  Section,
  StreamBadge,
  shortId,
  Table,
  When,
} from "../ui.tsx";
import { isOpen, PAGE_SIZE, usePages } from "./orders.ts";

/** Lists with no stream of their own are read again this often. */
const REFRESH_MS = 2_000;

const stateLabel = (state: OrderState) => enumLabel(OrderState, state);

export function Plans() {
  // Ending a plan closes its orders in the background: the list is read again to show it.
  const plans = useQuery(
    MarketingService.method.listTrialPlans,
    { pageSize: 100 },
    { refetchInterval: REFRESH_MS },
  );
  const start = useAction(MarketingService.method.startTrialPlan);
  const end = useAction(MarketingService.method.endTrialPlan);
  return (
    <>
      <Section title="Start a trial plan">
        <form
          onSubmit={(event) => {
            event.preventDefault();
            const values = formValues(event.currentTarget);
            void start.run({
              productId: values.productId,
              name: values.name,
              trialDays: Number(values.trialDays),
            });
          }}
        >
          <Field label="Product" name="productId" refusal={start.refusal} />
          <Field label="Plan name" name="name" refusal={start.refusal} />
          <Field label="Trial days" name="trialDays" type="number" defaultValue={7} refusal={start.refusal} />
          <button type="submit" disabled={start.pending}>
            Start plan
          </button>
          <RefusalMessage refusal={start.refusal} />
          {start.result?.plan && <p role="status">Plan “{start.result.plan.name}” started.</p>}
        </form>
      </Section>
      <Section title="Plans">
        <RefusalMessage refusal={end.refusal} />
        <Table
          caption="Trial plans, newest first"
          head={["Plan", "Product", "Days", "Status", "Started", "Orders", "Closing", ""]}
          rows={(plans.data?.plans ?? []).map((plan) => [
            plan.name,
            plan.productId,
            plan.trialDays,
            enumLabel(TrialPlanStatus, plan.status),
            <When key="started" at={plan.startedAt} />,
            <PlanOrders key="orders" planId={plan.planId} />,
            closingOf(plan),
            plan.status === TrialPlanStatus.ACTIVE ? (
              <button key="end" type="button" onClick={() => void end.run({ planId: plan.planId })}>
                End “{plan.name}”
              </button>
            ) : (
              ""
            ),
          ])}
        />
      </Section>
    </>
  );
}

/** How ending a plan closed its orders. */
function closingOf(plan: TrialPlan): string {
  const closing = plan.ordersClosing;
  if (!closing || closing.state === OrdersClosing_State.UNSPECIFIED) return "—";
  if (closing.state === OrdersClosing_State.PENDING) {
    return `pending (attempt ${closing.attempts}${closing.lastError ? `: ${closing.lastError}` : ""})`;
  }
  return `${closing.cancelledOrders} cancelled, ${closing.returnsRequested} returns requested`;
}

function PlanOrders({ planId }: { planId: string }) {
  const orders = useQuery(DashboardService.method.listOrderStatuses, { planId, pageSize: PAGE_SIZE });
  const count = orders.data?.orders.length;
  if (count === undefined) return <>…</>;
  return <>{orders.data?.nextPageToken ? `${count}+` : count}</>;
}

export function Catalogue({ subject }: ScreenProps) {
  const plans = useQuery(MarketingService.method.listTrialPlans, {
    status: TrialPlanStatus.ACTIVE,
    pageSize: 100,
  });
  return (
    <Section title="Products you can try">
      {plans.data?.plans.length === 0 && <p className="empty">No trial is offered right now.</p>}
      <div className="cards">
        {(plans.data?.plans ?? []).map((plan) => (
          <OrderForm key={plan.planId} plan={plan} customerId={subject} />
        ))}
      </div>
    </Section>
  );
}

function OrderForm({ plan, customerId }: { plan: TrialPlan; customerId: string }) {
  const place = useAction(OrderService.method.placeOrder);
  const order = place.result?.order;
  return (
    <form
      className="card"
      aria-label={`Order ${plan.name}`}
      onSubmit={(event) => {
        event.preventDefault();
        const values = formValues(event.currentTarget);
        void place.run({
          customerId,
          planId: plan.planId,
          quantity: Number(values.quantity),
          address: values.address,
        });
      }}
    >
      <h3>{plan.name}</h3>
      <p>
        {plan.productId}, {plan.trialDays} days free
      </p>
      <Field label="Quantity" name="quantity" type="number" defaultValue={1} refusal={place.refusal} />
      <Field label="Delivery address" name="address" refusal={place.refusal} />
      <button type="submit" disabled={place.pending}>
        Try it
      </button>
      <RefusalMessage refusal={place.refusal} />
      {order && (
        <p role="status">
          Ordered. <a href={`#/my-orders/${order.orderId}`}>Follow order {shortId(order.orderId)}</a>
        </p>
      )}
    </form>
  );
}

export function MyOrders({ subject, argument }: ScreenProps) {
  const filter = { customerId: subject, planId: "", state: OrderState.UNSPECIFIED };
  const orders = useQuery(DashboardService.method.listOrderStatuses, { ...filter, pageSize: PAGE_SIZE });
  const changes = useOrderChanges(filter, () => void orders.refetch());
  const cancel = useAction(OrderService.method.cancelOrder);
  const requestReturn = useAction(OrderService.method.requestReturn);
  const list = orders.data?.orders ?? [];
  const followed = argument || list.find((order) => isOpen(order.state))?.orderId || "";
  return (
    <>
      {followed && <FollowedOrder orderId={followed} />}
      <Section title="All my orders" aside={<StreamBadge state={changes} />}>
        <RefusalMessage refusal={cancel.refusal ?? requestReturn.refusal} />
        <Table
          caption="My orders, newest first"
          empty="No orders yet: pick a product in the catalogue."
          head={["Order", "Product", "Status", "Placed", "Return due", "Actions"]}
          rows={list.map((order) => [
            <a key="id" href={`#/my-orders/${order.orderId}`}>
              {shortId(order.orderId)}
            </a>,
            `${order.quantity} × ${order.productId}`,
            stateLabel(order.state),
            <When key="placed" at={order.placedAt} />,
            <When key="due" at={order.returnDueAt} />,
            <span key="actions" className="actions">
              {(order.state === OrderState.PLACED || order.state === OrderState.DELIVERING) && (
                <button type="button" onClick={() => void cancel.run({ orderId: order.orderId })}>
                  Cancel order {shortId(order.orderId)}
                </button>
              )}
              {order.state === OrderState.DELIVERED && (
                <button type="button" onClick={() => void requestReturn.run({ orderId: order.orderId })}>
                  Return order {shortId(order.orderId)}
                </button>
              )}
              <a href={`#/story/${order.orderId}`}>Story</a>
            </span>,
          ])}
        />
      </Section>
    </>
  );
}

/** One order's status as it changes (WatchOrder), reopened by itself when the stream is lost. */
function useWatchedOrder(orderId: string): [OrderStatusView | undefined, ReturnType<typeof useStream>] {
  const transport = useTransport();
  const [order, setOrder] = useState<OrderStatusView>();
  const state = useStream(
    orderId
      ? (options) => {
          const client = createClient(DashboardService, transport);
          return (async function* () {
            for await (const message of client.watchOrder({ orderId }, options)) {
              if (message.order) yield message.order;
            }
          })();
        }
      : undefined,
    setOrder,
    orderId,
  );
  return [order?.orderId === orderId ? order : undefined, state];
}

/** The order being followed. */
function FollowedOrder({ orderId }: { orderId: string }) {
  const [order, state] = useWatchedOrder(orderId);
  return (
    <Section title={`Order ${shortId(orderId)}`} aside={<StreamBadge state={state} />}>
      {order ? (
        <p className="status-line">
          Status: <strong data-testid="followed-status">{stateLabel(order.state)}</strong>
          {order.delivery && <> · delivery {order.delivery.toLowerCase()}</>}
          {order.pickup && <> · pickup {order.pickup.toLowerCase()}</>}
        </p>
      ) : (
        <p>Waiting for the order's status…</p>
      )}
    </Section>
  );
}

export function Shipments() {
  const deliveries = useQuery(
    DeliveryService.method.listShipments,
    { deliveryStatus: DeliveryStatus.IN_PROGRESS, pageSize: 100 },
    { refetchInterval: REFRESH_MS },
  );
  const pickups = useQuery(
    DeliveryService.method.listShipments,
    { pickupStatus: PickupStatus.REQUESTED, pageSize: 100 },
    { refetchInterval: REFRESH_MS },
  );
  const deliver = useAction(DeliveryService.method.completeDelivery);
  const pickUp = useAction(DeliveryService.method.completePickup);
  const rows = (list: readonly Shipment[] | undefined, act: (orderId: string) => void, verb: string) =>
    (list ?? []).map((shipment) => [
      shortId(shipment.orderId),
      `${shipment.quantity} × ${shipment.productId}`,
      shipment.address,
      <button key="act" type="button" onClick={() => act(shipment.orderId)}>
        {verb} {shortId(shipment.orderId)}
      </button>,
    ]);
  return (
    <>
      <RefusalMessage refusal={deliver.refusal ?? pickUp.refusal} />
      <Section title="Deliveries to make">
        <Table
          caption="Deliveries in progress"
          empty="No delivery waiting."
          head={["Order", "Goods", "Address", ""]}
          rows={rows(deliveries.data?.shipments, (orderId) => void deliver.run({ orderId }), "Delivered")}
        />
      </Section>
      <Section title="Pickups to make">
        <Table
          caption="Pickups requested"
          empty="No pickup waiting."
          head={["Order", "Goods", "Address", ""]}
          rows={rows(pickups.data?.shipments, (orderId) => void pickUp.run({ orderId }), "Picked up")}
        />
      </Section>
    </>
  );
}

export function Stock({ roles }: ScreenProps) {
  const stock = useQuery(
    WarehouseService.method.listStock,
    { pageSize: 100 },
    { refetchInterval: REFRESH_MS },
  );
  const restock = useAction(WarehouseService.method.restock);
  const mayRestock = roles.includes("warehouse") || roles.includes("admin");
  return (
    <>
      {mayRestock && (
        <Section title="Restock">
          <form
            onSubmit={(event) => {
              event.preventDefault();
              const values = formValues(event.currentTarget);
              void restock.run({ productId: values.productId, quantity: Number(values.quantity) });
            }}
          >
            <Field label="Product" name="productId" refusal={restock.refusal} />
            <Field
              label="Quantity"
              name="quantity"
              type="number"
              defaultValue={10}
              refusal={restock.refusal}
            />
            <button type="submit" disabled={restock.pending}>
              Restock
            </button>
            <RefusalMessage refusal={restock.refusal} />
          </form>
        </Section>
      )}
      <Section title="Stock per product">
        <Table
          caption="Stock per product"
          head={["Product", "On hand", "Reserved", "Available", "Updated"]}
          rows={(stock.data?.stocks ?? []).map((row) => [
            row.productId,
            row.onHand,
            row.reserved,
            row.available,
            <When key="at" at={row.updatedAt} />,
          ])}
        />
      </Section>
    </>
  );
}

/**
 * The orders a filter selects, read again by `readAgain` whenever one of them changes
 * (WatchOrderStatuses, whose first message, once listening, asks for a read too): no polling.
 * Without a filter (a refused one), nothing is watched.
 */
function useOrderChanges(filter: OrderFilter | undefined, readAgain: () => void) {
  const transport = useTransport();
  return useStream(
    filter && ((options) => createClient(DashboardService, transport).watchOrderStatuses(filter, options)),
    readAgain,
    JSON.stringify(filter ?? null),
  );
}

interface OrderFilter {
  readonly customerId: string;
  readonly planId: string;
  readonly state: OrderState;
}

export function OrderDashboard() {
  const [filter, setFilter] = useState<OrderFilter>({
    state: OrderState.UNSPECIFIED,
    customerId: "",
    planId: "",
  });
  const pages = usePages(JSON.stringify(filter));
  const orders = useQuery(DashboardService.method.listOrderStatuses, {
    ...filter,
    pageSize: PAGE_SIZE,
    pageToken: pages.token,
  });
  const refusal = orders.error ? refusalOf(orders.error) : undefined;
  const changes = useOrderChanges(refusal ? undefined : filter, () => void orders.refetch());
  return (
    <>
      <Section title="Filter">
        <form
          className="inline"
          onSubmit={(event) => {
            event.preventDefault();
            const values = formValues(event.currentTarget);
            setFilter({
              state: Number(values.state) as OrderState,
              customerId: values.customerId ?? "",
              planId: values.planId ?? "",
            });
          }}
        >
          <Field label="Status" name="state" defaultValue={filter.state}>
            {Object.values(OrderState)
              .filter((value): value is OrderState => typeof value === "number")
              .map((value) => (
                <option key={value} value={value}>
                  {value === OrderState.UNSPECIFIED ? "any" : stateLabel(value)}
                </option>
              ))}
          </Field>
          <Field label="Customer" name="customerId" defaultValue={filter.customerId} refusal={refusal} />
          <Field label="Plan id" name="planId" defaultValue={filter.planId} refusal={refusal} />
          <button type="submit">Show</button>
          <RefusalMessage refusal={refusal} />
        </form>
      </Section>
      <Section
        title={`Orders, page ${pages.number}`}
        aside={refusal ? undefined : <StreamBadge state={changes} />}
      >
        <Table
          caption="Orders by latest change"
          empty="No order matches."
          head={["Order", "Customer", "Product", "Status", "Updated", ""]}
          rows={(orders.data?.orders ?? []).map((order) => [
            shortId(order.orderId),
            order.customerId,
            `${order.quantity} × ${order.productId}`,
            stateLabel(order.state),
            <When key="updated" at={order.updatedAt} />,
            <a key="story" href={`#/story/${order.orderId}`}>
              Story of {shortId(order.orderId)}
            </a>,
          ])}
        />
        <div className="pager">
          <button type="button" disabled={pages.number === 1} onClick={pages.previous}>
            Previous page
          </button>
          <button
            type="button"
            disabled={!orders.data?.nextPageToken}
            onClick={() => pages.next(orders.data?.nextPageToken ?? "")}
          >
            Next page
          </button>
        </div>
      </Section>
    </>
  );
}

export function OrderStory({ argument }: ScreenProps) {
  const [orderId, setOrderId] = useState(argument);
  const first = useQuery(DashboardService.method.getOrderStatus, orderId ? { orderId } : skipToken);
  const [watched, state] = useWatchedOrder(orderId);
  const order = watched ?? first.data?.order ?? create(OrderStatusViewSchema);
  return (
    <>
      <form
        className="inline"
        onSubmit={(event) => {
          event.preventDefault();
          setOrderId(formValues(event.currentTarget).orderId?.trim() ?? "");
        }}
      >
        <Field label="Order id" name="orderId" defaultValue={orderId} />
        <button type="submit">Show its story</button>
      </form>
      {orderId && (
        <Section title={`Story of order ${shortId(orderId)}`} aside={<StreamBadge state={state} />}>
          <p>
            {order.customerId} ordered {order.quantity} × {order.productId}; now{" "}
            <strong>{stateLabel(order.state)}</strong>.
          </p>
          <ol className="story">
            {order.history.map((entry, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the history only grows at its end
              <li key={index}>
                <When at={entry.occurredAt} /> — {entry.eventType.split(".").pop()}
              </li>
            ))}
          </ol>
        </Section>
      )}
    </>
  );
}
