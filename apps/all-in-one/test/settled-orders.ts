import type { Client } from "@connectrpc/connect";
import { type OrderService, OrderStatus } from "@hexa/proto/trial/order/v1/order_pb";
import { eventually } from "@hexa/testing";
import { expect } from "vitest";

/**
 * Waits until none of `orderIds` is PLACED any more (warehouse has answered each, delivery or
 * rejection followed), and returns their statuses in the order of `orderIds`.
 */
export function settledOrderStatuses(
  orders: Client<typeof OrderService>,
  orderIds: readonly string[],
): Promise<Array<OrderStatus | undefined>> {
  return eventually(
    async () => {
      const now = await Promise.all(
        orderIds.map(async (orderId) => (await orders.getOrder({ orderId })).order?.status),
      );
      expect(now).not.toContain(OrderStatus.PLACED);
      return now;
    },
    30_000,
    250,
  );
}
