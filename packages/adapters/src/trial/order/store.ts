import {
  type OfferedPlan,
  type OfferedPlans,
  Order,
  type Order as OrderAggregate,
  type Orders,
} from "@hexa/core/trial/order";
import { defineEntity, LockMode, p } from "@mikro-orm/core";
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
];

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
    return record ? Order.restore(record) : undefined;
  }

  async save(order: OrderAggregate): Promise<void> {
    await this.#em.upsert(OrderRecord, { ...order.state });
    await appendToOutbox(this.#em, this.#db, order.pullEvents().map(encodeOrderEvent));
  }
}

/** Order's replica of offered plans. In a unit of work, `get` locks the plan id, even before a row exists. */
export class OfferedPlanStore implements OfferedPlans {
  readonly #em: EntityManager;
  readonly #lock: boolean;

  constructor(em: EntityManager, options: { lock: boolean }) {
    this.#em = em;
    this.#lock = options.lock;
  }

  async get(planId: string): Promise<OfferedPlan | undefined> {
    if (this.#lock) await lockKey(this.#em, "offered_plan", planId);
    return (await this.#em.findOne(OfferedPlanRecord, { planId })) ?? undefined;
  }

  async save(plan: OfferedPlan): Promise<void> {
    await this.#em.upsert(OfferedPlanRecord, { ...plan });
  }
}
