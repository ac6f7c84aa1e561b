import { describe, expect, it } from "vitest";
import {
  assertEventType,
  assertNamespace,
  deadLetterStreamOf,
  deadLetterSubjectOf,
  durableNameOf,
} from "../../src/jetstream/names.ts";
import { backoffFor, validatePolicy } from "../../src/jetstream/subscription.ts";

describe("JetStream bus: names and delivery policy", () => {
  it("uses a plain consumer name as the durable name", () => {
    expect(durableNameOf("notification-send-reminder")).toBe("notification-send-reminder");
    expect(durableNameOf("order_service-Cancel_2")).toBe("order_service-Cancel_2");
  });

  it("makes any other consumer name a valid durable name that cannot collide with a similar one", () => {
    const dotted = durableNameOf("order.cancel policy");
    expect(dotted).toMatch(/^order_cancel_policy_[0-9a-f]{8}$/);
    expect(durableNameOf("order.cancel policy")).toBe(dotted);
    expect(durableNameOf("order_cancel_policy")).not.toBe(dotted);
    expect(durableNameOf("a>b*c")).toMatch(/^a_b_c_[0-9a-f]{8}$/);
    const long = durableNameOf("x".repeat(300));
    expect(long.length).toBeLessThanOrEqual(100);
    expect(long).not.toBe(durableNameOf(`${"x".repeat(299)}y`));
    expect(() => durableNameOf("")).toThrow(/non-empty/);
  });

  it("names the dead-letter stream and subjects within the namespace", () => {
    expect(deadLetterStreamOf()).toEqual({ stream: "DEAD_LETTERS", subjects: "deadletter.>" });
    expect(deadLetterStreamOf("t1-a.b")).toEqual({
      stream: "T1_A_B_DEAD_LETTERS",
      subjects: "t1-a.b.deadletter.>",
    });
    expect(deadLetterSubjectOf("inventory-on-dose-reserved", "t1")).toBe(
      "t1.deadletter.inventory-on-dose-reserved",
    );
    expect(deadLetterSubjectOf("inventory-on-dose-reserved")).toBe("deadletter.inventory-on-dose-reserved");
  });

  it("accepts proto full names as event types and subject tokens as namespaces, nothing else", () => {
    expect(() => assertEventType("vaccination.reservation.v1.DoseReserved")).not.toThrow();
    for (const bad of [
      "",
      "Single",
      "trial.*.v1.X",
      "trial.>",
      "trial..v1",
      "trial.marketing.v1.Plan Started",
    ]) {
      expect(() => assertEventType(bad)).toThrow(/NATS subject/);
    }
    expect(() => assertNamespace("")).not.toThrow();
    expect(() => assertNamespace("t1a2b-c.tenant_7")).not.toThrow();
    for (const bad of [".t1", "t1.", "t 1", "t*", "t>"])
      expect(() => assertNamespace(bad)).toThrow(/namespace/);
  });

  it("waits the policy's delay for each attempt, repeating the last", () => {
    const policy = { maxDeliver: 5, backoffMs: [200, 1_000, 5_000] };
    expect([1, 2, 3, 4, 5].map((attempt) => backoffFor(policy, attempt))).toEqual([
      200, 1_000, 5_000, 5_000, 5_000,
    ]);
    expect(backoffFor({ maxDeliver: 2, backoffMs: [] }, 1)).toBe(0);
  });

  it("refuses a policy it cannot keep", () => {
    expect(() => validatePolicy({ maxDeliver: 0, backoffMs: [] })).toThrow(/maxDeliver/);
    expect(() => validatePolicy({ maxDeliver: 1.5, backoffMs: [] })).toThrow(/maxDeliver/);
    expect(() => validatePolicy({ maxDeliver: 3, backoffMs: [10, -1] })).toThrow(/backoffMs/);
    expect(() => validatePolicy({ maxDeliver: 3, backoffMs: [10, Number.NaN] })).toThrow(/backoffMs/);
    expect(() => validatePolicy({ maxDeliver: 1, backoffMs: [] })).not.toThrow();
  });
});
