// What a refused call means to the person who made it: the field at fault (InvalidArgument with
// hexa.common.v1.FieldViolation details), the rule broken (FailedPrecondition with
// PreconditionFailure details), or a plain message.
import { Code, ConnectError } from "@connectrpc/connect";
import {
  FieldViolationSchema,
  PreconditionFailureSchema,
  RetryInfoSchema,
} from "@hexa/proto/hexa/common/v1/errors_pb";

export interface Refusal {
  /** What to show above the form when no field holds the problem. */
  readonly message: string;
  /** Field name (camelCase, as in the request) → what is wrong with it. */
  readonly fields: Readonly<Record<string, string>>;
  /** Rules the call broke. */
  readonly rules: readonly { readonly rule: string; readonly description: string }[];
  readonly code: Code;
  /** Set when the service says the same call will succeed later (RetryInfo): how long to wait. */
  readonly retryAfterMs?: number;
}

const camel = (name: string) => name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

const retryLater = new Set([Code.Unavailable, Code.ResourceExhausted, Code.DeadlineExceeded]);

export function refusalOf(error: unknown): Refusal {
  const connectError = ConnectError.from(error);
  const fields: Record<string, string> = {};
  for (const violation of connectError.findDetails(FieldViolationSchema)) {
    fields[camel(violation.field)] = violation.description;
  }
  const rules = connectError
    .findDetails(PreconditionFailureSchema)
    .map(({ rule, description }) => ({ rule, description }));
  const [retry] = connectError.findDetails(RetryInfoSchema);
  let message = connectError.rawMessage;
  if (retry) message = `${retry.description} (rule: ${retry.rule})`;
  else if (rules.length > 0)
    message = rules.map((rule) => `${rule.description} (rule: ${rule.rule})`).join("; ");
  else if (Object.keys(fields).length > 0) message = "Please correct the marked fields.";
  else if (connectError.code === Code.PermissionDenied) message = `Not allowed: ${connectError.rawMessage}`;
  else if (connectError.code === Code.Unauthenticated)
    message = "Your session has ended; please sign in again.";
  else if (retryLater.has(connectError.code))
    message = `The service is busy or unreachable; try again shortly (${connectError.rawMessage}).`;
  return {
    message,
    fields,
    rules,
    code: connectError.code,
    ...(retry ? { retryAfterMs: retry.retryAfterMs } : {}),
  };
}
