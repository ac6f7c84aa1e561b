import { type EventContext, FixedClock, type IdGenerator } from "@hexa/core/shared";

/** Ids 00000000-0000-7000-8000-000000000001, ...002, ... in call order: exact and readable in tests. */
export class SequentialIds implements IdGenerator {
  #n = 0;
  next(): string {
    this.#n += 1;
    return `00000000-0000-7000-8000-${String(this.#n).padStart(12, "0")}`;
  }
}

export function testContext(start = "2026-03-01T09:00:00.000Z"): EventContext & { clock: FixedClock } {
  return { clock: new FixedClock(new Date(start)), ids: new SequentialIds() };
}

/** What a use case was refused with; fails the test when it was accepted. */
export async function refusal(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => {
      throw new Error("the call was accepted");
    },
    (caught: unknown) => caught,
  );
}
