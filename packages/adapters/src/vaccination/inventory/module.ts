import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { isUuid } from "@hexa/core/shared";
import {
  BOOKING_OUTCOMES,
  CANCELLATION_REASONS,
  discardDoses,
  getHospital,
  getHospitalStock,
  getVaccine,
  type HoldExpiryPorts,
  type HoldExpiryRound,
  type Hospital,
  type HospitalState,
  type InventoryPorts,
  type InventoryReads,
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
  TakeBookingSlotResponse_OutcomeSchema,
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
  CancellationReasonSchema,
  type Reservation,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { accessOf } from "../../connect/auth.ts";
import { bindContext, type ContextPorts } from "../../kit/context.ts";
import { enumMapping } from "../../kit/enum-mapping.ts";
import { Remembered } from "../../kit/remembered.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import type { CallSettings } from "../../resilience/service-client.ts";
import { readEnvironment } from "../../runtime/config.ts";
import type { ServiceModule, ServiceRuntime } from "../../runtime/service-module.ts";
import { BookingTurns } from "./booking-turns.ts";
import { RESERVATION_CALL, reservationsAsked } from "./reservation.ts";
import {
  BookingRecord,
  DateCapacityRecord,
  HospitalRecord,
  inventoryMigrations,
  inventoryReads,
  inventoryStores,
  lapsedBookings,
  StockRecord,
  SupplyRecord,
  VaccineRecord,
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
      // A hospital never changes once registered: the calls read each once, then remember it.
      const registered = new Remembered<string, Hospital>(() => true);
      const { command, query, inUnitOfWork } = bindContext(runtime, ports(runtime, registered));
      const turns = new BookingTurns((requests) => inUnitOfWork((p) => takeBookingSlots(p, requests)));
      router.service(InventoryService, {
        registerHospital: command(registerHospital, (hospital) => ({ hospital: hospitalToProto(hospital) })),
        registerVaccine: command(registerVaccine, (vaccine) => ({ vaccine: vaccineToProto(vaccine) })),
        supplyVaccine: command(supplyVaccine, (supply) => ({ supply: supplyToProto(supply) })),
        registerAvailableDoses: command(registerAvailableDoses, ({ supply, stock }) => ({
          supply: supplyToProto(supply),
          stock: stockToProto(stock),
        })),
        discardDoses: command(discardDoses, (stock) => ({ stock: stockToProto(stock) })),
        takeBookingSlot: async (request) => {
          const answer = await turns.take(requireSlotRequest(request, runtime));
          return {
            outcome: OUTCOME.toProto(answer.outcome),
            bookable: answer.bookable,
            dateSlotsLeft: answer.dateSlotsLeft,
          };
        },
        getHospital: query(getHospital, (hospital) => ({ hospital: hospitalToProto(hospital) })),
        listHospitals: query(
          async (read, request: { pageSize: number; pageToken: string }) => {
            const page = readPage(request, isUuidCursor);
            return { hospitals: await listHospitals(read, page), limit: page.limit };
          },
          ({ hospitals, limit }) => ({
            hospitals: hospitals.map(hospitalToProto),
            nextPageToken: nextPageToken(hospitals, limit, (hospital) => hospital.hospitalId),
          }),
        ),
        getVaccine: query(getVaccine, (vaccine) => ({ vaccine: vaccineToProto(vaccine) })),
        listVaccines: query(
          async (read, request: { pageSize: number; pageToken: string }) => {
            const page = readPage(request, isUuidCursor);
            return { vaccines: await listVaccines(read, page), limit: page.limit };
          },
          ({ vaccines, limit }) => ({
            vaccines: vaccines.map(vaccineToProto),
            nextPageToken: nextPageToken(vaccines, limit, (vaccine) => vaccine.vaccineId),
          }),
        ),
        getHospitalStock: query(getHospitalStock, (stocks) => ({ stocks: stocks.map(stockToProto) })),
      });
    },
    policies: (runtime) => {
      const { policy } = bindContext(runtime, ports(runtime));
      return [
        policy("reservation-registered", ReservationRegisteredSchema, (p, event) =>
          whenReservationRegistered(p, { reservationId: event.reservation?.reservationId ?? "" }),
        ),
        policy("reservation-cancelled", ReservationCancelledSchema, (p, event) => {
          const reservation = released(event.reservation);
          // A reason this service does not know (or none) is no reason it acts on.
          const reason = CANCELLATION_REASONS.find(
            (name) => CANCELLATION_REASON.toProto(name) === event.reservation?.cancellationReason,
          );
          return whenReservationCancelled(p, { ...reservation, reason });
        }),
        policy("reservation-rejected", ReservationRejectedSchema, (p, event) =>
          whenReservationRejected(p, released(event.reservation)),
        ),
        policy("booking-abandoned", BookingAbandonedSchema, whenBookingAbandoned),
        policy("vaccination-recorded", VaccinationRecordedSchema, (p, event) => {
          if (!event.record) throw new Error("VaccinationRecorded carries no record");
          return whenVaccinationRecorded(p, event.record);
        }),
      ];
    },
    jobs: (runtime) => {
      const { inUnitOfWork } = bindContext(runtime, ports(runtime));
      const reservations = reservationsAsked(runtime, reservationCall);
      const expiryPorts = (): HoldExpiryPorts => ({
        bookings: lapsedBookings(runtime.db.read()),
        reservations,
        unitOfWork: inUnitOfWork,
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

/**
 * Inventory's ports: its stores in a unit of work, and its queries' reads outside one; the hospitals
 * a unit reads come from `registered` when given (a hospital never changes, so nothing checks it again).
 */
function ports(
  runtime: ServiceRuntime,
  registered?: Remembered<string, Hospital>,
): ContextPorts<InventoryPorts, InventoryReads> {
  return {
    write: (unit) => {
      const stores = inventoryStores(unit);
      const hospitals = registered
        ? { ...stores.hospitals, ...registered.reads(stores.hospitals) }
        : stores.hospitals;
      return { ...stores, hospitals, holdLeaseMs: holdLeaseOf(runtime) };
    },
    read: inventoryReads,
  };
}

/** What a reservation event tells inventory about the reservation (it carries the whole reservation). */
function released(reservation: Reservation | undefined): ReleasedReservation {
  if (!reservation) throw new Error("the reservation event carries no reservation");
  const { reservationId, hospitalId, vaccineId, date } = reservation;
  return { reservationId, hospitalId, vaccineId, date };
}

const CANCELLATION_REASON = enumMapping(CANCELLATION_REASONS, CancellationReasonSchema);

const OUTCOME = enumMapping(BOOKING_OUTCOMES, TakeBookingSlotResponse_OutcomeSchema);

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
