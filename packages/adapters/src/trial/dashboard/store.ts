import {
  ORDER_EVENT_TYPES,
  ORDER_STATES,
  type OrderEventType,
  type OrderFact,
  type OrderStatus,
  type OrderStatusFilter,
  type OrderStatusPosition,
  projectOrderStatus,
} from "@hexa/core/trial/dashboard";
import { defineEntity, p } from "@mikro-orm/core";
import { aggregateStore } from "../../kit/aggregate-store.ts";
import { type EntityManager, quotedList, type SchemaMigration } from "../../postgres/database.ts";
import { ORDER_CHANGES_CHANNEL } from "./changes.ts";

/** An order's view as stored: JSON, with times as RFC 3339 strings; keys of unknown details are left out. */
export interface OrderStatusDocument {
  readonly orderId: string;
  readonly customerId?: string;
  readonly planId?: string;
  readonly productId?: string;
  readonly quantity?: number;
  readonly address?: string;
  readonly state: OrderStatus["state"];
  readonly delivery: OrderStatus["delivery"];
  readonly pickup: OrderStatus["pickup"];
  readonly placedAt?: string;
  readonly returnDueAt?: string;
  readonly updatedAt: string;
  /** Every event seen (id, type, time, and the details it carried): what the view is derived from. */
  readonly history: ReadonlyArray<{
    readonly eventId: string;
    readonly eventType: string;
    readonly occurredAt: string;
    readonly details: {
      readonly customerId?: string;
      readonly planId?: string;
      readonly productId?: string;
      readonly quantity?: number;
      readonly address?: string;
      readonly placedAt?: string;
      readonly returnDueAt?: string;
    };
  }>;
}

/**
 * The dashboard's storage model differs from the other services' (polyglot persistence): not
 * normalized rows per aggregate, but one JSONB document per order holding the whole view and the
 * events it was derived from, as a document database would keep it. A few columns copied out of
 * the document are indexed for filtering and keyset paging.
 */
export const OrderStatusRecord = defineEntity({
  name: "OrderStatusRecord",
  tableName: "order_status",
  properties: {
    orderId: p.uuid().primary(),
    customerId: p.text().nullable(),
    planId: p.text().nullable(),
    state: p.enum(ORDER_STATES),
    updatedAt: p.datetime(),
    document: p.json<OrderStatusDocument>(),
  },
});

const paged = "updated_at desc, order_id desc";

export const dashboardMigrations: SchemaMigration[] = [
  {
    name: "0001_order_status",
    sql: [
      `create table order_status (
        order_id uuid primary key,
        customer_id text null,
        plan_id text null,
        state text not null check (state in (${quotedList(ORDER_STATES)})),
        updated_at timestamptz not null,
        document jsonb not null
      )`,
      `create index order_status_by_update on order_status (${paged})`,
      `create index order_status_by_customer on order_status (customer_id, ${paged})`,
      `create index order_status_by_plan on order_status (plan_id, ${paged})`,
      `create index order_status_by_state on order_status (state, ${paged})`,
    ],
  },
  {
    // Every write of a view announces it (payload [order id, "changed"]) when its transaction
    // commits, without a statement of its own.
    name: "0002_order_status_change_notifications",
    sql: [
      `create function notify_order_status_changed() returns trigger language plpgsql as $$
       begin
         perform pg_notify('${ORDER_CHANGES_CHANNEL}', json_build_array(new.order_id, 'changed')::text);
         return null;
       end $$`,
      `create trigger order_status_changed after insert or update on order_status
       for each row execute function notify_order_status_changed()`,
    ],
  },
];

/**
 * Order views. In a policy's unit of work, `get` locks the order's row until commit, so two consumers
 * updating one order serialize; of two creating it at once, the second fails on the primary key and
 * is handled again. Each save is announced to every replica's watchers at commit, by the table's
 * trigger.
 */
export const orderStatusStore = aggregateStore({
  entity: OrderStatusRecord,
  key: (orderId: string) => ({ orderId }),
  lock: "row-or-insert",
  restore: (row) => fromDocument(row.document),
  record: (status: OrderStatus) => ({
    orderId: status.orderId,
    customerId: status.customerId ?? null,
    planId: status.planId ?? null,
    state: status.state,
    updatedAt: status.updatedAt,
    document: toDocument(status),
  }),
});

/** Views matching `filter`, most recently updated first (ties by order id, descending), after `after`. */
export async function orderStatusPage(
  em: EntityManager,
  filter: OrderStatusFilter,
  page: { readonly limit: number; readonly after?: OrderStatusPosition | undefined },
): Promise<OrderStatus[]> {
  const { after } = page;
  const records = await em.find(
    OrderStatusRecord,
    {
      ...(filter.customerId !== undefined ? { customerId: filter.customerId } : {}),
      ...(filter.planId !== undefined ? { planId: filter.planId } : {}),
      ...(filter.state !== undefined ? { state: filter.state } : {}),
      ...(after
        ? {
            $or: [
              { updatedAt: { $lt: after.updatedAt } },
              { updatedAt: after.updatedAt, orderId: { $lt: after.orderId } },
            ],
          }
        : {}),
    },
    { orderBy: { updatedAt: "desc", orderId: "desc" }, limit: page.limit, disableIdentityMap: true },
  );
  return records.map((record) => fromDocument(record.document));
}

export function toDocument(status: OrderStatus): OrderStatusDocument {
  return JSON.parse(JSON.stringify(status)) as OrderStatusDocument;
}

/** The view of a stored document, derived again from the events it keeps. */
export function fromDocument(document: OrderStatusDocument): OrderStatus {
  const facts = document.history.map(
    (entry): OrderFact => ({
      eventId: entry.eventId,
      eventType: eventTypeOf(entry.eventType),
      occurredAt: new Date(entry.occurredAt),
      details: {
        ...entry.details,
        placedAt: dateOf(entry.details.placedAt),
        returnDueAt: dateOf(entry.details.returnDueAt),
      },
    }),
  );
  return projectOrderStatus(document.orderId, facts);
}

function eventTypeOf(type: string): OrderEventType {
  const known = ORDER_EVENT_TYPES.find((eventType) => eventType === type);
  if (!known) throw new Error(`stored order history holds an unknown event type ${type}`);
  return known;
}

function dateOf(value: string | undefined): Date | undefined {
  return value === undefined ? undefined : new Date(value);
}
