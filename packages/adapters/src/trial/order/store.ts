import {
  type OfferedPlan,
  type OfferedPlans,
  Order,
  type Order as OrderAggregate,
  type OrderState,
  type Orders,
} from "@hexa/core/trial/order";
import {
  defineEntity,
  type EntityDTO,
  type FilterQuery,
  type InferEntity,
  LockMode,
  p,
} from "@mikro-orm/core";
import { type NewestFirstCursor, olderThan } from "../../paging.ts";
import type { EntityManager, SchemaMigration, ServiceDatabase } from "../../postgres/database.ts";
import { lockKey } from "../../postgres/locks.ts";
import { appendToOutbox } from "../../postgres/outbox.ts";
import { encodeOrderEvent } from "./events.ts";

const ORDER_STATUSES = [
  "PLACED",
  "DELIVERING",
  "DELIVERED",
  "RETURN_REQUESTED",
  "RETURNED",
  "CANCELLED",
  "REJECTED",
] as const;

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
    cancellationReason: p.enum(["CUSTOMER", "PLAN_ENDED"] as const).nullable(),
    returnReason: p
      .enum(["CUSTOMER", "TRIAL_ENDED", "PLAN_ENDED", "CANCELLED_AFTER_DELIVERY"] as const)
      .nullable(),
  },
});

export const OfferedPlanRecord = defineEntity({
  name: "OfferedPlanRecord",
  tableName: "offered_plan",
  properties: {
    planId: p.uuid().primary(),
    productId: p.string(),
    trialDays: p.integer(),
    status: p.enum(["ACTIVE", "ENDED"] as const),
  },
});

export const orderMigrations: SchemaMigration[] = [
  {
    name: "0001_offered_plan_and_order",
    sql: [
      `create table offered_plan (
        plan_id uuid primary key,
        product_id varchar(64) not null,
        trial_days integer not null,
        status text not null check (status in ('ACTIVE', 'ENDED'))
      )`,
      `create table trial_order (
        order_id uuid primary key,
        customer_id varchar(64) not null,
        plan_id uuid not null,
        product_id varchar(64) not null,
        quantity integer not null check (quantity between 1 and 10),
        address varchar(500) not null,
        status text not null check (status in (${ORDER_STATUSES.map((s) => `'${s}'`).join(", ")})),
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
];

/** Filters and position of a ListOrders page; the cursor is the last row's (placed_at, order_id). */
export interface OrderListing {
  readonly customerId?: string | undefined;
  readonly planId?: string | undefined;
  readonly status?: OrderState["status"] | undefined;
  readonly limit: number;
  readonly after?: NewestFirstCursor | undefined;
}

/** Orders in order's schema. In a unit of work, `get` locks the row until commit. */
export class OrderStore implements Orders {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: { lock: boolean }) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(orderId: string): Promise<OrderAggregate | undefined> {
    const record = await this.#em.findOne(
      OrderRecord,
      { orderId },
      this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
    );
    return record ? restore(record) : undefined;
  }

  async save(order: OrderAggregate): Promise<void> {
    const { cancellationReason, returnReason, ...state } = order.state;
    await this.#em.upsert(OrderRecord, {
      ...state,
      cancellationReason: cancellationReason ?? null,
      returnReason: returnReason ?? null,
    });
    appendToOutbox(this.#em, this.#db, order.pullEvents().map(encodeOrderEvent));
  }

  async ofPlan(planId: string): Promise<OrderAggregate[]> {
    const records = await this.#em.find(
      OrderRecord,
      { planId },
      { orderBy: { placedAt: "asc" }, ...(this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {}) },
    );
    return records.map(restore);
  }

  async dueForReturn(now: Date, limit: number): Promise<OrderAggregate[]> {
    const records = await this.#em.find(
      OrderRecord,
      { status: "DELIVERED", returnDueAt: { $lte: now } },
      { orderBy: { returnDueAt: "asc" }, limit, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE },
    );
    return records.map(restore);
  }

  /** A page of orders, newest first (a query for ListOrders; it changes nothing). */
  async list(listing: OrderListing): Promise<OrderState[]> {
    const where: FilterQuery<InferEntity<typeof OrderRecord>> = {
      ...(listing.customerId ? { customerId: listing.customerId } : {}),
      ...(listing.planId ? { planId: listing.planId } : {}),
      ...(listing.status ? { status: listing.status } : {}),
    };
    const after = listing.after;
    const page = after
      ? {
          $and: [where, olderThan(after, "placedAt", "orderId")],
        }
      : where;
    const records = await this.#em.find(OrderRecord, page, {
      orderBy: [{ placedAt: "desc" }, { orderId: "desc" }],
      limit: listing.limit,
    });
    return records.map((record) => restore(record).state);
  }
}

function restore(
  record: EntityDTO<InferEntity<typeof OrderRecord>> | InferEntity<typeof OrderRecord>,
): OrderAggregate {
  return Order.restore({
    ...record,
    cancellationReason: record.cancellationReason ?? undefined,
    returnReason: record.returnReason ?? undefined,
  });
}

/**
 * Order's replica of offered plans. How `get` locks, inside a unit of work:
 * - "share": the plan row FOR SHARE, so orders of one plan are placed in parallel while a plan's
 *   end (which takes the row FOR UPDATE) waits for them, and they for it;
 * - "update": the plan id (even before a row exists, for events that race) and the row FOR UPDATE;
 * - false: no lock (reads).
 */
const PLAN_LOCKS = { share: LockMode.PESSIMISTIC_READ, update: LockMode.PESSIMISTIC_WRITE } as const;

export class OfferedPlanStore implements OfferedPlans {
  readonly #em: EntityManager;
  readonly #lock: "share" | "update" | false;

  constructor(em: EntityManager, options: { lock: "share" | "update" | false }) {
    this.#em = em;
    this.#lock = options.lock;
  }

  async get(planId: string): Promise<OfferedPlan | undefined> {
    if (this.#lock === "update") await lockKey(this.#em, "offered_plan", planId);
    const options = this.#lock ? { lockMode: PLAN_LOCKS[this.#lock] } : {};
    return (await this.#em.findOne(OfferedPlanRecord, { planId }, options)) ?? undefined;
  }

  async save(plan: OfferedPlan): Promise<void> {
    await this.#em.upsert(OfferedPlanRecord, { ...plan });
  }
}
