import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client, HandlerContext } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  type ClosingPorts,
  closePlanOrders,
  endTrialPlan,
  getTrialPlan,
  type MarketingPorts,
  ORDERS_CLOSING_STATES,
  type OrdersClosingOutcome,
  retryDueClosings,
  startTrialPlan,
  TRIAL_PLAN_STATUSES,
  type TrialPlanReads,
  type TrialPlanState,
} from "@hexa/core/trial/marketing";
import { PlanEndedSchema } from "@hexa/proto/trial/marketing/v1/events_pb";
import {
  type ListTrialPlansRequest,
  MarketingService,
  OrdersClosing_StateSchema,
  type TrialPlanSchema,
  TrialPlanStatusSchema,
} from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { accessOf } from "../../connect/auth.ts";
import { bindContext, type ContextPorts } from "../../kit/context.ts";
import { enumMapping } from "../../kit/enum-mapping.ts";
import { isNewestFirstCursor, nextPageToken, readPage } from "../../paging.ts";
import { createResilientClient } from "../../resilience/client.ts";
import { type CallPolicy, createCallPolicy } from "../../resilience/policy.ts";
import type { ServiceModule, ServiceRuntime } from "../../runtime/service-module.ts";
import {
  marketingMigrations,
  type PlanListing,
  planPage,
  TrialPlanRecord,
  trialPlanStore,
  trialPlans,
} from "./store.ts";

/**
 * The synchronous call to order when a plan ends: a 2 s deadline per attempt, two retries (the call
 * is idempotent), and a breaker that opens after 3 failures in a row and tries again after 5 s.
 */
export const ORDER_CALL = {
  timeoutMs: 2_000,
  retry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 1_000 },
  breaker: { consecutiveFailures: 3, halfOpenAfterMs: 5_000 },
};

/**
 * The retry of pending closings: how often it looks while it finds some (or a plan has just ended),
 * how long it waits at most while it finds none, how many a round, and how long a replica holds one.
 */
const CLOSINGS = { everyMs: 1_000, maxIdleMs: 5_000, batch: 20, leaseMs: 30_000 };

/** Marketing: trial plans, started and ended by marketers. Ending one closes its orders in order. */
export const marketingModule: ServiceModule = {
  name: "marketing",
  schema: "trial_marketing",
  entities: [TrialPlanRecord],
  migrations: marketingMigrations,
  calls: ["order"],
  access: [
    accessOf(MarketingService, {
      startTrialPlan: { roles: ["marketer"] },
      endTrialPlan: { roles: ["marketer"] },
      getTrialPlan: { roles: ["marketer", "customer"] },
      listTrialPlans: { roles: ["marketer", "customer"] },
    }),
  ],
  routes(router, runtime) {
    const { command, query, inUnitOfWork } = bindContext(runtime, ports(runtime));
    router.service(MarketingService, {
      startTrialPlan: command(startTrialPlan, planReply),
      // The plan ends at once; closing its orders follows, outside the plan's transaction.
      endTrialPlan: async (request, call) => {
        const ended = await inUnitOfWork((p) => endTrialPlan(p, request));
        return planReply(await closePlanOrders(closingPorts(runtime, call), ended));
      },
      getTrialPlan: query(getTrialPlan, planReply),
      listTrialPlans: query(
        async (read, request: ListTrialPlansRequest) => {
          const page = readPage(request, isNewestFirstCursor);
          const listing = { status: STATUS.filter("status", request.status), ...page };
          return { plans: await read.planPage(listing), limit: page.limit };
        },
        ({ plans, limit }) => ({
          plans: plans.map(toProto),
          nextPageToken: nextPageToken(plans, limit, (plan) => [plan.startedAt.toISOString(), plan.planId]),
        }),
      ),
    });
  },
  jobs: (runtime) => [
    {
      name: "marketing-orders-closing",
      everyMs: CLOSINGS.everyMs,
      maxIdleMs: CLOSINGS.maxIdleMs,
      // Ending a plan makes a closing to retry should order not answer.
      wakeOn: [PlanEndedSchema.typeName],
      run: () =>
        retryDueClosings(closingPorts(runtime), { limit: CLOSINGS.batch, leaseMs: CLOSINGS.leaseMs }),
    },
  ],
};

