export * from "./appointment.ts";
export * from "./notification.ts";
export * from "./ports.ts";
export * from "./reservation-change.ts";
export * from "./texts.ts";
export * from "./use-cases.ts";
