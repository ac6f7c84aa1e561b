export * from "./order-saga.ts";
