/**
 * Typed domain errors. Adapters map each kind to a transport code:
 * NotFound -> NOT_FOUND, InvalidArgument -> INVALID_ARGUMENT (with the field),
 * FailedPrecondition -> FAILED_PRECONDITION (with the rule), ResourceExhausted -> RESOURCE_EXHAUSTED,
 * Unavailable -> UNAVAILABLE, PermissionDenied -> PERMISSION_DENIED.
 */
export abstract class DomainError extends Error {
  abstract readonly kind:
    | "NotFound"
    | "InvalidArgument"
    | "FailedPrecondition"
    | "ResourceExhausted"
    | "Unavailable"
    | "PermissionDenied";
}

export class NotFound extends DomainError {
  readonly kind = "NotFound";
  readonly resourceType: string;
  readonly resourceId: string;
  constructor(resourceType: string, resourceId: string) {
    super(`${resourceType} ${resourceId} was not found`);
    this.name = "NotFound";
    this.resourceType = resourceType;
    this.resourceId = resourceId;
  }
}

export class InvalidArgument extends DomainError {
  readonly kind = "InvalidArgument";
  /** The input field, named as the caller wrote it (lowerCamelCase). */
  readonly field: string;
  readonly description: string;
  constructor(field: string, description: string) {
    super(`${field}: ${description}`);
    this.name = "InvalidArgument";
    this.field = field;
    this.description = description;
  }
}

export class FailedPrecondition extends DomainError {
  readonly kind = "FailedPrecondition";
  /** Stable rule name, e.g. "plan-must-be-active". */
  readonly rule: string;
  readonly description: string;
  constructor(rule: string, description: string) {
    super(`${rule}: ${description}`);
    this.name = "FailedPrecondition";
    this.rule = rule;
    this.description = description;
  }
}

export class ResourceExhausted extends DomainError {
  readonly kind = "ResourceExhausted";
  constructor(message: string) {
    super(message);
    this.name = "ResourceExhausted";
  }
}

/**
 * Refused for now, not for good. With `retry`, a rule names what is not there yet and a retry
 * after `afterMs` is expected to succeed, e.g. a plan this service learns of from an event still on
 * its way.
 */
export class Unavailable extends DomainError {
  readonly kind = "Unavailable";
  /** What is wrong for now, without the rule the message starts with. */
  readonly description: string;
  readonly retry: { readonly rule: string; readonly afterMs: number } | undefined;
  constructor(description: string, retry?: { readonly rule: string; readonly afterMs: number }) {
    super(retry ? `${retry.rule}: ${description}` : description);
    this.name = "Unavailable";
    this.description = description;
    this.retry = retry;
  }
}

/**
 * How long a caller waits before retrying a call refused because an event it depends on has not
 * arrived yet. Events usually travel in tens of milliseconds; a second covers a busy moment.
 */
export const RETRY_UNTIL_HEARD_MS = 1_000;

/** The caller is known but may not do this, e.g. a customer touching another customer's order. */
export class PermissionDenied extends DomainError {
  readonly kind = "PermissionDenied";
  constructor(message: string) {
    super(message);
    this.name = "PermissionDenied";
  }
}
