// Every service in one process on one port. Without DATABASE_URL it runs an embedded PostgreSQL;
// without NATS_URL the embedded in-process bus carries the events.
import { runApp } from "@hexa/adapters/runtime/app";
import { dashboardModule } from "@hexa/adapters/trial/dashboard/module";
import { deliveryModule } from "@hexa/adapters/trial/delivery/module";
import { marketingModule } from "@hexa/adapters/trial/marketing/module";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { warehouseModule } from "@hexa/adapters/trial/warehouse/module";

await runApp({
  name: "all-in-one",
  modules: [marketingModule, orderModule, warehouseModule, deliveryModule, dashboardModule],
  allInOne: true,
});
