import type { ServiceModule } from "./runtime/service-module.ts";
import { dashboardModule } from "./trial/dashboard/module.ts";
import { deliveryModule } from "./trial/delivery/module.ts";
import { marketingModule } from "./trial/marketing/module.ts";
import { orderModule } from "./trial/order/module.ts";
import { warehouseModule } from "./trial/warehouse/module.ts";
import { vaccinationDashboardModule } from "./vaccination/dashboard/module.ts";
import { inventoryModule } from "./vaccination/inventory/module.ts";
import { notificationModule } from "./vaccination/notification/module.ts";
import { reservationModule } from "./vaccination/reservation/module.ts";
import { vaccinationModule } from "./vaccination/vaccination/module.ts";

/** The product-trial suite's services. */
export const trialServices: readonly ServiceModule[] = [
  marketingModule,
  orderModule,
  warehouseModule,
  deliveryModule,
  dashboardModule,
];

/** The vaccination suite's services. */
export const vaccinationServices: readonly ServiceModule[] = [
  inventoryModule,
  reservationModule,
  vaccinationModule,
  notificationModule,
  vaccinationDashboardModule,
];

/** Every service, by the name the apps, the chart and the operator commands use. */
export const services: ReadonlyMap<string, ServiceModule> = new Map(
  [...trialServices, ...vaccinationServices].map((module) => [module.name, module]),
);
