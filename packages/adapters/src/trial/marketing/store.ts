import {
  ORDERS_CLOSING_STATES,
  TRIAL_PLAN_STATUSES,
  TrialPlan,
  type TrialPlan as TrialPlanAggregate,
  type TrialPlanState,
  type TrialPlans,
} from "@hexa/core/trial/marketing";
import { defineEntity, type FilterQuery, type InferEntity, p } from "@mikro-orm/core";
import { aggregateStore } from "../../kit/aggregate-store.ts";
import type { UnitOfWork } from "../../kit/unit-of-work.ts";
import { type NewestFirstCursor, olderThan } from "../../paging.ts";
import {
  type EntityManager,
  quotedList,
  type SchemaMigration,
  type ServiceDatabase,
} from "../../postgres/database.ts";
import { encodeMarketingEvent } from "./events.ts";

export const TrialPlanRecord = defineEntity({
  name: "TrialPlanRecord",
  tableName: "trial_plan",
  properties: {
    planId: p.uuid().primary(),
    productId: p.string(),
    name: p.string(),
    trialDays: p.integer(),
    status: p.enum(TRIAL_PLAN_STATUSES),
    startedAt: p.datetime(),
    endedAt: p.datetime().nullable(),
    closingState: p.enum(ORDERS_CLOSING_STATES).nullable(),
    closingAttempts: p.integer(),
    closingNextAttemptAt: p.datetime().nullable(),
    closingLastError: p.text().nullable(),
    closingCancelledOrders: p.integer(),
    closingReturnsRequested: p.integer(),
  },
});

type TrialPlanRow = InferEntity<typeof TrialPlanRecord>;

export const marketingMigrations: SchemaMigration[] = [
  {
    name: "0001_trial_plan",
    sql: [
      `create table trial_plan (
        plan_id uuid primary key,
        product_id varchar(64) not null,
        name varchar(200) not null,
        trial_days integer not null check (trial_days between 1 and 365),
        status text not null check (status in (${quotedList(TRIAL_PLAN_STATUSES)})),
        started_at timestamptz not null,
        ended_at timestamptz null
      )`,
    ],
  },
  {
    name: "0002_orders_closing",
    sql: [
      `alter table trial_plan add column closing_state text null check (closing_state in (${quotedList(ORDERS_CLOSING_STATES)}))`,
      "alter table trial_plan add column closing_attempts integer not null default 0",
      "alter table trial_plan add column closing_next_attempt_at timestamptz null",
      "alter table trial_plan add column closing_last_error text null",
      "alter table trial_plan add column closing_cancelled_orders integer not null default 0",
      "alter table trial_plan add column closing_returns_requested integer not null default 0",
      "create index trial_plan_closings_due on trial_plan (closing_next_attempt_at) where closing_state = 'PENDING'",
      "create index trial_plan_newest on trial_plan (started_at desc, plan_id desc)",
    ],
  },
];

/** Filters and position of a ListTrialPlans page; the cursor is the last row's (started_at, plan_id). */
export interface PlanListing {
  readonly status?: TrialPlanState["status"] | undefined;
  readonly limit: number;
  readonly after?: NewestFirstCursor | undefined;
}

/** Trial plans. In a unit of work, `get` locks the row until commit (only StartTrialPlan creates one). */
export const trialPlanStore = aggregateStore({
  entity: TrialPlanRecord,
  key: (planId: string) => ({ planId }),
  lock: "row",
  restore: (row) => TrialPlan.restore(toState(row)),
  record: (plan: TrialPlanAggregate) => {
    const { ordersClosing, endedAt, ...state } = plan.state;
    return {
      ...state,
      endedAt: endedAt ?? null,
      closingState: ordersClosing?.state ?? null,
      closingAttempts: ordersClosing?.attempts ?? 0,
      closingNextAttemptAt: ordersClosing?.nextAttemptAt ?? null,
      closingLastError: ordersClosing?.lastError ?? null,
      closingCancelledOrders: ordersClosing?.cancelledOrders ?? 0,
      closingReturnsRequested: ordersClosing?.returnsRequested ?? 0,
    };
  },
  encode: encodeMarketingEvent,
});

/** Marketing's plans in a unit of work: the store's write port and the claim of due closings. */
export function trialPlans(unit: UnitOfWork, db: ServiceDatabase): TrialPlans {
  return {
    ...trialPlanStore.writer(unit),
    claimDueClosings: (now, limit, leaseMs) => claimDueClosings(unit.em, db, now, limit, leaseMs),
  };
}

/**
 * Ids of up to `limit` plans whose orders closing is PENDING and due at `now`, each leased to the
 * caller for `leaseMs` in the same statement, so replicas retrying at once take different plans.
 */
async function claimDueClosings(
  em: EntityManager,
  db: ServiceDatabase,
  now: Date,
  limit: number,
  leaseMs: number,
): Promise<string[]> {
  const rows: Array<{ plan_id: string }> = await em.execute(
    `update ${db.table("trial_plan")} set closing_next_attempt_at = ?
      where plan_id in (
        select plan_id from ${db.table("trial_plan")}
         where closing_state = 'PENDING' and closing_next_attempt_at <= ?
         order by closing_next_attempt_at limit ? for update skip locked)
      returning plan_id`,
    [new Date(now.getTime() + leaseMs), now, limit],
  );
  return rows.map((row) => row.plan_id);
}

/** A page of plans, newest first (a query for ListTrialPlans; it changes nothing). */
export async function planPage(em: EntityManager, listing: PlanListing): Promise<TrialPlanState[]> {
  const where: FilterQuery<TrialPlanRow> = listing.status ? { status: listing.status } : {};
  const after = listing.after;
  const page = after ? { $and: [where, olderThan(after, "startedAt", "planId")] } : where;
  const records = await em.find(TrialPlanRecord, page, {
    orderBy: [{ startedAt: "desc" }, { planId: "desc" }],
    limit: listing.limit,
  });
  return records.map(toState);
}

function toState(record: TrialPlanRow): TrialPlanState {
  return {
    planId: record.planId,
    productId: record.productId,
    name: record.name,
    trialDays: record.trialDays,
    status: record.status,
    startedAt: record.startedAt,
    endedAt: record.endedAt ?? undefined,
    ordersClosing: record.closingState
      ? {
          state: record.closingState,
          attempts: record.closingAttempts,
          nextAttemptAt: record.closingNextAttemptAt ?? undefined,
          lastError: record.closingLastError ?? undefined,
          cancelledOrders: record.closingCancelledOrders,
          returnsRequested: record.closingReturnsRequested,
        }
      : undefined,
  };
}
