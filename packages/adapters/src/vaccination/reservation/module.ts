import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
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
  type ReserveAnswer,
  type ReservePorts,
  rejectReservation,
  reserve,
  type WaitlistReason,
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
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { accessOf, actorOf } from "../../connect/auth.ts";
import { nextPageToken, readPage } from "../../paging.ts";
import type { EntityManager } from "../../postgres/database.ts";
import { eventPolicy, type ServiceModule, type ServiceRuntime } from "../../runtime/service-module.ts";
import { reservationToProto } from "./events.ts";
import { INVENTORY_CALL, type InventoryCallSettings, inventoryBookingSlots } from "./inventory.ts";
import {
  AbandonedBookingRecord,
  AbandonedBookingStore,
  cursorOf,
  isReservationCursor,
  positionOf,
  ReservationRecord,
  ReservationStore,
  reservationMigrations,
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
      const command = <T>(work: (ports: ReservationPorts) => Promise<T>) =>
        runtime.unitOfWork((em) => work(ports(runtime, em, true)));
      const reply = async (state: ReturnType<typeof getReservation>) => ({
        reservation: reservationToProto(await state),
      });
      /** The caller's cancellation and deadline travel with the booking call to inventory. */
      const reservePorts = (call: HandlerContext): ReservePorts => {
        const slots = slotsOf(runtime);
        return {
          ...ports(runtime, runtime.db.reader(), false),
          slots: { take: (slot) => slots.take(slot, call.signal) },
          unitOfWork: command,
        };
      };
      /** The reservation, once the caller is known to be allowed to touch it. */
      const owned = async (p: Pick<ReservationPorts, "reservations">, id: string, call: HandlerContext) => {
        const reservation = await getReservation(p, { reservationId: id });
        requireOwnership(actorOf(call), reservation.personId, `reservation ${id}`);
        return reservation;
      };
      router.service(ReservationService, {
        reserve: async (request, context) => toReserveResponse(await reserve(reservePorts(context), request)),
        joinWaitlist: (request) => reply(command((p) => joinWaitlist(p, request))),
        acceptReservation: (request) => reply(command((p) => acceptReservation(p, request))),
        rejectReservation: (request) => reply(command((p) => rejectReservation(p, request))),
        cancelReservation: (request, context) =>
          reply(
            command(async (p) => {
              await owned(p, request.reservationId, context);
              return cancelReservation(p, request);
            }),
          ),
        cancelReservationAsManager: (request) =>
          reply(command((p) => cancelReservationAsManager(p, request))),
        getReservation: (request, context) =>
          reply(owned(ports(runtime, runtime.db.reader(), false), request.reservationId, context)),
        listReservations: async (request, context) => {
          // A person passes the access rule for their own list only, never for a hospital's day.
          if (request.hospitalId !== "" && actorOf(context)?.ownOnly) {
            throw new PermissionDenied("a hospital's reservations are for reservation managers");
          }
          const page = readPage(request, isReservationCursor);
          const reservations = await listReservations(ports(runtime, runtime.db.reader(), false), {
            personId: request.personId,
            hospitalId: request.hospitalId,
            date: request.date,
            limit: page.limit,
            after: page.after && positionOf(page.after),
          });
          return {
            reservations: reservations.map(reservationToProto),
            nextPageToken: nextPageToken(reservations, page.limit, cursorOf),
          };
        },
        getOutstandingReservations: async (request) => ({
          reservationIds: await getOutstandingReservations(
            ports(runtime, runtime.db.reader(), false),
            request,
          ),
        }),
      });
    },
    policies: (runtime) => {
      const on = <Desc extends DescMessage>(
        name: string,
        schema: Desc,
        handle: (ports: ReservationPorts, event: MessageShape<Desc>) => Promise<unknown>,
      ) => eventPolicy(runtime, name, schema, (em, event) => handle(ports(runtime, em, true), event));
      return [
        on("vaccination-recorded", VaccinationRecordedSchema, async (p, event) => {
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
        on("bookings-released-for-discard", BookingsReleasedForDiscardSchema, async (p, event) => {
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
        on("booking-holds-expired", BookingHoldsExpiredSchema, async (p, event) => {
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
        on("bookable-doses-available", BookableDosesAvailableSchema, whenBookableDosesAvailable),
      ];
    },
  };
}

/** The reservation module with its production settings. */
export const reservationModule: ServiceModule = createReservationModule();

function ports(runtime: ServiceRuntime, em: EntityManager, lock: boolean): ReservationPorts {
  return {
    reservations: new ReservationStore(em, runtime.db, { lock }),
    abandonedBookings: new AbandonedBookingStore(em, runtime.db),
    clock: runtime.clock,
    ids: runtime.ids,
  };
}

const OFFER_REASON: Record<WaitlistReason, WaitlistOffer_Reason> = {
  NO_DOSES: WaitlistOffer_Reason.NO_DOSES,
  DATE_FULL: WaitlistOffer_Reason.DATE_FULL,
  INVENTORY_UNAVAILABLE: WaitlistOffer_Reason.INVENTORY_UNAVAILABLE,
};

function toReserveResponse(answer: ReserveAnswer): MessageInitShape<typeof ReserveResponseSchema> {
  if (answer.reservation) {
    return { outcome: { case: "reservation", value: reservationToProto(answer.reservation) } };
  }
  const offer = answer.waitlistOffer;
  return {
    outcome: { case: "waitlistOffer", value: { reason: OFFER_REASON[offer.reason], message: offer.message } },
  };
}
