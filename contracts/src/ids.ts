import type { IdGenerator } from "@hexa/core/shared";

/**
 * Ids handed out in a given order, then fresh ones. A pact's example names fixed ids (an order
 * id, say); a consumer test makes the order it sets up carry that id by saying so before placing it.
 */
export class ScriptedIds implements IdGenerator {
  readonly #queue: string[] = [];
  readonly #fresh: IdGenerator;

  constructor(fresh: IdGenerator) {
    this.#fresh = fresh;
  }

  /** The next ids to hand out, in order. */
  nextAre(...ids: string[]): void {
    this.#queue.push(...ids);
  }

  next(): string {
    return this.#queue.shift() ?? this.#fresh.next();
  }
}
