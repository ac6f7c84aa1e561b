import {
  AggregateRoot,
  type EventContext,
  FailedPrecondition,
  requireIntegerInRange,
  requireText,
} from "../../shared/index.ts";
import type { VaccineEvent, VaccineRegistered } from "./events.ts";
import { MAX_NAME_LENGTH } from "./hospital.ts";

export interface VaccineState {
  readonly vaccineId: string;
  readonly name: string;
  /** Vials in the central stock, not yet supplied to a hospital. */
  readonly vialsInStock: number;
  /** Doses a person needs to be fully vaccinated. */
  readonly dosesRequired: number;
  readonly registeredAt: Date;
}

export const MAX_VIALS = 10_000_000;
export const MAX_DOSES_REQUIRED = 5;

/** A vaccine and its central stock of vials, from which hospitals are supplied. */
export class Vaccine extends AggregateRoot<VaccineEvent> {
  #state: VaccineState;

  private constructor(state: VaccineState) {
    super();
    this.#state = state;
  }

  /**
   * Name of 1 to 200 characters, 0 to 10000000 vials, 1 to 5 doses required per person.
   * Records VaccineRegistered.
   */
  static register(
    input: { vaccineId: string; name: string; vials: number; dosesRequired: number },
    context: EventContext,
  ): Vaccine {
    const vaccine = new Vaccine({
      vaccineId: input.vaccineId,
      name: requireText("name", input.name, MAX_NAME_LENGTH),
      vialsInStock: requireIntegerInRange("vials", input.vials, 0, MAX_VIALS),
      dosesRequired: requireIntegerInRange("dosesRequired", input.dosesRequired, 1, MAX_DOSES_REQUIRED),
      registeredAt: context.clock.now(),
    });
    const { vaccineId, name, dosesRequired, registeredAt } = vaccine.#state;
    vaccine.record<VaccineRegistered>(
      "vaccination.inventory.v1.VaccineRegistered",
      { vaccineId, name, dosesRequired, registeredAt },
      context,
    );
    return vaccine;
  }

  static restore(state: VaccineState): Vaccine {
    return new Vaccine(state);
  }

  get id(): string {
    return this.#state.vaccineId;
  }

  get state(): VaccineState {
    return this.#state;
  }

  /**
   * Takes 1 or more vials out of the central stock for a supply, never more than it holds
   * (rule `vials-must-be-in-stock`). The supply records the event.
   */
  takeVials(vials: number): number {
    const taken = requireIntegerInRange("vials", vials, 1, MAX_VIALS);
    if (taken > this.#state.vialsInStock) {
      throw new FailedPrecondition(
        "vials-must-be-in-stock",
        `${taken} vials of vaccine ${this.id} requested, ${this.#state.vialsInStock} in stock`,
      );
    }
    this.#state = { ...this.#state, vialsInStock: this.#state.vialsInStock - taken };
    return taken;
  }
}
