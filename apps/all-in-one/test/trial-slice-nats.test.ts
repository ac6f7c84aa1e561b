import {
  createTestDatabase,
  describeWithNats,
  freePort,
  natsUrl,
  type RunningApp,
  startApp,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { afterAll, beforeAll } from "vitest";
import { type SliceDeployment, trialSliceScenario } from "./trial-slice.scenario.ts";

describeWithNats("marketing and order as separate processes over NATS JetStream and PostgreSQL", () => {
  let database: TestDatabase;
  let marketing: RunningApp;
  let order: RunningApp;
  let deployment: SliceDeployment;

  beforeAll(async () => {
    database = await createTestDatabase();
    const shared = { DATABASE_URL: database.url, NATS_URL: natsUrl(), BUS_NAMESPACE: uniqueNamespace() };
    order = await startApp("order", { ...shared, PORT: String(await freePort()) });
    marketing = await startApp("marketing", {
      ...shared,
      PORT: String(await freePort()),
      ORDER_URL: order.url,
    });
    deployment = { marketingUrl: marketing.url, orderUrl: order.url, databaseUrl: database.url };
  });

  afterAll(async () => {
    await Promise.all([marketing?.stop(), order?.stop()]);
    await database?.drop();
  });

  trialSliceScenario(() => deployment);
});
