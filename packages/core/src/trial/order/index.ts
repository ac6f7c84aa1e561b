export * from "./events.ts";
export * from "./offered-plan.ts";
export * from "./order.ts";
export * from "./ports.ts";
export * from "./use-cases.ts";
