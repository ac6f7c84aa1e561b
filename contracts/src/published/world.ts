import { type EventContext, systemClock, UuidV7Generator } from "@hexa/core/shared";

/** The clock and ids the aggregates stamp their events with when a provider produces one. */
export const world: EventContext = { clock: systemClock, ids: new UuidV7Generator(systemClock) };

/** The last event an aggregate recorded: the one a step of its life publishes. */
export function last<Event>(events: readonly Event[]): Event {
  const event = events.at(-1);
  if (event === undefined) throw new Error("the aggregate recorded no event");
  return event;
}
