import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  getPersonStatus,
  recordVaccination,
  type VaccinationPorts,
  whenHospitalRegistered,
  whenReservationRegistered,
  whenStockChanged,
  whenVaccineRegistered,
} from "@hexa/core/vaccination/vaccination";
import {
  HospitalRegisteredSchema,
  StockChangedSchema,
  VaccineRegisteredSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import { ReservationRegisteredSchema } from "@hexa/proto/vaccination/reservation/v1/events_pb";
import { VaccinationService } from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import { accessOf } from "../../connect/auth.ts";
import type { EventEnvelope } from "../../messaging/bus.ts";
import type { EntityManager } from "../../postgres/database.ts";
import { eventPolicy, type ServiceModule, type ServiceRuntime } from "../../runtime/service-module.ts";
import { recordToProto, STATUS } from "./events.ts";
import {
  BookedReservationRow,
  BookedReservationStore,
  HospitalStockRow,
  HospitalStockStore,
  PersonVaccinationStore,
  RegisteredHospitalRow,
  RegisteredHospitalStore,
  RegisteredVaccineRow,
  RegisteredVaccineStore,
  VaccinationRecordRow,
  vaccinationMigrations,
} from "./store.ts";

/**
 * Vaccination: the doses hospitals give, vaccination's replicas of inventory's vaccines, hospitals
 * and bookable doses, and of who booked each reservation (reservation's ReservationRegistered). It calls no other service: a dose is recorded while inventory and
 * reservation are down, and they learn of it from VaccinationRecorded.
 */
export const vaccinationModule: ServiceModule = {
  name: "vaccination",
  schema: "vaccination_vaccination",
  entities: [
    VaccinationRecordRow,
    RegisteredVaccineRow,
    RegisteredHospitalRow,
    HospitalStockRow,
    BookedReservationRow,
  ],
  migrations: vaccinationMigrations,
  // Hospital staff (vaccine managers) record doses; a person reads their own status.
  access: [
    accessOf(VaccinationService, {
      recordVaccination: { roles: ["vaccine-manager"] },
      getPersonStatus: {
        roles: ["vaccine-manager", "reservation-manager"],
        own: { role: "person", field: "personId" },
      },
    }),
  ],
  routes(router, runtime) {
    router.service(VaccinationService, {
      recordVaccination: async (request) => {
        const record = await runtime.unitOfWork((em) =>
          recordVaccination(ports(runtime, em, "command"), request),
        );
        return { record: recordToProto(record) };
      },
      getPersonStatus: async (request) => {
        const status = await getPersonStatus(ports(runtime, runtime.db.reader(), "query"), request);
        return {
          personId: status.personId,
          vaccinations: status.vaccinations.map((vaccination) => ({
            vaccineId: vaccination.vaccineId,
            dosesGiven: vaccination.dosesGiven,
            dosesRequired: vaccination.dosesRequired,
            status: STATUS[vaccination.status],
            lastDoseAt: timestampFromDate(vaccination.lastDoseAt),
          })),
        };
      },
    });
  },
  policies: (runtime) => {
    const on = <Desc extends DescMessage>(
      name: string,
      schema: Desc,
      handle: (
        ports: VaccinationPorts,
        event: MessageShape<Desc>,
        envelope: EventEnvelope,
      ) => Promise<unknown>,
    ) =>
      eventPolicy(runtime, name, schema, (em, event, envelope) =>
        handle(ports(runtime, em, "policy"), event, envelope),
      );
    return [
      on("vaccine-registered", VaccineRegisteredSchema, (p, event, envelope) =>
        whenVaccineRegistered(p, {
          vaccineId: event.vaccineId,
          name: event.name,
          dosesRequired: event.dosesRequired,
          registeredAt: timeOf(event.registeredAt, envelope),
        }),
      ),
      on("hospital-registered", HospitalRegisteredSchema, (p, event, envelope) =>
        whenHospitalRegistered(p, {
          hospitalId: event.hospitalId,
          name: event.name,
          registeredAt: timeOf(event.registeredAt, envelope),
        }),
      ),
      on("reservation-registered", ReservationRegisteredSchema, (p, event) =>
        whenReservationRegistered(p, {
          reservationId: event.reservation?.reservationId ?? "",
          personId: event.reservation?.personId ?? "",
        }),
      ),
      on("stock-changed", StockChangedSchema, (p, event, envelope) =>
        whenStockChanged(p, {
          hospitalId: event.hospitalId,
          vaccineId: event.vaccineId,
          bookable: event.bookable,
          changedAt: timeOf(event.changedAt, envelope),
          eventId: envelope.id,
        }),
      ),
    ];
  },
};

/**
 * A command locks the person and vaccine (and the reservation) it records, and only reads the
 * replicas; a policy locks the stock it may replace; a query locks nothing.
 */
function ports(
  runtime: ServiceRuntime,
  em: EntityManager,
  use: "command" | "policy" | "query",
): VaccinationPorts {
  return {
    vaccinations: new PersonVaccinationStore(em, runtime.db, { lock: use === "command" }),
    reservations: new BookedReservationStore(em),
    vaccines: new RegisteredVaccineStore(em),
    hospitals: new RegisteredHospitalStore(em),
    stocks: new HospitalStockStore(em, { lock: use === "policy" }),
    clock: runtime.clock,
    ids: runtime.ids,
  };
}

/** The event's own time, or when it was published if the publisher left it out. */
function timeOf(timestamp: Timestamp | undefined, envelope: EventEnvelope): Date {
  return timestamp ? timestampDate(timestamp) : new Date(envelope.occurredAt);
}
