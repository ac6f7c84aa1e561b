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

export class Unavailable extends DomainError {
  readonly kind = "Unavailable";
  constructor(message: string) {
    super(message);
    this.name = "Unavailable";
  }
}

/** The caller is known but may not do this, e.g. a customer touching another customer's order. */
export class PermissionDenied extends DomainError {
  readonly kind = "PermissionDenied";
  constructor(message: string) {
    super(message);
    this.name = "PermissionDenied";
  }
}
