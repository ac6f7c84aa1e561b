/**
 * The reservation module started in this process on a fresh database, with the embedded bus, as the
 * all-in-one runs it. Tests call it through Connect JSON and feed it the events other contexts
 * publish through the bus (the real consumer path: inbox, then policy).
 *
 * Inventory is either the real inventory module in the same process, or a small InventoryService on
 * its own port that the test controls (it books, refuses, fails or hangs on demand): fault injection
 * on the far side of the synchronous call.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import type { MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { FixedClock } from "@hexa/core/shared";
import {
  BookableCause,
  BookableDosesAvailableSchema,
  BookingsReleasedForDiscardSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import {
  InventoryService,
  type TakeBookingSlotRequest,
  TakeBookingSlotResponse_Outcome,
} from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  BookingAbandonedSchema,
  ReservationCancelledSchema,
  ReservationConfirmedSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
  ReservationVaccinatedSchema,
  WaitlistAlertedSchema,
  WaitlistJoinedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import { ReservationService } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import {
  connectJsonClient,
  envelope,
  type OutboxEvent,
  outboxEvents,
  query,
  startModules,
} from "@hexa/testing";
import type { InProcessBus } from "../../../src/inprocess/bus.ts";
import type { EventEnvelope } from "../../../src/messaging/bus.ts";
import type { ServiceModule } from "../../../src/runtime/service-module.ts";
import {
  createReservationModule,
  INVENTORY_CALL,
  type InventoryCallSettings,
} from "../../../src/vaccination/reservation/module.ts";

/**
 * Short waits for tests: 300 ms an attempt, 400 ms for the whole call, a breaker that opens after 5
 * failures in a row and tries again after 500 ms.
 */
export const FAST_CALL: InventoryCallSettings = {
  timeoutMs: 300,
  budgetMs: 400,
  retry: { attempts: 3, initialDelayMs: 10, maxDelayMs: 20 },
  breaker: { consecutiveFailures: 5, halfOpenAfterMs: 500 },
  concurrency: INVENTORY_CALL.concurrency,
};

export interface ReservationApp {
  readonly databaseUrl: string;
  readonly bus: InProcessBus;
  readonly clock: FixedClock;
  readonly url: string;
  readonly client: Client<typeof ReservationService>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Where inventory answers, when it does not run in this process. */
  readonly inventoryUrl?: string;
  /** Modules started with reservation in this process (e.g. the real inventory). */
  readonly alongside?: readonly ServiceModule[];
  readonly inventoryCall?: InventoryCallSettings;
  readonly maxInFlight?: number;
}

/**
 * Starts reservation on 127.0.0.1, port 0, with a clock that stands still at the real time of the
 * start until a test moves it. One delivery attempt: a failing handler is dead-lettered at once.
 */
export async function startReservation(options: StartOptions): Promise<ReservationApp> {
  const clock = new FixedClock(new Date());
  const reservation = createReservationModule(
    options.inventoryCall ? { inventoryCall: options.inventoryCall } : {},
  );
  const { url, databaseUrl, bus, stop } = await startModules([...(options.alongside ?? []), reservation], {
    clock,
    ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
    ...(options.inventoryUrl ? { serviceUrls: { inventory: options.inventoryUrl } } : {}),
  });
  return { databaseUrl, bus, clock, url, client: connectJsonClient(ReservationService, url), stop };
}

export type InventoryBehaviour =
  /** Takes a dose and a slot, once per reservation id (a repeat gets the same answer). */
  | "book"
  | "no-doses"
  | "date-full"
  /** Answers Unavailable at once, as a failing server or proxy would. */
  | "fail"
  /** Never answers; the call ends only when the caller gives up. */
  | "hang"
  /** Refuses the hospital as unknown (a business answer). */
  | "unknown-hospital";

/** An InventoryService on its own port, of which only TakeBookingSlot works, behaving as told. */
export class ScriptedInventory {
  behaviour: InventoryBehaviour = "book";
  /** Every TakeBookingSlot received, in order. */
  readonly calls: TakeBookingSlotRequest[] = [];
  /** Reservation ids holding a dose, each once. */
  readonly booked = new Set<string>();
  /** Calls being held right now. */
  hanging = 0;
  readonly #server: Http2Server;
  #url = "";

