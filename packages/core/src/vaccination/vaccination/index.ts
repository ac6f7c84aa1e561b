export * from "./booked-reservations.ts";
export * from "./events.ts";
export * from "./inventory-replicas.ts";
export * from "./person-vaccination.ts";
export * from "./ports.ts";
export * from "./use-cases.ts";
