import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { FieldViolationSchema, PreconditionFailureSchema } from "@hexa/proto/hexa/common/v1/errors_pb";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
import { adminToken, connectJsonClient, eventually, GrpcJsClient, query } from "@hexa/testing";
import { afterAll, describe, expect, it } from "vitest";

export interface SliceDeployment {
  readonly marketingUrl: string;
  readonly orderUrl: string;
  /** Postgres the services write to, for checking that refused input wrote nothing. */
  readonly databaseUrl: string;
}

const order = { customerId: "customer-7", quantity: 1, address: "221B Baker Street" };

/** The first slice through the public API: plans replicate to order through the bus; orders follow them. */
export function trialSliceScenario(deployment: () => SliceDeployment): void {
  describe("through Connect JSON", () => {
    it("orders an active plan, and refuses orders once the plan has ended", async () => {
      const { marketingUrl, orderUrl } = deployment();
      const marketing = connectJsonClient(MarketingService, marketingUrl);
      const orders = connectJsonClient(OrderService, orderUrl);
      const { plan } = await marketing.startTrialPlan({
        productId: "espresso-machine",
        name: "Espresso week",
        trialDays: 7,
      });
      expect(plan).toMatchObject({ productId: "espresso-machine", trialDays: 7 });
      const planId = plan?.planId ?? "";

      // PlanStarted travels through the bus into order's replica of active plans.
      const placed = await eventually(() => orders.placeOrder({ ...order, planId }));
      expect(placed.order).toMatchObject({
        ...order,
        planId,
        productId: "espresso-machine",
        status: OrderStatus.PLACED,
      });
      const dueInDays =
        (Number(placed.order?.returnDueAt?.seconds) - Number(placed.order?.placedAt?.seconds)) / 86_400;
      expect(dueInDays).toBe(7);
      const read = await orders.getOrder({ orderId: placed.order?.orderId ?? "" });
      expect(read.order).toEqual(placed.order);

      await marketing.endTrialPlan({ planId });
      const refusal = await eventually(async () => {
        const error = await orders.placeOrder({ ...order, planId }).then(
          () => undefined,
          (caught: unknown) => ConnectError.from(caught),
        );
        if (!error) throw new Error("still accepted");
        return error;
      });
      expect(refusal.code).toBe(Code.FailedPrecondition);
      expect(refusal.findDetails(PreconditionFailureSchema)).toEqual([
        expect.objectContaining({ rule: "plan-must-be-active" }),
      ]);
    });
  });

  describe("through a plain @grpc/grpc-js client", () => {
    const clients: GrpcJsClient[] = [];
    afterAll(() => {
      for (const client of clients) client.close();
    });

    it("orders an active plan, and refuses orders for plans not heard of (retryable) and ended plans", async () => {
      const { marketingUrl, orderUrl } = deployment();
      const marketing = new GrpcJsClient(marketingUrl);
      const orders = new GrpcJsClient(orderUrl);
      clients.push(marketing, orders);
      const started = await marketing.call(MarketingService.method.startTrialPlan, {
        productId: "kayak",
        name: "Kayak weekend",
        trialDays: 2,
      });
      if (!started.ok) throw new Error(`StartTrialPlan failed: ${started.details}`);
      const planId = started.response.plan?.planId ?? "";

      const placed = await eventually(async () => {
        const result = await orders.call(OrderService.method.placeOrder, { ...order, planId });
        if (!result.ok) throw new Error(result.details);
        return result.response;
      });
      expect(placed.order?.status).toBe(OrderStatus.PLACED);

      const unknown = await orders.call(OrderService.method.placeOrder, {
        ...order,
        planId: "0196a000-0000-7000-8000-00000000abcd",
      });
      // Not heard of (yet): retryable, naming the rule, with the wait in the metadata.
      expect(unknown).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
      if (unknown.ok) throw new Error("an unknown plan took an order");
      expect(unknown.details).toMatch(/^plan-must-be-known: order has not heard of plan /);
      expect(unknown.metadata.get("retry-after")).toEqual(["1"]);

      await marketing.call(MarketingService.method.endTrialPlan, { planId });
      await eventually(async () => {
        const result = await orders.call(OrderService.method.placeOrder, { ...order, planId });
        expect(result).toMatchObject({ ok: false, code: grpc.status.FAILED_PRECONDITION });
      });
    });
  });

  describe("bad input", () => {
    async function rowCounts(): Promise<{ plans: number; orders: number }> {
      const [row] = await query<{ plans: number; orders: number }>(
        deployment().databaseUrl,
        `select (select count(*)::int from trial_marketing.trial_plan) as plans,
                (select count(*)::int from trial_order.trial_order) as orders`,
      );
      return row ?? { plans: -1, orders: -1 };
    }

    async function refusal(call: () => Promise<unknown>): Promise<ConnectError> {
      const outcome = await call().then(
        () => undefined,
        (caught: unknown) => ConnectError.from(caught),
      );
      if (!outcome) throw new Error("the call was accepted");
      return outcome;
    }

    it("answers malformed JSON with invalid_argument", async () => {
      const response = await fetch(`${deployment().orderUrl}/trial.order.v1.OrderService/PlaceOrder`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${await adminToken()}` },
        body: '{"customerId": "c", "quantity": ',
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: "invalid_argument" });
    });

    it("answers a field of the wrong type with invalid_argument naming the field", async () => {
      const response = await fetch(
        `${deployment().marketingUrl}/trial.marketing.v1.MarketingService/StartTrialPlan`,
        {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${await adminToken()}` },
          body: JSON.stringify({ productId: "p", name: "n", trialDays: "seven" }),
        },
      );
      expect(response.status).toBe(400);
      const body = (await response.json()) as { code: string; message: string };
      expect(body.code).toBe("invalid_argument");
      expect(body.message).toMatch(/trial_days|trialDays/);
    });

    it("names the field of every missing or out-of-range value, and writes nothing", async () => {
      const before = await rowCounts();
      const marketing = connectJsonClient(MarketingService, deployment().marketingUrl);
      const orders = connectJsonClient(OrderService, deployment().orderUrl);
      const planId = "0196a000-0000-7000-8000-00000000abcd";
      const cases: Array<[() => Promise<unknown>, string]> = [
        [() => marketing.startTrialPlan({ name: "n", trialDays: 7 }), "productId"],
        [() => marketing.startTrialPlan({ productId: "p", trialDays: 7 }), "name"],
        [() => marketing.startTrialPlan({ productId: "p", name: "n" }), "trialDays"],
        [() => marketing.startTrialPlan({ productId: "p", name: "n", trialDays: 366 }), "trialDays"],
        [() => marketing.startTrialPlan({ productId: "p".repeat(65), name: "n", trialDays: 7 }), "productId"],
        [() => marketing.endTrialPlan({ planId: "not-a-uuid" }), "planId"],
        [() => orders.placeOrder({ ...order, planId: "" }), "planId"],
        [() => orders.placeOrder({ ...order, planId, customerId: "" }), "customerId"],
        [() => orders.placeOrder({ ...order, planId, quantity: 0 }), "quantity"],
        [() => orders.placeOrder({ ...order, planId, quantity: 11 }), "quantity"],
        [() => orders.placeOrder({ ...order, planId, address: "" }), "address"],
        [() => orders.getOrder({ orderId: "42" }), "orderId"],
      ];
      for (const [call, field] of cases) {
        const error = await refusal(call);
        expect(error.code, field).toBe(Code.InvalidArgument);
        expect(error.rawMessage, field).toContain(field);
        expect(error.findDetails(FieldViolationSchema), field).toEqual([expect.objectContaining({ field })]);
      }
      expect(await rowCounts()).toEqual(before);
    });

    it("answers unknown ids with not_found and writes nothing", async () => {
      const before = await rowCounts();
      const unknown = "0196a000-0000-7000-8000-00000000ffff";
      const marketing = connectJsonClient(MarketingService, deployment().marketingUrl);
      const orders = connectJsonClient(OrderService, deployment().orderUrl);
      for (const call of [
        () => marketing.getTrialPlan({ planId: unknown }),
        () => marketing.endTrialPlan({ planId: unknown }),
        () => orders.getOrder({ orderId: unknown }),
      ]) {
        expect((await refusal(call)).code).toBe(Code.NotFound);
      }
      expect(await rowCounts()).toEqual(before);
    });
  });
}
