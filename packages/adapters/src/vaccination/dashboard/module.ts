import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  getDailyReservations,
  getPersonReservations,
  getVaccinationCount,
  type HospitalRates,
  type HospitalVaccineStock,
  listHospitalRates,
  listHospitalStock,
  type PersonReservation,
  type VaccinationDashboardPorts,
  type VaccinationDashboardReads,
  watchDashboard,
  whenAvailableDosesRegistered,
  whenDosesDiscarded,
  whenHospitalRegistered,
  whenReservationChanged,
  whenStockChanged,
  whenVaccinationRecorded,
  whenVaccineRegistered,
} from "@hexa/core/vaccination/dashboard";
import {
  type HospitalRatesSchema,
  type HospitalVaccineStockSchema,
  type PersonReservationSchema,
  VaccinationDashboardService,
} from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import {
  AvailableDosesRegisteredSchema,
  DosesDiscardedSchema,
  HospitalRegisteredSchema,
  StockChangedSchema,
  VaccineRegisteredSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import {
  ReservationCancelledSchema,
  ReservationConfirmedSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
  ReservationVaccinatedSchema,
  WaitlistJoinedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import type { Reservation } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { accessOf } from "../../connect/auth.ts";
import { bindContext, type ContextPorts } from "../../kit/context.ts";
import type { EventEnvelope } from "../../messaging/bus.ts";
import type { ServiceModule } from "../../runtime/service-module.ts";
import { DashboardChangeFeed } from "./changes.ts";
import { readReservation, readStock, readVaccination } from "./events.ts";
import { dashboardMigrations, SCHEMA } from "./schema.ts";
import { readModels } from "./store.ts";

/**
 * Vaccination dashboard: the suite's status queries (vaccination counts, hospital rates, a
 * person's reservations, daily reservations per hospital, hospital stock), each served from a read
 * model of its own built only from the events inventory, reservation and vaccination publish
 * (CQRS); it never reads another service's data. Vaccination counts are key-value shaped (see
 * counters.ts); the other models are relational tables (see schema.ts).
 */
const MANAGERS = ["vaccine-manager", "reservation-manager"] as const;

export const vaccinationDashboardModule: ServiceModule = {
  name: "vaccination-dashboard",
  schema: SCHEMA,
  entities: [],
  migrations: dashboardMigrations,
  // Managers see the whole picture; a person sees their own reservations, and each day's free
  // slots (counts only, no one's booking) to pick a date.
  access: [
    accessOf(VaccinationDashboardService, {
      getVaccinationCount: { roles: MANAGERS },
      listHospitalRates: { roles: MANAGERS },
      getPersonReservations: { roles: MANAGERS, own: { role: "person", field: "personId" } },
      getDailyReservations: { roles: [...MANAGERS, "person"] },
      listHospitalStock: { roles: MANAGERS },
      watchDashboard: { roles: MANAGERS },
    }),
  ],
  routes(router, runtime) {
    const { query } = bindContext(runtime, ports);
    // One listening connection per process, opened while anyone watches.
    const changes = new DashboardChangeFeed({
      connectionString: runtime.db.url,
      schema: runtime.db.schema,
      logger: runtime.logger,
    });
    router.service(VaccinationDashboardService, {
      getVaccinationCount: query(getVaccinationCount, (count) => ({
        vaccinations: BigInt(count.vaccinations),
        perVaccine: count.perVaccine.map((vaccine) => ({
          vaccineId: vaccine.vaccineId,
          vaccineName: vaccine.vaccineName ?? "",
          vaccinations: BigInt(vaccine.vaccinations),
          peopleCompleted: BigInt(vaccine.peopleCompleted),
        })),
      })),
      listHospitalRates: query(listHospitalRates, (hospitals) => ({
        hospitals: hospitals.map(ratesToProto),
      })),
      getPersonReservations: query(getPersonReservations, (reservations) => ({
        reservations: reservations.map(reservationToProto),
      })),
      getDailyReservations: query(getDailyReservations, (daily) => daily),
      listHospitalStock: query(listHospitalStock, (stocks) => ({ stocks: stocks.map(stockToProto) })),
      async *watchDashboard(_request, context) {
        for await (const _ of watchDashboard(
          { changes, pause: (ms, signal) => sleep(ms, undefined, { signal }) },
          context.signal,
        ))
          yield {};
      },
    });
  },
  policies(runtime) {
    /** One durable consumer per event type, `vaccination-dashboard-<policy>`. */
    const { policy } = bindContext(runtime, ports);
    // Every reservation event carries the whole reservation: one rule for all of them.
    const reservationChanged = (
      p: VaccinationDashboardPorts,
      event: { reservation?: Reservation | undefined },
      envelope: EventEnvelope,
    ) => whenReservationChanged(p, readReservation(event.reservation, envelope));
    return [
      policy("hospital-registered", HospitalRegisteredSchema, whenHospitalRegistered),
      policy("vaccine-registered", VaccineRegisteredSchema, whenVaccineRegistered),
      policy("available-doses-registered", AvailableDosesRegisteredSchema, whenAvailableDosesRegistered),
      policy("doses-discarded", DosesDiscardedSchema, whenDosesDiscarded),
      policy("stock-changed", StockChangedSchema, (p, event, envelope) =>
        whenStockChanged(p, readStock(event, envelope)),
      ),
      policy("vaccination-recorded", VaccinationRecordedSchema, (p, event) =>
        whenVaccinationRecorded(p, readVaccination(event.record)),
      ),
      policy("reservation-registered", ReservationRegisteredSchema, reservationChanged),
      policy("waitlist-joined", WaitlistJoinedSchema, reservationChanged),
      policy("reservation-confirmed", ReservationConfirmedSchema, reservationChanged),
      policy("reservation-rejected", ReservationRejectedSchema, reservationChanged),
      policy("reservation-cancelled", ReservationCancelledSchema, reservationChanged),
      policy("reservation-vaccinated", ReservationVaccinatedSchema, reservationChanged),
    ];
  },
};

/** The read models: changed by the policies in their unit of work, read by the queries outside any. */
const ports: ContextPorts<VaccinationDashboardPorts, VaccinationDashboardReads> = {
  write: (unit) => readModels(unit.em),
  read: (session) => readModels(session.em),
};

function ratesToProto(hospital: HospitalRates): MessageInitShape<typeof HospitalRatesSchema> {
  return {
    hospitalId: hospital.hospitalId,
    hospitalName: hospital.hospitalName ?? "",
    availableDoses: BigInt(hospital.availableDoses),
    vaccinations: BigInt(hospital.vaccinations),
    discardedDoses: BigInt(hospital.discardedDoses),
    vaccinationRate: hospital.vaccinationRate,
    discardRate: hospital.discardRate,
  };
}

function reservationToProto(
  reservation: PersonReservation,
): MessageInitShape<typeof PersonReservationSchema> {
  return {
    reservationId: reservation.reservationId,
    hospitalId: reservation.hospitalId,
    hospitalName: reservation.hospitalName ?? "",
    vaccineId: reservation.vaccineId,
    date: reservation.date ?? "",
    status: reservation.status,
    updatedAt: timestampFromDate(reservation.updatedAt),
  };
}

function stockToProto(stock: HospitalVaccineStock): MessageInitShape<typeof HospitalVaccineStockSchema> {
  return {
    hospitalId: stock.hospitalId,
    hospitalName: stock.hospitalName ?? "",
    vaccineId: stock.vaccineId,
    vaccineName: stock.vaccineName ?? "",
    available: stock.available,
    given: stock.given,
    discarded: stock.discarded,
    remaining: stock.remaining,
    booked: stock.booked,
    bookable: stock.bookable,
    updatedAt: timestampFromDate(stock.changedAt),
  };
}
