/**
 * Vaccination counts: doses given in all and per vaccine, and the people who completed a vaccine.
 * Built from VaccinationRecorded (each event is one dose given) and named from VaccineRegistered.
 */

/** A person's vaccination status after a dose, as vaccination records it. */
export const VACCINATION_STATUSES = ["IN_PROGRESS", "COMPLETED"] as const;
export type VaccinationStatus = (typeof VACCINATION_STATUSES)[number];

/** What one recorded dose adds to its vaccine's counts. */
export interface VaccinationTally {
  readonly vaccinations: number;
  readonly peopleCompleted: number;
}

/**
 * One dose given. The dose that completes a person's required doses (status COMPLETED) also counts
 * that person as completed: vaccination refuses doses beyond the requirement, so each person
 * completes a vaccine once.
 */
export function tallyOfDose(dose: { readonly status: VaccinationStatus }): VaccinationTally {
  return { vaccinations: 1, peopleCompleted: dose.status === "COMPLETED" ? 1 : 0 };
}

export interface VaccineCount {
  readonly vaccineId: string;
  /** Undefined until the vaccine's VaccineRegistered is seen (a dose may be counted before). */
  readonly vaccineName: string | undefined;
  readonly vaccinations: number;
  readonly peopleCompleted: number;
}

export interface VaccinationCount {
  /** Doses given, over every vaccine. */
  readonly vaccinations: number;
  readonly perVaccine: readonly VaccineCount[];
}

/** The counts of every vaccine, with the total: the sum of the vaccines' doses. */
export function vaccinationCount(perVaccine: readonly VaccineCount[]): VaccinationCount {
  return {
    vaccinations: perVaccine.reduce((total, vaccine) => total + vaccine.vaccinations, 0),
    perVaccine,
  };
}
