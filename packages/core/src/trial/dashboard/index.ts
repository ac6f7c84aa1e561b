export * from "./order-status.ts";
export * from "./ports.ts";
export * from "./use-cases.ts";
