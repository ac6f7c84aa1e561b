export * from "./events.ts";
export * from "./ports.ts";
export * from "./shipment.ts";
export * from "./use-cases.ts";
