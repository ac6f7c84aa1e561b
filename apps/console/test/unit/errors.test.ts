import { Code, ConnectError } from "@connectrpc/connect";
import {
  FieldViolationSchema,
  PreconditionFailureSchema,
  RetryInfoSchema,
} from "@hexa/proto/hexa/common/v1/errors_pb";
import { describe, expect, it } from "vitest";
import { refusalOf } from "../../src/errors.ts";

describe("a refused call, as the screen shows it", () => {
  it("puts a field violation on its field, by its request name", () => {
    const error = new ConnectError("trialDays: must be a whole number", Code.InvalidArgument, undefined, [
      {
        desc: FieldViolationSchema,
        value: { field: "trial_days", description: "must be a whole number from 1 to 365" },
      },
    ]);
    expect(refusalOf(error)).toMatchObject({
      fields: { trialDays: "must be a whole number from 1 to 365" },
      message: "Please correct the marked fields.",
      code: Code.InvalidArgument,
    });
  });

  it("names the rule a call broke", () => {
    const error = new ConnectError("order is delivered", Code.FailedPrecondition, undefined, [
      {
        desc: PreconditionFailureSchema,
        value: { rule: "cancel-before-delivery", description: "the order is delivered" },
      },
    ]);
    expect(refusalOf(error)).toMatchObject({
      fields: {},
      rules: [{ rule: "cancel-before-delivery", description: "the order is delivered" }],
      message: "the order is delivered (rule: cancel-before-delivery)",
    });
  });

  it("asks to try again later when the service is busy or away, and to sign in again when the token ended", () => {
    expect(refusalOf(new ConnectError("server busy, retry later", Code.ResourceExhausted)).message).toMatch(
      /try again shortly/,
    );
    expect(refusalOf(new ConnectError("down", Code.Unavailable)).message).toMatch(/try again shortly/);
    expect(refusalOf(new ConnectError("expired", Code.Unauthenticated)).message).toMatch(/sign in again/);
    expect(
      refusalOf(new ConnectError("order 1 belongs to someone else", Code.PermissionDenied)).message,
    ).toBe("Not allowed: order 1 belongs to someone else");
  });

  it("reads any thrown value", () => {
    expect(refusalOf(new Error("network down"))).toMatchObject({
      code: Code.Unknown,
      message: "network down",
    });
  });
});

describe("a refusal that passes", () => {
  it("says how long to wait, and why", () => {
    const error = new ConnectError("not heard yet", Code.Unavailable, undefined, [
      {
        desc: RetryInfoSchema,
        value: {
          rule: "plan-must-be-known",
          description: "order has not heard of plan p1 yet",
          retryAfterMs: 1000,
        },
      },
    ]);
    expect(refusalOf(error)).toMatchObject({
      retryAfterMs: 1000,
      message: "order has not heard of plan p1 yet (rule: plan-must-be-known)",
    });
    expect(refusalOf(new ConnectError("down", Code.Unavailable)).retryAfterMs).toBeUndefined();
  });
});
