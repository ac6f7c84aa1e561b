import type { Consumer } from "@hexa/adapters/messaging/bus";
import type { ServiceRuntime } from "@hexa/adapters/runtime/service-module";
import { services } from "@hexa/adapters/services";
import { FixedClock, UuidV7Generator } from "@hexa/core/shared";
import * as delivery from "@hexa/core/trial/delivery";
import * as order from "@hexa/core/trial/order";
import { ORDER_SAGA } from "@hexa/core/trial/saga";
import * as warehouse from "@hexa/core/trial/warehouse";
import { describe, expect, it } from "vitest";

const useCases: Record<string, Record<string, unknown>> = { order, warehouse, delivery };

/** The event types each service's policies consume, as its module declares them. */
function consumedBy(service: string): string[] {
  const module = services.get(service);
  const clock = new FixedClock(new Date());
  const recording = {
    clock,
    ids: new UuidV7Generator(clock),
    onEvent: (name: string, eventType: string): Consumer => ({ name, eventType, handle: async () => {} }),
  } as unknown as ServiceRuntime;
  return (module?.policies?.(recording) ?? []).map((consumer) => consumer.eventType);
}

describe("the order saga's step list", () => {
  it("names, for every step, a use case its context's core exports", () => {
    const missing = ORDER_SAGA.filter((step) => typeof useCases[step.context]?.[step.runs] !== "function");
    expect(missing).toEqual([]);
  });

  it("has each step started by an event consumed by a policy of the step's service", () => {
    const unwired = ORDER_SAGA.filter(
      (step) => !step.on.startsWith("rpc:") && !consumedBy(step.context).includes(step.on),
    );
    expect(unwired).toEqual([]);
  });

  it("leaves out no policy of the saga's services that reacts to a saga event", () => {
    const sagaEvents = new Set(ORDER_SAGA.flatMap((step) => step.emits));
    const listed = new Set(ORDER_SAGA.map((step) => `${step.context} ${step.on}`));
    const unlisted = ["order", "warehouse", "delivery"].flatMap((service) =>
      consumedBy(service)
        .filter((eventType) => sagaEvents.has(eventType) && !listed.has(`${service} ${eventType}`))
        .map((eventType) => `${service} ${eventType}`),
    );
    expect(unlisted).toEqual([]);
  });

  it("starts every event-started step with an event some earlier-listed step publishes", () => {
    const orphans = ORDER_SAGA.filter(
      (step, index) =>
        !step.on.startsWith("rpc:") &&
        !ORDER_SAGA.slice(0, index).some((earlier) => earlier.emits.includes(step.on)),
    );
    expect(orphans).toEqual([]);
  });

  it("names a compensation's step", () => {
    const names = new Set(ORDER_SAGA.map((step) => step.step));
    expect(ORDER_SAGA.filter((step) => step.compensates && !names.has(step.compensates))).toEqual([]);
  });
});
