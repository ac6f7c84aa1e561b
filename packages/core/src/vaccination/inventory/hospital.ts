import { AggregateRoot, type EventContext, requireIntegerInRange, requireText } from "../../shared/index.ts";
import type { HospitalEvent, HospitalRegistered } from "./events.ts";

export interface HospitalState {
  readonly hospitalId: string;
  readonly name: string;
  /** Vaccinations a day at most: the slots of each date. */
  readonly dailyCapacity: number;
  readonly registeredAt: Date;
}

export const MAX_NAME_LENGTH = 200;
export const MAX_DAILY_CAPACITY = 100_000;

/** A hospital dedicated to vaccinations, registered by the administrator with its daily maximum. */
export class Hospital extends AggregateRoot<HospitalEvent> {
  readonly #state: HospitalState;

  private constructor(state: HospitalState) {
    super();
    this.#state = state;
  }

  /** Name of 1 to 200 characters; daily capacity of 1 to 100000 vaccinations. Records HospitalRegistered. */
  static register(
    input: { hospitalId: string; name: string; dailyCapacity: number },
    context: EventContext,
  ): Hospital {
    const hospital = new Hospital({
      hospitalId: input.hospitalId,
      name: requireText("name", input.name, MAX_NAME_LENGTH),
      dailyCapacity: requireIntegerInRange("dailyCapacity", input.dailyCapacity, 1, MAX_DAILY_CAPACITY),
      registeredAt: context.clock.now(),
    });
    hospital.record<HospitalRegistered>(
      "vaccination.inventory.v1.HospitalRegistered",
      { ...hospital.#state },
      context,
    );
    return hospital;
  }

  static restore(state: HospitalState): Hospital {
    return new Hospital(state);
  }

  get id(): string {
    return this.#state.hospitalId;
  }

  get state(): HospitalState {
    return this.#state;
  }
}
