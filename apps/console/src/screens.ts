// Which screens each role sees. The services decide what a call may do; this only spares people
// screens whose every call their roles would be refused.
import { type ComponentType, lazy } from "react";

/** What every screen is given: who is signed in, and the rest of its route (`#/story/<order id>`). */
export interface ScreenProps {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly argument: string;
}

export interface Screen {
  readonly path: string;
  readonly title: string;
  readonly suite: "Product trials" | "Vaccination";
  readonly roles: readonly string[];
  readonly component: ComponentType<ScreenProps>;
}

const trial = (name: string) =>
  lazy(() =>
    import("./trial/screens.tsx").then((module) => ({ default: module[name as keyof typeof module] })),
  );
const vaccination = (name: string) =>
  lazy(() =>
    import("./vaccination/screens.tsx").then((module) => ({ default: module[name as keyof typeof module] })),
  );
// The charts (and their library) load with this screen only.
const Statistics = lazy(() =>
  import("./vaccination/statistics.tsx").then((module) => ({ default: module.Statistics })),
);

export const SCREENS: readonly Screen[] = [
  {
    path: "plans",
    title: "Trial plans",
    suite: "Product trials",
    roles: ["marketer"],
    component: trial("Plans"),
  },
  {
    path: "catalogue",
    title: "Catalogue",
    suite: "Product trials",
    roles: ["customer"],
    component: trial("Catalogue"),
  },
  {
    path: "my-orders",
    title: "My orders",
    suite: "Product trials",
    roles: ["customer"],
    component: trial("MyOrders"),
  },
  {
    path: "shipments",
    title: "Deliveries and pickups",
    suite: "Product trials",
    roles: ["courier"],
    component: trial("Shipments"),
  },
  {
    path: "stock",
    title: "Stock",
    suite: "Product trials",
    roles: ["warehouse", "marketer"],
    component: trial("Stock"),
  },
  {
    path: "orders",
    title: "Order dashboard",
    suite: "Product trials",
    roles: ["marketer"],
    component: trial("OrderDashboard"),
  },
  {
    path: "story",
    title: "An order's story",
    suite: "Product trials",
    roles: ["marketer", "customer"],
    component: trial("OrderStory"),
  },
  {
    path: "inventory",
    title: "Vaccines and hospitals",
    suite: "Vaccination",
    roles: ["vaccine-manager"],
    component: vaccination("Inventory"),
  },
  {
    path: "day",
    title: "Reservations by day",
    suite: "Vaccination",
    roles: ["reservation-manager"],
    component: vaccination("DayView"),
  },
  {
    path: "book",
    title: "Book a vaccination",
    suite: "Vaccination",
    roles: ["person"],
    component: vaccination("Booking"),
  },
  {
    path: "my-reservations",
    title: "My reservations",
    suite: "Vaccination",
    roles: ["person"],
    component: vaccination("MyReservations"),
  },
  {
    path: "statistics",
    title: "Vaccination dashboard",
    suite: "Vaccination",
    roles: ["vaccine-manager", "reservation-manager"],
    component: Statistics,
  },
];

/** The screens a token with `roles` opens; the administrator sees every one. */
export function screensFor(roles: readonly string[]): Screen[] {
  if (roles.includes("admin")) return [...SCREENS];
  return SCREENS.filter((screen) => screen.roles.some((role) => roles.includes(role)));
}