interface MarketingReads {
  readonly plans: TrialPlanReads;
  planPage(listing: PlanListing): Promise<TrialPlanState[]>;
}

function ports(runtime: ServiceRuntime): ContextPorts<MarketingPorts, MarketingReads> {
  return {
    write: (unit) => ({
      plans: trialPlans(unit, runtime.db),
    }),
    read: (session) => ({
      plans: trialPlanStore.reader(session),
      planPage: (listing) => planPage(session.em, listing),
    }),
  };
}

/**
 * Closing a plan's orders: order's side through the call policy, and units of work to record the
 * outcome in. With the RPC's context, the call to order gets its cancellation and what is left of
 * its deadline.
 */
function closingPorts(runtime: ServiceRuntime, call?: HandlerContext): ClosingPorts {
  const orders = planOrdersOf(runtime);
  return {
    planOrders: { close: (planId) => orders.close(planId, call) },
    unitOfWork: bindContext(runtime, ports(runtime)).inUnitOfWork,
  };
}

interface OrderClosingClient {
  close(planId: string, call?: HandlerContext): Promise<OrdersClosingOutcome>;
}

const planOrderClients = new WeakMap<ServiceRuntime, OrderClosingClient>();

/** One client, policy and breaker per running module, shared by the RPC and the retry job. */
function planOrdersOf(runtime: ServiceRuntime): OrderClosingClient {
  let client = planOrderClients.get(runtime);
  if (!client) {
    client = planOrders(runtime);
    planOrderClients.set(runtime, client);
  }
  return client;
}

/** Order's CancelOrdersForPlan through the call policy; a failure is the outcome, logged. */
function planOrders(runtime: ServiceRuntime): OrderClosingClient {
  let client: Client<typeof OrderService> | undefined;
  const policy: CallPolicy = createCallPolicy({ name: "order", logger: runtime.logger, ...ORDER_CALL });
  const orders = () => {
    client ??= createResilientClient(
      OrderService,
      createConnectTransport({
        baseUrl: runtime.serviceUrl("order"),
        httpVersion: "2",
        interceptors: [runtime.callCredentials],
      }),
      policy,
      { idempotent: ["cancelOrdersForPlan"] },
    );
    return client;
  };
  return {
    close: async (planId, call) => {
      const deadline = call ? { signal: call.signal, timeoutMs: call.timeoutMs() } : {};
      const outcome: OrdersClosingOutcome = await orders()
        .cancelOrdersForPlan({ planId }, deadline)
        .then(
          (closed) => ({
            closed: true as const,
            cancelledOrders: closed.cancelledOrderIds.length,
            returnsRequested: closed.returnRequestedOrderIds.length,
          }),
          (error: unknown) => ({
            closed: false as const,
            error: error instanceof Error ? error.message : String(error),
          }),
        );
      if (!outcome.closed)
        runtime.logger.warn({ planId, error: outcome.error }, "closing a plan's orders failed; will retry");
      return outcome;
    },
  };
}

const STATUS = enumMapping(TRIAL_PLAN_STATUSES, TrialPlanStatusSchema);
const CLOSING_STATE = enumMapping(ORDERS_CLOSING_STATES, OrdersClosing_StateSchema);

function planReply(plan: TrialPlanState) {
  return { plan: toProto(plan) };
}

function toProto(plan: TrialPlanState): MessageInitShape<typeof TrialPlanSchema> {
  const closing = plan.ordersClosing;
  return {
    planId: plan.planId,
    productId: plan.productId,
    name: plan.name,
    trialDays: plan.trialDays,
    status: STATUS.toProto(plan.status),
    startedAt: timestampFromDate(plan.startedAt),
    ...(plan.endedAt ? { endedAt: timestampFromDate(plan.endedAt) } : {}),
    ...(closing
      ? {
          ordersClosing: {
            state: CLOSING_STATE.toProto(closing.state),
            attempts: closing.attempts,
            cancelledOrders: closing.cancelledOrders,
            returnsRequested: closing.returnsRequested,
            lastError: closing.lastError ?? "",
          },
        }
      : {}),
  };
}
