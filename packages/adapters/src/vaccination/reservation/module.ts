import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { PermissionDenied, requireOwnership } from "@hexa/core/shared";
import {
  acceptReservation,
  cancelReservation,
  cancelReservationAsManager,
  getOutstandingReservations,
  getReservation,
  joinWaitlist,
  listReservations,
  type ReservationPorts,
  type ReservationQueries,
  type ReservationState,
  type ReserveAnswer,
  type ReservePorts,
  rejectReservation,
  reserve,
  WAITLIST_REASONS,
  whenBookableDosesAvailable,
  whenBookingHoldsExpired,
  whenBookingsReleasedForDiscard,
  whenVaccinationRecorded,
} from "@hexa/core/vaccination/reservation";
import {
  BookableDosesAvailableSchema,
  BookingHoldsExpiredSchema,
  BookingsReleasedForDiscardSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import {
  ReservationService,
  type ReserveResponseSchema,
  WaitlistOffer_ReasonSchema,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { accessOf, actorOf } from "../../connect/auth.ts";
import { bindContext, type ContextPorts } from "../../kit/context.ts";
import { enumMapping } from "../../kit/enum-mapping.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import type { ServiceModule, ServiceRuntime } from "../../runtime/service-module.ts";
import { reservationToProto } from "./events.ts";
import { INVENTORY_CALL, type InventoryCallSettings, inventoryBookingSlots } from "./inventory.ts";
import {
  AbandonedBookingRecord,
  cursorOf,
  isReservationCursor,
  positionOf,
  ReservationRecord,
  reservationMigrations,
  reservationReads,
  reservationStores,
} from "./store.ts";

export { INVENTORY_CALL, type InventoryCallSettings } from "./inventory.ts";

export interface ReservationModuleOptions {
  /** How Reserve calls inventory; {@link INVENTORY_CALL} unless given (tests shorten the waits). */
  readonly inventoryCall?: InventoryCallSettings;
}

/**
 * Reservation: people's bookings at hospitals and the hospitals' waitlists. Reserve takes a dose and a
 * date slot from inventory synchronously, through a circuit breaker, outside any transaction, and
 * records the outcome in a unit of work; when inventory has no capacity or cannot answer in time, the
 * answer offers the waitlist. Policies: VaccinationRecorded (VACCINATED), BookingsReleasedForDiscard
 * and BookingHoldsExpired (automatic cancellations), BookableDosesAvailable (waitlist alerts).
 * Inventory asks GetOutstandingReservations before it releases booking holds whose lease lapsed.
 */
export function createReservationModule(options: ReservationModuleOptions = {}): ServiceModule {
  const settings = options.inventoryCall ?? INVENTORY_CALL;
  // One client, policy and breaker per running module.
  type Slots = ReturnType<typeof inventoryBookingSlots>;
  const slotsByRuntime = new WeakMap<ServiceRuntime, Slots>();
  const slotsOf = (runtime: ServiceRuntime): Slots => {
    let slots = slotsByRuntime.get(runtime);
    if (!slots) {
      slots = inventoryBookingSlots(runtime, settings);
      slotsByRuntime.set(runtime, slots);
    }
    return slots;
  };

  return {
    name: "reservation",
    schema: "vaccination_reservation",
    entities: [ReservationRecord, AbandonedBookingRecord],
    migrations: reservationMigrations,
    calls: ["inventory"],
    // People book and cancel for themselves; reservation managers decide.
    access: [
      accessOf(ReservationService, {
        reserve: { roles: [], own: { role: "person", field: "personId" } },
        joinWaitlist: { roles: [], own: { role: "person", field: "personId" } },
        acceptReservation: { roles: ["reservation-manager"] },
        rejectReservation: { roles: ["reservation-manager"] },
        cancelReservation: { roles: [], own: { role: "person" } },
        cancelReservationAsManager: { roles: ["reservation-manager"] },
        getReservation: { roles: ["reservation-manager"], own: { role: "person" } },
        listReservations: { roles: ["reservation-manager"], own: { role: "person", field: "personId" } },
        getOutstandingReservations: { roles: ["service"] },
      }),
    ],
    routes(router, runtime) {
      const { command, query, inUnitOfWork, reading } = bindContext(runtime, ports);
      const reply = (reservation: ReservationState) => ({ reservation: reservationToProto(reservation) });
      /** Reserve reads outside any transaction; the caller's cancellation and deadline travel with the booking call. */
      const reservePorts = (call: HandlerContext): ReservePorts => {
        const slots = slotsOf(runtime);
        return {
          ...reading(),
          clock: runtime.clock,
          ids: runtime.ids,
          slots: { take: (slot) => slots.take(slot, call.signal) },
          unitOfWork: inUnitOfWork,
        };
      };
      /** The reservation, once the caller is known to be allowed to touch it. */
      const owned = async (p: Parameters<typeof getReservation>[0], id: string, call: HandlerContext) => {
        const reservation = await getReservation(p, { reservationId: id });
        requireOwnership(actorOf(call), reservation.personId, `reservation ${id}`);
        return reservation;
      };
      router.service(ReservationService, {
        reserve: async (request, context) => toReserveResponse(await reserve(reservePorts(context), request)),
        joinWaitlist: command(joinWaitlist, reply),
        acceptReservation: command(acceptReservation, reply),
        rejectReservation: command(rejectReservation, reply),
        cancelReservation: command(async (p, request: { reservationId: string }, call) => {
          await owned(p, request.reservationId, call);
          return cancelReservation(p, request);
        }, reply),
        cancelReservationAsManager: command(cancelReservationAsManager, reply),
        getReservation: query(
          (p, request: { reservationId: string }, call) => owned(p, request.reservationId, call),
          reply,
        ),
        listReservations: query(
          async (
            p,
            request: {
              personId: string;
              hospitalId: string;
              date: string;
              pageSize: number;
              pageToken: string;
            },
            call,
          ) => {
            // A person passes the access rule for their own list only, never for a hospital's day.
            if (request.hospitalId !== "" && actorOf(call)?.ownOnly) {
              throw new PermissionDenied("a hospital's reservations are for reservation managers");
            }
            const page = readPage(request, isReservationCursor);
            const reservations = await listReservations(p, {
              personId: request.personId,
              hospitalId: request.hospitalId,
              date: request.date,
              limit: page.limit,
              after: page.after && positionOf(page.after),
            });
            return { reservations, limit: page.limit };
          },
          ({ reservations, limit }) => ({
            reservations: reservations.map(reservationToProto),
            nextPageToken: nextPageToken(reservations, limit, cursorOf),
          }),
        ),
        getOutstandingReservations: query(getOutstandingReservations, (reservationIds) => ({
          reservationIds,
        })),
      });
    },
    policies: (runtime) => {
      const { policy } = bindContext(runtime, ports);
      return [
        policy("vaccination-recorded", VaccinationRecordedSchema, async (p, event) => {
          const outcome = await whenVaccinationRecorded(p, {
            reservationId: event.record?.reservationId ?? "",
          });
          if (outcome.effect === "unknown-reservation") {
            runtime.logger.info(
              { reservationId: outcome.reservationId, recordId: event.record?.recordId },
              "a vaccination names a reservation this service does not have; ignored",
            );
          }
        }),
        policy("bookings-released-for-discard", BookingsReleasedForDiscardSchema, async (p, event) => {
          const cancelled = await whenBookingsReleasedForDiscard(p, event);
          runtime.logger.info(
            {
              hospitalId: event.hospitalId,
              vaccineId: event.vaccineId,
              cancelled: cancelled.map((reservation) => reservation.reservationId),
            },
            "reservations cancelled after a discard",
          );
        }),
        policy("booking-holds-expired", BookingHoldsExpiredSchema, async (p, event) => {
          const cancelled = await whenBookingHoldsExpired(p, event);
          runtime.logger.info(
            {
              hospitalId: event.hospitalId,
              vaccineId: event.vaccineId,
              released: event.bookings.map((booking) => booking.reservationId),
              cancelled: cancelled.map((reservation) => reservation.reservationId),
            },
            "booking holds expired: reservations registered too late cancelled",
          );
        }),
        policy("bookable-doses-available", BookableDosesAvailableSchema, whenBookableDosesAvailable),
      ];
    },
  };
}

/** The reservation module with its production settings. */
export const reservationModule: ServiceModule = createReservationModule();

/** Reservation's ports: its stores in a unit of work, and its reads outside one. */
const ports: ContextPorts<ReservationPorts, ReservationQueries & Pick<ReservePorts, "abandonedBookings">> = {
  write: reservationStores,
  read: reservationReads,
};

const OFFER_REASON = enumMapping(WAITLIST_REASONS, WaitlistOffer_ReasonSchema);

function toReserveResponse(answer: ReserveAnswer): MessageInitShape<typeof ReserveResponseSchema> {
  if (answer.reservation) {
    return { outcome: { case: "reservation", value: reservationToProto(answer.reservation) } };
  }
  const offer = answer.waitlistOffer;
  return {
    outcome: {
      case: "waitlistOffer",
      value: { reason: OFFER_REASON.toProto(offer.reason), message: offer.message },
    },
  };
}
