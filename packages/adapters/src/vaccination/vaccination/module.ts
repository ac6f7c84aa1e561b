import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  getPersonStatus,
  type HospitalStock,
  type HospitalStocks,
  type PersonVaccinationReads,
  type RecordingPorts,
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
import type { ReadPort } from "../../kit/aggregate-store.ts";
import { bindContext, type ContextPorts } from "../../kit/context.ts";
import type { EventEnvelope } from "../../messaging/bus.ts";
import type { ServiceModule } from "../../runtime/service-module.ts";
import { recordToProto, STATUS } from "./events.ts";
import {
  BookedReservationRow,
  bookedReservationStore,
  HospitalStockRow,
  hospitalStockStore,
  personVaccinations,
  RegisteredHospitalRow,
  RegisteredVaccineRow,
  registeredHospitalStore,
  registeredVaccineStore,
  type StockKey,
  VaccinationRecordRow,
  vaccinationMigrations,
  vaccinationsOfPerson,
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
    const { query } = bindContext(runtime, ports);
    // A dose locks the person and vaccine (and the reservation) it records, and reads the replicas
    // FOR SHARE, so doses of one vaccine or at one hospital are recorded in parallel.
    const recording = bindContext<RecordingPorts, VaccinationQueries>(runtime, {
      read: ports.read,
      write: (unit) => ({
        vaccinations: personVaccinations(unit),
        reservations: bookedReservationStore.shared(unit),
        vaccines: registeredVaccineStore.shared(unit),
        hospitals: registeredHospitalStore.shared(unit),
        stocks: stockReads(hospitalStockStore.shared(unit)),
      }),
    });
    router.service(VaccinationService, {
      recordVaccination: recording.command(recordVaccination, (record) => ({
        record: recordToProto(record),
      })),
      getPersonStatus: query(getPersonStatus, (status) => ({
        personId: status.personId,
        vaccinations: status.vaccinations.map((vaccination) => ({
          vaccineId: vaccination.vaccineId,
          dosesGiven: vaccination.dosesGiven,
          dosesRequired: vaccination.dosesRequired,
          status: STATUS.toProto(vaccination.status),
          lastDoseAt: timestampFromDate(vaccination.lastDoseAt),
        })),
      })),
    });
  },
  policies: (runtime) => {
    const { policy } = bindContext(runtime, ports);
    return [
      policy("vaccine-registered", VaccineRegisteredSchema, (p, event, envelope) =>
        whenVaccineRegistered(p, {
          vaccineId: event.vaccineId,
          name: event.name,
          dosesRequired: event.dosesRequired,
          registeredAt: timeOf(event.registeredAt, envelope),
        }),
      ),
      policy("hospital-registered", HospitalRegisteredSchema, (p, event, envelope) =>
        whenHospitalRegistered(p, {
          hospitalId: event.hospitalId,
          name: event.name,
          registeredAt: timeOf(event.registeredAt, envelope),
        }),
      ),
      policy("reservation-registered", ReservationRegisteredSchema, (p, event) =>
        whenReservationRegistered(p, {
          reservationId: event.reservation?.reservationId ?? "",
          personId: event.reservation?.personId ?? "",
        }),
      ),
      policy("stock-changed", StockChangedSchema, (p, event, envelope) =>
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

interface VaccinationQueries {
  readonly vaccinations: PersonVaccinationReads;
}

/** The policies write the replicas (the stock locked as it may be replaced); queries lock nothing. */
const ports: ContextPorts<VaccinationPorts, VaccinationQueries> = {
  write: (unit) => {
    const stocks = hospitalStockStore.writer(unit);
    return {
      vaccinations: personVaccinations(unit),
      reservations: bookedReservationStore.writer(unit),
      vaccines: registeredVaccineStore.writer(unit),
      hospitals: registeredHospitalStore.writer(unit),
      stocks: { ...stockReads(stocks), save: stocks.save },
    };
  },
  read: (session) => ({
    vaccinations: { ofPerson: (personId) => vaccinationsOfPerson(session.em, personId) },
  }),
};

/** The stock's port as core asks for it, by hospital and vaccine. */
function stockReads(port: ReadPort<HospitalStock, StockKey>): Pick<HospitalStocks, "get"> {
  return { get: (hospitalId, vaccineId) => port.get({ hospitalId, vaccineId }) };
}

/** The event's own time, or when it was published if the publisher left it out. */
function timeOf(timestamp: Timestamp | undefined, envelope: EventEnvelope): Date {
  return timestamp ? timestampDate(timestamp) : new Date(envelope.occurredAt);
}
