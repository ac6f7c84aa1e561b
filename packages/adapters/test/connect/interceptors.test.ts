/**
 * The mapping of every domain error kind to the Connect error a caller receives.
 */
import { Code } from "@connectrpc/connect";
import {
  FailedPrecondition,
  InvalidArgument,
  NotFound,
  ResourceExhausted,
  Unavailable,
} from "@hexa/core/shared";
import {
  FieldViolationSchema,
  PreconditionFailureSchema,
  ResourceInfoSchema,
  RetryInfoSchema,
} from "@hexa/proto/hexa/common/v1/errors_pb";
import { describe, expect, it } from "vitest";
import { domainErrorToConnectError } from "../../src/connect/interceptors.ts";

describe("domainErrorToConnectError", () => {
  it("NotFound -> not_found with a ResourceInfo", () => {
    const error = domainErrorToConnectError(new NotFound("TrialPlan", "plan-7"));
    expect(error.code).toBe(Code.NotFound);
    expect(error.rawMessage).toBe("TrialPlan plan-7 was not found");
    expect(error.findDetails(ResourceInfoSchema)).toMatchObject([
      { resourceType: "TrialPlan", resourceId: "plan-7" },
    ]);
  });

  it("InvalidArgument -> invalid_argument with a FieldViolation", () => {
    const error = domainErrorToConnectError(
      new InvalidArgument("quantity", "must be a whole number from 1 to 10"),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe("quantity: must be a whole number from 1 to 10");
    expect(error.findDetails(FieldViolationSchema)).toMatchObject([
      { field: "quantity", description: "must be a whole number from 1 to 10" },
    ]);
  });

  it("FailedPrecondition -> failed_precondition with a PreconditionFailure", () => {
    const error = domainErrorToConnectError(
      new FailedPrecondition("plan-must-be-active", "the plan has ended"),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toBe("plan-must-be-active: the plan has ended");
    expect(error.findDetails(PreconditionFailureSchema)).toMatchObject([
      { rule: "plan-must-be-active", description: "the plan has ended" },
    ]);
  });

  it("Unavailable with a retry -> unavailable with a RetryInfo and a Retry-After in whole seconds", () => {
    const error = domainErrorToConnectError(
      new Unavailable("order has not heard of the plan yet", { rule: "plan-must-be-known", afterMs: 1_500 }),
    );
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe("plan-must-be-known: order has not heard of the plan yet");
    expect(error.metadata.get("retry-after")).toBe("2");
    expect(error.findDetails(RetryInfoSchema)).toMatchObject([
      { rule: "plan-must-be-known", description: "order has not heard of the plan yet", retryAfterMs: 1_500 },
    ]);
  });

  it("ResourceExhausted -> resource_exhausted and Unavailable -> unavailable, message kept", () => {
    const exhausted = domainErrorToConnectError(new ResourceExhausted("no doses left for 2030-01-02"));
    expect(exhausted.code).toBe(Code.ResourceExhausted);
    expect(exhausted.rawMessage).toBe("no doses left for 2030-01-02");
    const unavailable = domainErrorToConnectError(new Unavailable("the order service is not answering"));
    expect(unavailable.code).toBe(Code.Unavailable);
    expect(unavailable.rawMessage).toBe("the order service is not answering");
  });
});
