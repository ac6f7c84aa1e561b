/** Vaccination's events as it publishes them: recorded by PersonVaccination, encoded by its outbox encoder. */
import { encodeVaccinationEvent } from "@hexa/adapters/vaccination/vaccination/events";
import { PersonVaccination, type VaccinationRecorded } from "@hexa/core/vaccination/vaccination";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import type { PublishedEvents } from "../messages.ts";
import { last, world } from "./world.ts";

/** A hospital gives a person the first of two doses, booked with a reservation. */
export function vaccinationRecorded(): VaccinationRecorded {
  const vaccineId = world.ids.next();
  const hospitalId = world.ids.next();
  const registeredAt = world.clock.now();
  const reservationId = world.ids.next();
  const person = PersonVaccination.start("person-7", vaccineId);
  person.recordDose(
    {
      recordId: world.ids.next(),
      hospitalId,
      reservationId,
      vaccine: { vaccineId, name: "Comirnaty", dosesRequired: 2, registeredAt },
      hospital: { hospitalId, name: "St Mary's", registeredAt },
      stock: undefined,
      recordedForReservation: undefined,
      bookedReservation: { reservationId, personId: "person-7" },
    },
    world,
  );
  return last(person.pullEvents());
}

export const vaccinationEvents: PublishedEvents = {
  [VaccinationRecordedSchema.typeName]: () => encodeVaccinationEvent(vaccinationRecorded()),
};
