import {
  CANCELLATION_REASONS,
  OFFERED_PLAN_STATUSES,
  type OfferedPlan,
  ORDER_STATUSES,
  Order,
  type Order as OrderAggregate,
  type OrderState,
  type Orders,
  RETURN_REASONS,
} from "@hexa/core/trial/order";
import { defineEntity, type FilterQuery, type InferEntity, LockMode, p } from "@mikro-orm/core";
import { aggregateStore } from "../../kit/aggregate-store.ts";
import { STALE_READ_STATE } from "../../kit/remembered.ts";
import type { UnitOfWork } from "../../kit/unit-of-work.ts";
import { type NewestFirstCursor, olderThan } from "../../paging.ts";
import { type EntityManager, quotedList, type SchemaMigration } from "../../postgres/database.ts";
import { encodeOrderEvent } from "./events.ts";

export const OrderRecord = defineEntity({
  name: "OrderRecord",
  tableName: "trial_order",
  properties: {
    orderId: p.uuid().primary(),
    customerId: p.string(),
    planId: p.uuid(),
    productId: p.string(),
    quantity: p.integer(),
    address: p.string(),
    status: p.enum(ORDER_STATUSES),
    placedAt: p.datetime(),
    returnDueAt: p.datetime(),
    cancellationReason: p.enum(CANCELLATION_REASONS).nullable(),
    returnReason: p.enum(RETURN_REASONS).nullable(),
  },
});

export const OfferedPlanRecord = defineEntity({
  name: "OfferedPlanRecord",
  tableName: "offered_plan",
  properties: {
    planId: p.uuid().primary(),
    productId: p.string(),
    trialDays: p.integer(),
    status: p.enum(OFFERED_PLAN_STATUSES),
  },
});

/** Order's own schema. */
export const ORDER_SCHEMA = "trial_order";

export const orderMigrations: SchemaMigration[] = [
  {
    name: "0001_offered_plan_and_order",
    sql: [
      `create table offered_plan (
        plan_id uuid primary key,
        product_id varchar(64) not null,
        trial_days integer not null,
        status text not null check (status in (${quotedList(OFFERED_PLAN_STATUSES)}))
      )`,
      `create table trial_order (
        order_id uuid primary key,
        customer_id varchar(64) not null,
        plan_id uuid not null,
        product_id varchar(64) not null,
        quantity integer not null check (quantity between 1 and 10),
        address varchar(500) not null,
        status text not null check (status in (${quotedList(ORDER_STATUSES)})),
        placed_at timestamptz not null,
        return_due_at timestamptz not null
      )`,
      "create index trial_order_by_plan on trial_order (plan_id)",
      "create index trial_order_by_customer on trial_order (customer_id)",
    ],
  },
  {
    name: "0002_order_reasons_and_due_returns",
    sql: [
      "alter table trial_order add column cancellation_reason text null",
      "alter table trial_order add column return_reason text null",
      "create index trial_order_due_returns on trial_order (return_due_at) where status = 'DELIVERED'",
      "create index trial_order_newest on trial_order (placed_at desc, order_id desc)",
    ],
  },
  {
    // PlaceOrder may rely on a plan it remembers as active (module.ts): each new order checks, in
    // the statement that inserts it, that its plan is still active, under the share lock the read
    // would have taken, so a plan's end still waits for the orders being placed, and they for it.
    name: "0003_orders_only_for_active_plans",
    sql: [
      `create function require_active_plan() returns trigger language plpgsql as $$
      begin
        perform from ${ORDER_SCHEMA}.offered_plan where plan_id = new.plan_id and status = 'ACTIVE' for share;
        if not found then
          raise exception 'plan % is not active', new.plan_id using errcode = '${STALE_READ_STATE}';
        end if;
        return null;
      end $$`,
      `create trigger trial_order_for_active_plans after insert on trial_order
        for each row execute function require_active_plan()`,
    ],
  },
];

/** Filters and position of a ListOrders page; the cursor is the last row's (placed_at, order_id). */
export interface OrderListing {
  readonly customerId?: string | undefined;
  readonly planId?: string | undefined;
  readonly status?: OrderState["status"] | undefined;
  readonly limit: number;
  readonly after?: NewestFirstCursor | undefined;
}

type OrderRow = InferEntity<typeof OrderRecord>;

/** Orders. In a unit of work, `get` locks the row until commit (only PlaceOrder creates one). */
export const orderStore = aggregateStore({
  entity: OrderRecord,
  key: (orderId: string) => ({ orderId }),
  lock: "row",
  restore,
  record: (order: OrderAggregate) => {
    const { cancellationReason, returnReason, ...state } = order.state;
    return { ...state, cancellationReason: cancellationReason ?? null, returnReason: returnReason ?? null };
  },
  encode: encodeOrderEvent,
});

/** Order's orders in a unit of work: the store's write port, and the orders of a plan or due for return. */
export function orders(unit: UnitOfWork): Orders {
  return {
    ...orderStore.writer(unit),
    ofPlan: async (planId) => {
      const records = await unit.em.find(
        OrderRecord,
        { planId },
        { orderBy: { placedAt: "asc" }, lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      return records.map(restore);
    },
    dueForReturn: async (now, limit) => {
      const records = await unit.em.find(
        OrderRecord,
        { status: "DELIVERED", returnDueAt: { $lte: now } },
        { orderBy: { returnDueAt: "asc" }, limit, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE },
      );
      return records.map(restore);
    },
  };
}

/** A page of orders, newest first (a query for ListOrders; it changes nothing). */
export async function orderPage(em: EntityManager, listing: OrderListing): Promise<OrderState[]> {
  const where: FilterQuery<OrderRow> = {
    ...(listing.customerId ? { customerId: listing.customerId } : {}),
    ...(listing.planId ? { planId: listing.planId } : {}),
    ...(listing.status ? { status: listing.status } : {}),
  };
  const after = listing.after;
  const page = after ? { $and: [where, olderThan(after, "placedAt", "orderId")] } : where;
  const records = await em.find(OrderRecord, page, {
    orderBy: [{ placedAt: "desc" }, { orderId: "desc" }],
    limit: listing.limit,
  });
  return records.map((record) => restore(record).state);
}

function restore(record: OrderRow): OrderAggregate {
  return Order.restore({
    ...record,
    cancellationReason: record.cancellationReason ?? undefined,
    returnReason: record.returnReason ?? undefined,
  });
}

/**
 * Order's replica of offered plans. In a unit of work, `get` locks the plan id (even before a row
 * exists, for events that race) and the row FOR UPDATE; placing an order reads it `shared` (FOR
 * SHARE), or remembers it active and leaves the share lock to the new order's insert (migration
 * 0003), so orders of one plan are placed in parallel while a plan's end waits for them, and they
 * for it.
 */
export const offeredPlanStore = aggregateStore({
  entity: OfferedPlanRecord,
  key: (planId: string) => ({ planId }),
  lock: "key",
  lockNamespace: "offered_plan",
  restore: (row): OfferedPlan => ({ ...row }),
  record: (plan: OfferedPlan) => ({ ...plan }),
});
