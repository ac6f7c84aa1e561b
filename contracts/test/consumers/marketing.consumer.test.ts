import { createConnectTransport } from "@connectrpc/connect-node";
import { bearerInterceptor } from "@hexa/adapters/auth/tokens";
import { createResilientClient } from "@hexa/adapters/resilience/client";
import { createCallPolicy } from "@hexa/adapters/resilience/policy";
import { marketingModule, ORDER_CALL } from "@hexa/adapters/trial/marketing/module";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { testToken } from "@hexa/testing";
import { MatchersV3, type PactV4 } from "@pact-foundation/pact";
import { pino } from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { consumerPact } from "../../src/consumer.ts";
import { anyUuid } from "../../src/messages.ts";

/**
 * Marketing -> order, synchronous: when a plan ends, marketing asks order to close the plan's
 * orders (CancelOrdersForPlan, Connect's JSON mode) and records how many were cancelled and how
 * many asked back. The call goes through the client marketing builds (the generated client under
 * its call policy, idempotency key included); only the transport speaks JSON over HTTP/1.1, which
 * the mock server understands, instead of marketing's binary over HTTP/2. Both carry the same
 * messages; buf breaking guards the binary and JSON wire forms of the proto.
 */
const PATH = `/${OrderService.typeName}/${OrderService.method.cancelOrdersForPlan.name}`;
const PLAN = "01970000-0000-7000-8000-0000000000a1";
const PLACED_ORDER = "01970000-0000-7000-8000-0000000000b1";
const DELIVERED_ORDER = "01970000-0000-7000-8000-0000000000b2";

/** Marketing's client of order, as its module builds it, pointed at `baseUrl`. */
function marketingsOrderClient(baseUrl: string) {
  return createResilientClient(
    OrderService,
    createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      useBinaryFormat: false,
      // Marketing's own identity, as runtime.callCredentials attaches it.
      interceptors: [
        bearerInterceptor({ token: () => testToken({ subject: "service:marketing", roles: ["service"] }) }),
      ],
    }),
    createCallPolicy({ name: orderModule.name, logger: pino({ level: "silent" }), ...ORDER_CALL }),
    { idempotent: ["cancelOrdersForPlan"] },
  );
}

function closeOrdersOf(pact: PactV4, state: string, description: string, response: Record<string, unknown>) {
  return pact
    .addInteraction()
    .given(state)
    .uponReceiving(description)
    .withRequest("POST", PATH, (request) =>
      request
        .headers({
          "Content-Type": "application/json",
          "Connect-Protocol-Version": "1",
          // Marketing calls as itself (role service); the verifier sends a token of its own.
          Authorization: MatchersV3.regex(
            "^Bearer [A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$",
            "Bearer a.b.c",
          ),
        })
        // The provider state names the plan it set up; the mock server answers for PLAN.
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Pact provider-state expression
        .jsonBody({ planId: MatchersV3.fromProviderState("${planId}", PLAN) }),
    )
    .willRespondWith(200, (reply) =>
      reply
        .headers({ "Content-Type": MatchersV3.regex("^application/json", "application/json") })
        .jsonBody(response),
    );
}

describe(`${marketingModule.name} calls ${orderModule.name}: CancelOrdersForPlan`, () => {
  let pact: PactV4;

  beforeAll(() => {
    pact = consumerPact(marketingModule.name, orderModule.name);
  });

  it("learns which orders were cancelled and which asked back", async () => {
    await closeOrdersOf(
      pact,
      "plan P has one placed and one delivered order",
      "a request to close the orders of an ended plan that has orders",
      {
        cancelledOrderIds: MatchersV3.eachLike(anyUuid(PLACED_ORDER)),
        returnRequestedOrderIds: MatchersV3.eachLike(anyUuid(DELIVERED_ORDER)),
      },
    ).executeTest(async (server) => {
      const closed = await marketingsOrderClient(server.url).cancelOrdersForPlan({ planId: PLAN });
      expect(closed.cancelledOrderIds).toEqual([PLACED_ORDER]);
      expect(closed.returnRequestedOrderIds).toEqual([DELIVERED_ORDER]);
    });
  });

  it("reads an empty answer (protobuf JSON omits empty lists) as nothing to close", async () => {
    await closeOrdersOf(
      pact,
      "plan P has no orders",
      "a request to close the orders of an ended plan that has none",
      {},
    ).executeTest(async (server) => {
      const closed = await marketingsOrderClient(server.url).cancelOrdersForPlan({ planId: PLAN });
      expect(closed.cancelledOrderIds).toEqual([]);
      expect(closed.returnRequestedOrderIds).toEqual([]);
    });
  });
});
