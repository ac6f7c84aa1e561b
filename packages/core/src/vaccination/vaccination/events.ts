import type { DomainEvent } from "../../shared/index.ts";
import type { VaccinationRecord } from "./person-vaccination.ts";

/**
 * A dose was given and recorded. Inventory counts it as given (and no longer booked when it came with
 * a reservation); reservation marks the reservation VACCINATED. The aggregate id is the person id.
 */
export type VaccinationRecorded = DomainEvent<
  "vaccination.vaccination.v1.VaccinationRecorded",
  VaccinationRecord
>;

export type VaccinationEvent = VaccinationRecorded;
