import { TrialPlan, type TrialPlan as TrialPlanAggregate, type TrialPlans } from "@hexa/core/trial/marketing";
import { defineEntity, LockMode, p } from "@mikro-orm/core";
import type { EntityManager, SchemaMigration, ServiceDatabase } from "../../postgres/database.ts";
import { appendToOutbox } from "../../postgres/outbox.ts";
import { encodeMarketingEvent } from "./events.ts";

export const TrialPlanRecord = defineEntity({
  name: "TrialPlanRecord",
  tableName: "trial_plan",
  properties: {
    planId: p.uuid().primary(),
    productId: p.string(),
    name: p.string(),
    trialDays: p.integer(),
    status: p.enum(["ACTIVE", "ENDED"] as const),
    startedAt: p.datetime(),
    endedAt: p.datetime().nullable(),
  },
});

export const marketingMigrations: SchemaMigration[] = [
  {
    name: "0001_trial_plan",
    sql: [
      `create table trial_plan (
        plan_id uuid primary key,
        product_id varchar(64) not null,
        name varchar(200) not null,
        trial_days integer not null check (trial_days between 1 and 365),
        status text not null check (status in ('ACTIVE', 'ENDED')),
        started_at timestamptz not null,
        ended_at timestamptz null
      )`,
    ],
  },
];

/** Trial plans in marketing's schema. In a unit of work, `get` locks the row until commit. */
export class TrialPlanStore implements TrialPlans {
  readonly #em: EntityManager;
  readonly #db: ServiceDatabase;
  readonly #lock: boolean;

  constructor(em: EntityManager, db: ServiceDatabase, options: { lock: boolean }) {
    this.#em = em;
    this.#db = db;
    this.#lock = options.lock;
  }

  async get(planId: string): Promise<TrialPlanAggregate | undefined> {
    const record = await this.#em.findOne(
      TrialPlanRecord,
      { planId },
      this.#lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
    );
    return record ? TrialPlan.restore({ ...record, endedAt: record.endedAt ?? undefined }) : undefined;
  }

  async save(plan: TrialPlanAggregate): Promise<void> {
    await this.#em.upsert(TrialPlanRecord, { ...plan.state, endedAt: plan.state.endedAt ?? null });
    await appendToOutbox(this.#em, this.#db, plan.pullEvents().map(encodeMarketingEvent));
  }
}
