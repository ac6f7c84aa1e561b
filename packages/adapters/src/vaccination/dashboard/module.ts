import { setTimeout as sleep } from "node:timers/promises";
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
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
import type { EventEnvelope } from "../../messaging/bus.ts";
import type { EntityManager } from "../../postgres/database.ts";
import { eventPolicy, type ServiceModule } from "../../runtime/service-module.ts";
import { announceDashboardChange, DashboardChangeFeed } from "./changes.ts";
import { CounterStore } from "./counters.ts";
import { readReservation, readStock, readVaccination } from "./events.ts";
import { dashboardMigrations, SCHEMA } from "./schema.ts";
import {
  DailyCountStore,
  DirectoryStore,
  HospitalStockStore,
  HospitalTallyStore,
  ReservationViewStore,
} from "./store.ts";

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
    const read = () => ports(runtime.db.reader(), false);
    // One listening connection per process, opened while anyone watches.
    const changes = new DashboardChangeFeed({ connectionString: runtime.db.url, logger: runtime.logger });
    router.service(VaccinationDashboardService, {
      getVaccinationCount: async () => {
        const count = await getVaccinationCount(read());
        return {
          vaccinations: BigInt(count.vaccinations),
          perVaccine: count.perVaccine.map((vaccine) => ({
            vaccineId: vaccine.vaccineId,
            vaccineName: vaccine.vaccineName ?? "",
            vaccinations: BigInt(vaccine.vaccinations),
            peopleCompleted: BigInt(vaccine.peopleCompleted),
          })),
        };
      },
      listHospitalRates: async () => ({ hospitals: (await listHospitalRates(read())).map(ratesToProto) }),
      getPersonReservations: async (request) => ({
        reservations: (await getPersonReservations(read(), request)).map(reservationToProto),
      }),
      getDailyReservations: async (request) => getDailyReservations(read(), request),
      listHospitalStock: async (request) => ({
        stocks: (await listHospitalStock(read(), request)).map(stockToProto),
      }),
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
    const on = <Desc extends DescMessage>(
      policy: string,
      schema: Desc,
      handle: (
        ports: VaccinationDashboardPorts,
        event: MessageShape<Desc>,
        envelope: EventEnvelope,
      ) => Promise<unknown>,
    ) =>
      eventPolicy(runtime, policy, schema, async (em, event, envelope) => {
        await handle(ports(em, true), event, envelope);
        await announceDashboardChange(em);
      });
    // Every reservation event carries the whole reservation: one rule for all of them.
    const reservationChanged = (
      p: VaccinationDashboardPorts,
      event: { reservation?: Reservation | undefined },
      envelope: EventEnvelope,
    ) => whenReservationChanged(p, readReservation(event.reservation, envelope));
    return [
      on("hospital-registered", HospitalRegisteredSchema, whenHospitalRegistered),
      on("vaccine-registered", VaccineRegisteredSchema, whenVaccineRegistered),
      on("available-doses-registered", AvailableDosesRegisteredSchema, whenAvailableDosesRegistered),
      on("doses-discarded", DosesDiscardedSchema, whenDosesDiscarded),
      on("stock-changed", StockChangedSchema, (p, event, envelope) =>
        whenStockChanged(p, readStock(event, envelope)),
      ),
      on("vaccination-recorded", VaccinationRecordedSchema, (p, event) =>
        whenVaccinationRecorded(p, readVaccination(event.record)),
      ),
      on("reservation-registered", ReservationRegisteredSchema, reservationChanged),
      on("waitlist-joined", WaitlistJoinedSchema, reservationChanged),
      on("reservation-confirmed", ReservationConfirmedSchema, reservationChanged),
      on("reservation-rejected", ReservationRejectedSchema, reservationChanged),
      on("reservation-cancelled", ReservationCancelledSchema, reservationChanged),
      on("reservation-vaccinated", ReservationVaccinatedSchema, reservationChanged),
    ];
  },
};

/** The read models on one entity manager; `lock` in a policy's unit of work. */
function ports(em: EntityManager, lock: boolean): VaccinationDashboardPorts {
  return {
    directory: new DirectoryStore(em),
    counters: new CounterStore(em),
    tallies: new HospitalTallyStore(em),
    reservations: new ReservationViewStore(em, { lock }),
    daily: new DailyCountStore(em),
    stocks: new HospitalStockStore(em, { lock }),
  };
}

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
