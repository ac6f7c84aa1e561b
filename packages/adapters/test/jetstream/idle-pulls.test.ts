import { describeWithNats, natsUrl } from "@hexa/testing";
import { connect } from "@nats-io/transport-node";
import { afterAll, expect, it } from "vitest";
import { type Consumer, streamOf } from "../../src/messaging/bus.ts";
import { anEvent, BusFixture, waitFor } from "./support.ts";

const stockChanged = "trial.warehouse.v1.StockChanged";

describeWithNats("JetStream bus: an idle subscription's pull requests", () => {
  const fixture = new BusFixture();
  afterAll(() => fixture.cleanUp());

  it("stay open longer while they come back empty, up to idlePullExpiresMs, and a message still comes at once", async () => {
    const ns = fixture.namespace();
    const bus = await fixture.open(ns, { pullExpiresMs: 1_000, idlePullExpiresMs: 4_000 });
    const handledAt: number[] = [];
    const consumer: Consumer = {
      name: "dashboard-stock-changed",
      eventType: stockChanged,
      handle: async () => {
        handledAt.push(Date.now());
      },
    };
    // The pull requests the subscription sends, as another client sees them on their subject.
    const watcher = await connect({ servers: natsUrl() });
    const expiresMs: number[] = [];
    const requests = watcher.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${streamOf(stockChanged, ns).stream}.>`, {
      callback: (_error, message) => {
        expiresMs.push(Number((message.json() as { expires: number }).expires) / 1e6);
      },
    });
    try {
      await bus.subscribe(consumer, { maxDeliver: 3, backoffMs: [20] });
      // Empty requests of 1 s, 2 s, then 4 s (the bound) and 4 s again.
      await waitFor("four empty pull requests", () => expiresMs.length >= 4, 15_000);
      expect(expiresMs.slice(0, 4)).toEqual([1_000, 2_000, 4_000, 4_000]);

      const publishedAt = Date.now();
      await bus.publish(anEvent(stockChanged));
      await waitFor("the event handled", () => handledAt.length === 1);
      expect((handledAt[0] ?? 0) - publishedAt).toBeLessThan(1_000);
      // The request that brought it is followed by one of pullExpiresMs again.
      const brought = expiresMs.length;
      await waitFor("the next pull request", () => expiresMs.length > brought, 6_000);
      expect(expiresMs.at(-1)).toBe(1_000);
    } finally {
      requests.unsubscribe();
      await watcher.close();
    }
  }, 40_000);
});
