export * from "./abandoned-booking.ts";
export * from "./booking.ts";
export * from "./events.ts";
export * from "./policies.ts";
export * from "./ports.ts";
export * from "./reservation.ts";
export * from "./reservation-id.ts";
export * from "./use-cases.ts";
