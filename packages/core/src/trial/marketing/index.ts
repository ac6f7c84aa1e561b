export * from "./events.ts";
export * from "./ports.ts";
export * from "./trial-plan.ts";
export * from "./use-cases.ts";
