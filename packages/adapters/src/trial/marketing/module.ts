import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  endTrialPlan,
  getTrialPlan,
  type MarketingPorts,
  startTrialPlan,
  type TrialPlanState,
} from "@hexa/core/trial/marketing";
import {
  MarketingService,
  type TrialPlanSchema,
  TrialPlanStatus,
} from "@hexa/proto/trial/marketing/v1/marketing_pb";
import type { EntityManager } from "../../postgres/database.ts";
import type { ServiceModule, ServiceRuntime } from "../../runtime/service-module.ts";
import { marketingMigrations, TrialPlanRecord, TrialPlanStore } from "./store.ts";

/** Marketing: trial plans, started and ended by marketers. */
export const marketingModule: ServiceModule = {
  name: "marketing",
  schema: "trial_marketing",
  entities: [TrialPlanRecord],
  migrations: marketingMigrations,
  routes(router, runtime) {
    const inUnitOfWork = <T>(work: (ports: MarketingPorts) => Promise<T>) =>
      runtime.unitOfWork((em) => work(ports(runtime, em, true)));
    router.service(MarketingService, {
      startTrialPlan: async (request) => ({
        plan: toProto(await inUnitOfWork((p) => startTrialPlan(p, request))),
      }),
      endTrialPlan: async (request) => ({
        plan: toProto(await inUnitOfWork((p) => endTrialPlan(p, request))),
      }),
      getTrialPlan: async (request) => ({
        plan: toProto(await getTrialPlan(ports(runtime, runtime.db.reader(), false), request)),
      }),
    });
  },
};

function ports(runtime: ServiceRuntime, em: EntityManager, lock: boolean): MarketingPorts {
  return { plans: new TrialPlanStore(em, runtime.db, { lock }), clock: runtime.clock, ids: runtime.ids };
}

const STATUS = { ACTIVE: TrialPlanStatus.ACTIVE, ENDED: TrialPlanStatus.ENDED } as const;

function toProto(plan: TrialPlanState): MessageInitShape<typeof TrialPlanSchema> {
  return {
    planId: plan.planId,
    productId: plan.productId,
    name: plan.name,
    trialDays: plan.trialDays,
    status: STATUS[plan.status],
    startedAt: timestampFromDate(plan.startedAt),
    ...(plan.endedAt ? { endedAt: timestampFromDate(plan.endedAt) } : {}),
  };
}
