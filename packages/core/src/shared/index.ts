export * from "./access.ts";
export * from "./aggregate.ts";
export * from "./clock.ts";
export * from "./errors.ts";
export * from "./events.ts";
export * from "./ids.ts";
export * from "./validation.ts";
