import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { dashboardModule } from "@hexa/adapters/trial/dashboard/module";
import { DashboardService } from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import { OrderPlacedSchema } from "@hexa/proto/trial/order/v1/events_pb";
import { connectJsonClient, envelope, startModules } from "@hexa/testing";
import { describe, expect, it } from "vitest";

describe("a watcher at shutdown", () => {
  it("ends at once with unavailable, so it neither holds the shutdown up nor is cut silently", async () => {
    const services = await startModules([dashboardModule]);
    const orderId = randomUUID();
    await services.publish(
      envelope(OrderPlacedSchema, orderId, {
        orderId,
        customerId: "c",
        planId: randomUUID(),
        productId: "p",
        quantity: 1,
        address: "a",
        placedAt: timestampFromDate(new Date()),
        returnDueAt: timestampFromDate(new Date()),
      }),
    );
    const dashboard = connectJsonClient(DashboardService, services.url);
    const views: unknown[] = [];
    const watching = (async () => {
      for await (const view of dashboard.watchOrder({ orderId })) views.push(view);
    })().then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    while (views.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));

    const started = performance.now();
    await services.stop(); // the services' grace period is 1 s; the watcher must not use it up
    expect(performance.now() - started).toBeLessThan(900);
    expect(await watching).toMatchObject({ code: Code.Unavailable });
  });
});