  private constructor() {
    this.#server = createServer(
      connectNodeAdapter({
        routes: (router: ConnectRouter) => {
          router.service(InventoryService, {
            takeBookingSlot: async (request, context) => {
              this.calls.push(request);
              switch (this.behaviour) {
                case "book":
                  this.booked.add(request.reservationId);
                  return { outcome: TakeBookingSlotResponse_Outcome.BOOKED, bookable: 10, dateSlotsLeft: 10 };
                case "no-doses":
                  return { outcome: TakeBookingSlotResponse_Outcome.NO_DOSES };
                case "date-full":
                  return { outcome: TakeBookingSlotResponse_Outcome.DATE_FULL, bookable: 3 };
                case "fail":
                  throw new ConnectError("inventory is restarting", Code.Unavailable);
                case "unknown-hospital":
                  throw new ConnectError(`Hospital ${request.hospitalId} was not found`, Code.NotFound);
                case "hang":
                  this.hanging += 1;
                  try {
                    await new Promise<void>((done) => {
                      if (context.signal.aborted) done();
                      context.signal.addEventListener("abort", () => done(), { once: true });
                    });
                  } finally {
                    this.hanging -= 1;
                  }
                  throw new ConnectError("the caller gave up", Code.Canceled);
              }
            },
          });
        },
      }),
    );
  }

  static async start(): Promise<ScriptedInventory> {
    const inventory = new ScriptedInventory();
    await new Promise<void>((done) => inventory.#server.listen(0, "127.0.0.1", done));
    inventory.#url = `http://127.0.0.1:${(inventory.#server.address() as AddressInfo).port}`;
    return inventory;
  }

  get url(): string {
    return this.#url;
  }

  /** Calls for one reservation id. */
  callsFor(reservationId: string): number {
    return this.calls.filter((call) => call.reservationId === reservationId).length;
  }

  async stop(): Promise<void> {
    await new Promise<void>((done) => this.#server.close(() => done()));
  }
}

/** Inventory released these bookings of the stock for a discard, in the order it chose them. */
export function bookingsReleasedForDiscard(
  hospitalId: string,
  vaccineId: string,
  bookings: ReadonlyArray<{ reservationId: string; date: string }>,
): EventEnvelope {
  return envelope(BookingsReleasedForDiscardSchema, `${hospitalId}/${vaccineId}`, {
    hospitalId,
    vaccineId,
    bookings: [...bookings],
    releasedAt: timestampFromDate(new Date()),
  });
}

export function bookableDosesAvailable(
  hospitalId: string,
  vaccineId: string,
  bookable: number,
): EventEnvelope {
  return envelope(BookableDosesAvailableSchema, `${hospitalId}/${vaccineId}`, {
    hospitalId,
    vaccineId,
    bookable,
    cause: BookableCause.NEW_DOSES,
    at: timestampFromDate(new Date()),
  });
}

export function vaccinationRecorded(
  person: { personId: string; hospitalId: string; vaccineId: string },
  reservationId: string,
): EventEnvelope {
  return envelope(VaccinationRecordedSchema, person.personId, {
    record: {
      recordId: randomUUID(),
      ...person,
      reservationId,
      doseNumber: 1,
      dosesRequired: 2,
      vaccinatedAt: timestampFromDate(new Date()),
    },
  });
}

const SCHEMAS = {
  "vaccination.reservation.v1.ReservationRegistered": ReservationRegisteredSchema,
  "vaccination.reservation.v1.WaitlistJoined": WaitlistJoinedSchema,
  "vaccination.reservation.v1.ReservationConfirmed": ReservationConfirmedSchema,
  "vaccination.reservation.v1.ReservationRejected": ReservationRejectedSchema,
  "vaccination.reservation.v1.ReservationCancelled": ReservationCancelledSchema,
  "vaccination.reservation.v1.ReservationVaccinated": ReservationVaccinatedSchema,
  "vaccination.reservation.v1.WaitlistAlerted": WaitlistAlertedSchema,
  "vaccination.reservation.v1.BookingAbandoned": BookingAbandonedSchema,
} as const;

export type ReservationMessage = MessageShape<(typeof SCHEMAS)[keyof typeof SCHEMAS]>;

export type EmittedEvent = OutboxEvent<ReservationMessage>;

/** Every event reservation committed to its outbox for these aggregate ids (all when none given), in commit order. */
export function emitted(databaseUrl: string, aggregateIds?: readonly string[]): Promise<EmittedEvent[]> {
  return outboxEvents(
    databaseUrl,
    "vaccination_reservation",
    SCHEMAS,
    "$1::text[] is null or aggregate_id = any($1::text[])",
    [aggregateIds ? [...aggregateIds] : null],
  );
}

/** How many rows reservation's tables and outbox hold. */
export async function counts(
  databaseUrl: string,
): Promise<{ reservations: number; abandoned: number; events: number }> {
  const [row] = await query<{ reservations: number; abandoned: number; events: number }>(
    databaseUrl,
    `select (select count(*)::int from vaccination_reservation.reservation) as reservations,
            (select count(*)::int from vaccination_reservation.abandoned_booking) as abandoned,
            (select count(*)::int from vaccination_reservation.outbox) as events`,
  );
  return row ?? { reservations: -1, abandoned: -1, events: -1 };
}

/** The day `days` after the clock's today, "YYYY-MM-DD" (UTC). */
export function dayAfter(clock: FixedClock, days: number): string {
  return new Date(clock.now().getTime() + days * 86_400_000).toISOString().slice(0, 10);
}

export const newId = (): string => randomUUID();
