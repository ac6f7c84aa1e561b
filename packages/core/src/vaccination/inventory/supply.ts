import {
  AggregateRoot,
  type EventContext,
  FailedPrecondition,
  requireIntegerInRange,
} from "../../shared/index.ts";
import type { AvailableDosesRegistered, SupplyEvent, VaccineSupplied } from "./events.ts";
import type { HospitalState } from "./hospital.ts";
import { MAX_REGISTERED_DOSES, stockId, type VaccineStock } from "./stock.ts";
import type { Vaccine } from "./vaccine.ts";

export interface SupplyState {
  readonly supplyId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  readonly vials: number;
  /** 0 until the vaccine manager registers them. */
  readonly availableDoses: number;
  readonly suppliedAt: Date;
  /** When the available doses were registered. */
  readonly dosesRegisteredAt?: Date | undefined;
}

/**
 * Vials of a vaccine sent from the central stock to a hospital; the vaccine manager then registers
 * how many doses they give, once.
 */
export class Supply extends AggregateRoot<SupplyEvent> {
  #state: SupplyState;

  private constructor(state: SupplyState) {
    super();
    this.#state = state;
  }

  /**
   * The administrator supplies the hospital: the vials leave the vaccine's central stock (1 to what
   * it holds, rule `vials-must-be-in-stock`) and arrive in the hospital's stock of the vaccine.
   * Records VaccineSupplied (the stock records StockChanged).
   */
  static deliver(
    input: { supplyId: string; hospital: HospitalState; vaccine: Vaccine; vials: number },
    stock: VaccineStock,
    context: EventContext,
  ): Supply {
    const { hospital, vaccine } = input;
    const { hospitalId, vaccineId } = stock.state;
    if (hospitalId !== hospital.hospitalId || vaccineId !== vaccine.id) {
      throw new Error(`a supply to ${hospital.hospitalId} of ${vaccine.id} cannot go to stock ${stock.id}`);
    }
    const vials = vaccine.takeVials(input.vials);
    stock.receiveVials(vials, context);
    const suppliedAt = context.clock.now();
    const supply = new Supply({
      supplyId: input.supplyId,
      hospitalId,
      vaccineId,
      vials,
      availableDoses: 0,
      suppliedAt,
    });
    supply.record<VaccineSupplied>(
      "vaccination.inventory.v1.VaccineSupplied",
      { supplyId: input.supplyId, hospitalId, vaccineId, vials, suppliedAt },
      context,
    );
    return supply;
  }

  static restore(state: SupplyState): Supply {
    return new Supply(state);
  }

  get id(): string {
    return this.#state.supplyId;
  }

  get state(): SupplyState {
    return this.#state;
  }

  /**
   * The vaccine manager registers how many doses the supply gives, 1 to 1000000, once per supply
   * (rule `doses-already-registered`). They become available in the hospital's stock.
   * Records AvailableDosesRegistered; the stock records StockChanged and, when doses are then
   * bookable, BookableDosesAvailable (cause NEW_DOSES).
   */
  registerAvailableDoses(doses: number, stock: VaccineStock, context: EventContext): void {
    const registered = requireIntegerInRange("doses", doses, 1, MAX_REGISTERED_DOSES);
    if (this.#state.availableDoses > 0) {
      throw new FailedPrecondition(
        "doses-already-registered",
        `supply ${this.id} already has ${this.#state.availableDoses} available doses registered`,
      );
    }
    const { supplyId, hospitalId, vaccineId } = this.#state;
    if (stock.id !== stockId(hospitalId, vaccineId)) {
      throw new Error(`supply ${supplyId} is not of stock ${stock.id}`);
    }
    const registeredAt = context.clock.now();
    this.#state = { ...this.#state, availableDoses: registered, dosesRegisteredAt: registeredAt };
    this.record<AvailableDosesRegistered>(
      "vaccination.inventory.v1.AvailableDosesRegistered",
      { supplyId, hospitalId, vaccineId, doses: registered, registeredAt },
      context,
    );
    stock.addAvailableDoses(registered, context);
  }
}
