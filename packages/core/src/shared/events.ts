/**
 * A fact that happened to one aggregate. `type` is the full name of the event's proto message
 * (`<suite>.<context>.v1.<EventName>`), which is also its subject on the bus.
 */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly id: string;
  readonly type: Type;
  /** The correlation key: the id of the aggregate the event belongs to. */
  readonly aggregateId: string;
  readonly occurredAt: Date;
  readonly data: Data;
}
