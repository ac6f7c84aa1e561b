import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { isUuid } from "@hexa/core/shared";
import {
  type BookingOutcome,
  type CancellationReason,
  discardDoses,
  getHospital,
  getHospitalStock,
  getVaccine,
  type HoldExpiryPorts,
  type HoldExpiryRound,
  type HospitalState,
  type InventoryPorts,
  listHospitals,
  listVaccines,
  type ReleasedReservation,
  registerAvailableDoses,
  registerHospital,
  registerVaccine,
  requireSlotRequest,
  type StockState,
  type SupplyState,
  settleLapsedHolds,
  supplyVaccine,
  takeBookingSlots,
  type VaccineState,
  whenBookingAbandoned,
  whenReservationCancelled,
  whenReservationRegistered,
  whenReservationRejected,
  whenVaccinationRecorded,
} from "@hexa/core/vaccination/inventory";
import {
  type HospitalSchema,
  InventoryService,
  type SupplySchema,
  TakeBookingSlotResponse_Outcome,
  type VaccineSchema,
  type VaccineStockSchema,
} from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  BookingAbandonedSchema,
  ReservationCancelledSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import {
  CancellationReason as Reason,
  type Reservation,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { accessOf } from "../../connect/auth.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import type { EntityManager } from "../../postgres/database.ts";
import type { CallSettings } from "../../resilience/service-client.ts";
import { readEnvironment } from "../../runtime/config.ts";
import { eventPolicy, type ServiceModule, type ServiceRuntime } from "../../runtime/service-module.ts";
import { BookingTurns } from "./booking-turns.ts";
import { RESERVATION_CALL, reservationsAsked } from "./reservation.ts";
import {
  BookingRecord,
  BookingStore,
  DateCapacityRecord,
  DateCapacityStore,
  HospitalRecord,
  HospitalStore,
  inventoryMigrations,
  StockRecord,
  StockStore,
  SupplyRecord,
  SupplyStore,
  VaccineRecord,
  VaccineStore,
} from "./store.ts";

/**
 * Inventory (vaccine management): hospitals, vaccines, supplies, each hospital's stock of each
 * vaccine, and the bookable capacity: reservation's synchronous TakeBookingSlot takes a dose and a
 * date slot; reservation's and vaccination's events give them back or use them. A hold reservation
 * has not confirmed within its lease is released once reservation answers that it holds no such
 * reservation.
 */
const READERS = ["person", "vaccine-manager", "reservation-manager"] as const;

/**
 * The expiry job's rounds: every replica looks for lapsed holds every 5 s, asks reservation which of
 * up to 200 of them it holds (the most one GetOutstandingReservations takes), and settles them in a
 * unit of work, until none is left. So an
 * unconfirmed hold whose reservation does not exist is released within the lease
 * (BOOKING_HOLD_LEASE_S, 60 s by default) and 5 s, while reservation answers; one it holds is kept.
 */
export const HOLD_EXPIRY = { everyMs: 5_000, batch: 200 } as const;

/** The hold's lease of each running module, read from the environment once. */
const holdLeases = new WeakMap<ServiceRuntime, number>();

function holdLeaseOf(runtime: ServiceRuntime): number {
  let lease = holdLeases.get(runtime);
  if (lease === undefined) {
    lease = readEnvironment().BOOKING_HOLD_LEASE_S * 1_000;
    holdLeases.set(runtime, lease);
  }
  return lease;
}

export { RESERVATION_CALL } from "./reservation.ts";

export interface InventoryModuleOptions {
  /** How the hold-expiry job asks reservation; {@link RESERVATION_CALL} unless given (tests shorten the waits). */
  readonly reservationCall?: CallSettings;
}

/**
 * The inventory module, its hold-expiry job asking reservation (GetOutstandingReservations, before
 * it releases a lapsed hold) as `options` say.
 */
export function createInventoryModule(options: InventoryModuleOptions = {}): ServiceModule {
  const reservationCall = options.reservationCall ?? RESERVATION_CALL;
  return {
    name: "inventory",
    schema: "vaccination_inventory",
    entities: [HospitalRecord, VaccineRecord, SupplyRecord, StockRecord, DateCapacityRecord, BookingRecord],
    migrations: inventoryMigrations,
    // The hold-expiry job asks reservation before it releases a lapsed hold.
    calls: ["reservation"],
    // Vaccine managers keep the stock; reservation's service books; everyone of the suite reads.
    access: [
      accessOf(InventoryService, {
        registerHospital: { roles: ["vaccine-manager"] },
        registerVaccine: { roles: ["vaccine-manager"] },
        supplyVaccine: { roles: ["vaccine-manager"] },
        registerAvailableDoses: { roles: ["vaccine-manager"] },
        discardDoses: { roles: ["vaccine-manager"] },
        takeBookingSlot: { roles: ["service"] },
        getHospital: { roles: READERS },
        listHospitals: { roles: READERS },
        getVaccine: { roles: READERS },
        listVaccines: { roles: READERS },
        getHospitalStock: { roles: READERS },
      }),
    ],
    routes(router, runtime) {
      const command = <T>(work: (ports: InventoryPorts) => Promise<T>) =>
        runtime.unitOfWork((em) => work(ports(runtime, em, true)));
      const reader = () => ports(runtime, runtime.db.reader(), false);
      const turns = new BookingTurns((requests) => command((p) => takeBookingSlots(p, requests)));
      router.service(InventoryService, {
        registerHospital: async (request) => ({
          hospital: hospitalToProto(await command((p) => registerHospital(p, request))),
        }),
        registerVaccine: async (request) => ({
          vaccine: vaccineToProto(await command((p) => registerVaccine(p, request))),
        }),
        supplyVaccine: async (request) => ({
          supply: supplyToProto(await command((p) => supplyVaccine(p, request))),
        }),
        registerAvailableDoses: async (request) => {
          const { supply, stock } = await command((p) => registerAvailableDoses(p, request));
          return { supply: supplyToProto(supply), stock: stockToProto(stock) };
        },
        discardDoses: async (request) => ({
          stock: stockToProto(await command((p) => discardDoses(p, request))),
        }),
        takeBookingSlot: async (request) => {
          const answer = await turns.take(requireSlotRequest(request, runtime));
          return {
            outcome: OUTCOME[answer.outcome],
            bookable: answer.bookable,
            dateSlotsLeft: answer.dateSlotsLeft,
          };
        },
        getHospital: async (request) => ({ hospital: hospitalToProto(await getHospital(reader(), request)) }),
        listHospitals: async (request) => {
          const page = readPage(request, isUuidCursor);
          const hospitals = await listHospitals(reader(), page);
          return {
            hospitals: hospitals.map(hospitalToProto),
            nextPageToken: nextPageToken(hospitals, page.limit, (hospital) => hospital.hospitalId),
          };
        },
        getVaccine: async (request) => ({ vaccine: vaccineToProto(await getVaccine(reader(), request)) }),
        listVaccines: async (request) => {
          const page = readPage(request, isUuidCursor);
          const vaccines = await listVaccines(reader(), page);
          return {
            vaccines: vaccines.map(vaccineToProto),
            nextPageToken: nextPageToken(vaccines, page.limit, (vaccine) => vaccine.vaccineId),
          };
        },
        getHospitalStock: async (request) => ({
          stocks: (await getHospitalStock(reader(), request)).map(stockToProto),
        }),
      });
    },
    policies: (runtime) => {
      const on = <Desc extends DescMessage>(
        name: string,
        schema: Desc,
        handle: (ports: InventoryPorts, event: MessageShape<Desc>) => Promise<unknown>,
      ) => eventPolicy(runtime, name, schema, (em, event) => handle(ports(runtime, em, true), event));
      return [
        on("reservation-registered", ReservationRegisteredSchema, (p, event) =>
          whenReservationRegistered(p, { reservationId: event.reservation?.reservationId ?? "" }),
        ),
        on("reservation-cancelled", ReservationCancelledSchema, (p, event) => {
          const reservation = released(event.reservation);
          const reason = CANCELLATION_REASON[event.reservation?.cancellationReason ?? Reason.UNSPECIFIED];
          return whenReservationCancelled(p, { ...reservation, reason });
        }),
        on("reservation-rejected", ReservationRejectedSchema, (p, event) =>
          whenReservationRejected(p, released(event.reservation)),
        ),
        on("booking-abandoned", BookingAbandonedSchema, (p, event) => whenBookingAbandoned(p, event)),
        on("vaccination-recorded", VaccinationRecordedSchema, (p, event) => {
          if (!event.record) throw new Error("VaccinationRecorded carries no record");
          return whenVaccinationRecorded(p, event.record);
        }),
      ];
    },
    jobs: (runtime) => {
      const reservations = reservationsAsked(runtime, reservationCall);
      const expiryPorts = (): HoldExpiryPorts => ({
        bookings: new BookingStore(runtime.db.reader(), runtime.db, { lock: false }),
        reservations,
        unitOfWork: (work) => runtime.unitOfWork((em) => work(ports(runtime, em, true))),
        clock: runtime.clock,
        ids: runtime.ids,
      });
      return [
        {
          name: "inventory-hold-expiry",
          everyMs: HOLD_EXPIRY.everyMs,
          run: async () => {
            let round: HoldExpiryRound;
            do {
              round = await settleLapsedHolds(expiryPorts(), HOLD_EXPIRY.batch);
              if ("unanswered" in round) return;
              const { confirmed, released } = round;
              if (confirmed + released > 0) {
                runtime.logger.info({ confirmed, released }, "lapsed booking holds settled with reservation");
              }
            } while (round.confirmed + round.released === HOLD_EXPIRY.batch);
          },
        },
      ];
    },
  };
}

/** The inventory module with its production settings. */
export const inventoryModule: ServiceModule = createInventoryModule();

function ports(runtime: ServiceRuntime, em: EntityManager, lock: boolean): InventoryPorts {
  return {
    hospitals: new HospitalStore(em, runtime.db),
    vaccines: new VaccineStore(em, runtime.db, { lock }),
    supplies: new SupplyStore(em, runtime.db, { lock }),
    stocks: new StockStore(em, runtime.db, { lock }),
    capacities: new DateCapacityStore(em, { lock }),
    bookings: new BookingStore(em, runtime.db, { lock }),
    holdLeaseMs: holdLeaseOf(runtime),
    clock: runtime.clock,
    ids: runtime.ids,
  };
}

/** What a reservation event tells inventory about the reservation (it carries the whole reservation). */
function released(reservation: Reservation | undefined): ReleasedReservation {
  if (!reservation) throw new Error("the reservation event carries no reservation");
  const { reservationId, hospitalId, vaccineId, date } = reservation;
  return { reservationId, hospitalId, vaccineId, date };
}

const CANCELLATION_REASON: Record<Reason, CancellationReason | undefined> = {
  [Reason.UNSPECIFIED]: undefined,
  [Reason.PERSON]: "PERSON",
  [Reason.MANAGER]: "MANAGER",
  [Reason.DISCARD]: "DISCARD",
  [Reason.HOLD_EXPIRED]: "HOLD_EXPIRED",
  [Reason.BOOKED]: "BOOKED",
};

const OUTCOME: Record<BookingOutcome, TakeBookingSlotResponse_Outcome> = {
  BOOKED: TakeBookingSlotResponse_Outcome.BOOKED,
  NO_DOSES: TakeBookingSlotResponse_Outcome.NO_DOSES,
  DATE_FULL: TakeBookingSlotResponse_Outcome.DATE_FULL,
};

/** A page token of ListHospitals and ListVaccines holds the last id of the previous page. */
function isUuidCursor(value: unknown): value is string {
  return typeof value === "string" && isUuid(value);
}

function hospitalToProto(hospital: HospitalState): MessageInitShape<typeof HospitalSchema> {
  return { ...hospital, registeredAt: timestampFromDate(hospital.registeredAt) };
}

function vaccineToProto(vaccine: VaccineState): MessageInitShape<typeof VaccineSchema> {
  return { ...vaccine, registeredAt: timestampFromDate(vaccine.registeredAt) };
}

function supplyToProto(supply: SupplyState): MessageInitShape<typeof SupplySchema> {
  const { supplyId, hospitalId, vaccineId, vials, availableDoses, suppliedAt } = supply;
  return {
    supplyId,
    hospitalId,
    vaccineId,
    vials,
    availableDoses,
    suppliedAt: timestampFromDate(suppliedAt),
  };
}

function stockToProto(stock: StockState): MessageInitShape<typeof VaccineStockSchema> {
  const { hospitalId, vaccineId, suppliedVials, available, given, discarded, remaining, booked, bookable } =
    stock;
  return { hospitalId, vaccineId, suppliedVials, available, given, discarded, remaining, booked, bookable };
}
