import {
  DELIVERY_PRECEDENCE,
  ORDER_EVENT_TYPES,
  ORDER_STATES,
  type OrderEventType,
  type OrderFact,
  type OrderStatus,
  type OrderStatusFilter,
  type OrderStatusPosition,
  PICKUP_PRECEDENCE,
  projectOrderStatus,
  STATE_PRECEDENCE,
} from "@hexa/core/trial/dashboard";
import { defineEntity, p } from "@mikro-orm/core";
import { aggregateStore } from "../../kit/aggregate-store.ts";
import { EntityTable, execute } from "../../kit/statements.ts";
import { type EntityManager, quotedList, type SchemaMigration } from "../../postgres/database.ts";
import { announcement } from "../../postgres/notifications.ts";
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

/** The schema of the dashboard's tables. */
export const DASHBOARD_SCHEMA = "trial_dashboard";

/** The trigger function that runs `announce` with `previous`, the order's state before the change. */
function orderStatusChangedFunction(announce: string): string {
  return `create or replace function notify_order_status_changed() returns trigger language plpgsql as $$
       declare
         previous text := '';
       begin
         if tg_op = 'UPDATE' then
           previous := old.state;
         end if;
         ${announce}
         return null;
       end $$`;
}

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
  {
    // The announcement says the state before the change (empty for an order's first view), so that a
    // watcher of one state hears of an order leaving it.
    name: "0003_order_status_change_previous_state",
    sql: [
      orderStatusChangedFunction(
        `perform pg_notify('${ORDER_CHANGES_CHANNEL}', json_build_array(new.order_id, previous)::text);`,
      ),
    ],
  },
  {
    // Announced only while a process listens (postgres/notifications.ts's `announcement`).
    name: "0004_order_status_announced_while_listened",
    sql: [
      orderStatusChangedFunction(
        announcement(
          DASHBOARD_SCHEMA,
          ORDER_CHANGES_CHANNEL,
          "json_build_array(new.order_id, previous)::text",
        ),
      ),
    ],
  },
];

/** An order's view as its row: the document and the columns copied out of it. */
function recordOf(status: OrderStatus) {
  return {
    orderId: status.orderId,
    customerId: status.customerId ?? null,
    planId: status.planId ?? null,
    state: status.state,
    updatedAt: status.updatedAt,
    document: toDocument(status),
  };
}

/** Order views, as queries read them (see {@link addOrderFact} for how an event changes one). */
export const orderStatusStore = aggregateStore({
  entity: OrderStatusRecord,
  key: (orderId: string) => ({ orderId }),
  lock: "row-or-insert",
  restore: (row) => fromDocument(row.document),
  record: recordOf,
});

const views = new EntityTable(OrderStatusRecord);

/** The further of two steps `a` and `b` (SQL text) by the precedence in parameter `precedence`. */
function further(precedence: string, a: string, b: string): string {
  return `case when array_position(${precedence}::text[], ${b}) > array_position(${precedence}::text[], ${a}) then ${b} else ${a} end`;
}

/**
 * Takes an event into account in its order's view in one statement, without reading it first: the
 * view of the event alone (derived in core) is inserted, or merged into the stored one as core's
 * view merges. The history gains the event; the state, delivery and pickup become the further of the
 * two by core's precedences; the latest time wins; OrderPlaced's details win over the stored ones,
 * which win over any other event's. The conflict takes the row's lock, so events about one order
 * serialize, and two creating it at once need no retry. An event in the history already changes
 * nothing (the update's condition fails, so no row comes back and the trigger does not fire);
 * otherwise the table's trigger announces the change at commit. The view answered is derived again
 * from the stored history.
 */
export async function addOrderFact(
  em: EntityManager,
  orderId: string,
  fact: OrderFact,
): Promise<OrderStatus | undefined> {
  const row = recordOf(projectOrderStatus(orderId, [fact]));
  const [stored] = await execute<{ document: OrderStatusDocument | string }>(
    em,
    `insert into ${views.name(em)} as known (order_id, customer_id, plan_id, state, updated_at, document)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (order_id) do update set
       customer_id = case when $7 then coalesce(excluded.customer_id, known.customer_id)
                     else coalesce(known.customer_id, excluded.customer_id) end,
       plan_id = case when $7 then coalesce(excluded.plan_id, known.plan_id)
                 else coalesce(known.plan_id, excluded.plan_id) end,
       state = ${further("$8", "known.state", "excluded.state")},
       updated_at = greatest(known.updated_at, excluded.updated_at),
       document = (case when $7 then known.document || excluded.document else excluded.document || known.document end)
         || jsonb_build_object(
           'state', ${further("$8", "known.document->>'state'", "excluded.document->>'state'")},
           'delivery', ${further("$9", "known.document->>'delivery'", "excluded.document->>'delivery'")},
           'pickup', ${further("$10", "known.document->>'pickup'", "excluded.document->>'pickup'")},
           'updatedAt', greatest(known.document->>'updatedAt', excluded.document->>'updatedAt'),
           'history', (known.document->'history') || (excluded.document->'history'))
     where not (known.document->'history') @> jsonb_build_array(jsonb_build_object('eventId', $11::text))
     returning document`,
    [
      row.orderId,
      row.customerId,
      row.planId,
      row.state,
      row.updatedAt,
      JSON.stringify(row.document),
      fact.eventType === "trial.order.v1.OrderPlaced",
      STATE_PRECEDENCE,
      DELIVERY_PRECEDENCE,
      PICKUP_PRECEDENCE,
      fact.eventId,
    ],
  );
  if (!stored) return undefined;
  return fromDocument(typeof stored.document === "string" ? JSON.parse(stored.document) : stored.document);
}

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
