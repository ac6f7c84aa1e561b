export * from "./events.ts";
export * from "./ports.ts";
export * from "./reservation.ts";
export * from "./stock.ts";
export * from "./use-cases.ts";
