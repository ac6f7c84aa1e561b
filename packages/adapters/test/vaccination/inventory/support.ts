/**
 * Inventory's module started in this process on a fresh database, with the embedded bus, as the
 * all-in-one runs it. Tests call it through Connect JSON and feed it the events reservation and
 * vaccination publish through the bus: the real consumer path (inbox, then policy).
 *
 * Reservation, which the hold-expiry job asks which lapsed holds it holds, is a small
 * ReservationService on its own port that the test controls (it answers, or fails, on demand):
 * fault injection on the far side of the synchronous call.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import type { MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { InProcessBus } from "@hexa/adapters/inprocess/bus";
import type { EventEnvelope } from "@hexa/adapters/messaging/bus";
import { inventoryModule } from "@hexa/adapters/vaccination/inventory/module";
import { FixedClock } from "@hexa/core/shared";
import {
  AvailableDosesRegisteredSchema,
  BookableDosesAvailableSchema,
  BookingHoldsExpiredSchema,
  BookingsReleasedForDiscardSchema,
  DosesDiscardedSchema,
  HospitalRegisteredSchema,
  StockChangedSchema,
  VaccineRegisteredSchema,
  VaccineSuppliedSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  BookingAbandonedSchema,
  ReservationCancelledSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import {
  CancellationReason,
  ReservationService,
  ReservationStatus,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { VaccinationStatus } from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import {
  connectJsonClient,
  envelope,
  type OutboxEvent,
  outboxEvents,
  query,
  startModules,
} from "@hexa/testing";

/** The services' clock stands at 09:00 UTC on this day: the first bookable date. */
export const TODAY = "2031-05-10";
export const TOMORROW = "2031-05-11";

export interface Inventory {
  readonly databaseUrl: string;
  /** The reservation its hold-expiry job asks. */
  readonly reservation: ScriptedReservation;
  /** The services' clock: a test advances it. */
  readonly clock: FixedClock;
  readonly bus: InProcessBus;
  readonly client: Client<typeof InventoryService>;
  stop(): Promise<void>;
}

/**
 * Starts the module on 127.0.0.1, port 0 (given `replicaOf`, a second replica on its database and
 * clock, with its own bus). One delivery attempt: a handler that fails is
 * dead-lettered at once, so a test sees every failure.
 */
export async function startInventory(
  replicaOf?: Pick<Inventory, "databaseUrl" | "clock" | "reservation">,
): Promise<Inventory> {
  const clock = replicaOf?.clock ?? new FixedClock(new Date(`${TODAY}T09:00:00.000Z`));
  const reservation = replicaOf?.reservation ?? (await ScriptedReservation.start());
  const { url, databaseUrl, bus, stop } = await startModules([inventoryModule], {
    clock,
    serviceUrls: { reservation: reservation.url },
    ...(replicaOf ? { databaseUrl: replicaOf.databaseUrl } : {}),
  });
  return {
    databaseUrl,
    reservation,
    clock,
    bus,
    client: connectJsonClient(InventoryService, url),
    stop: async () => {
      await stop();
      if (!replicaOf) await reservation.stop();
    },
  };
}

/**
 * A ReservationService on its own port, of which only GetOutstandingReservations works: it answers
 * the ids in `outstanding` among those asked, or fails as a reservation that is down while `down`.
 */
export class ScriptedReservation {
  readonly outstanding = new Set<string>();
  down = false;
  /** The ids of every GetOutstandingReservations received, in order. */
  readonly asked: string[][] = [];
  readonly #server: Http2Server;
  #url = "";

  private constructor() {
    this.#server = createServer(
      connectNodeAdapter({
        routes: (router: ConnectRouter) => {
          router.service(ReservationService, {
            getOutstandingReservations: async (request) => {
              this.asked.push(request.reservationIds);
              if (this.down) throw new ConnectError("reservation is restarting", Code.Unavailable);
              return { reservationIds: request.reservationIds.filter((id) => this.outstanding.has(id)) };
            },
          });
        },
      }),
    );
  }

  static async start(): Promise<ScriptedReservation> {
    const reservation = new ScriptedReservation();
    await new Promise<void>((done) => reservation.#server.listen(0, "127.0.0.1", done));
    reservation.#url = `http://127.0.0.1:${(reservation.#server.address() as AddressInfo).port}`;
    return reservation;
  }

  get url(): string {
    return this.#url;
  }

  /** Whether the job asked about the reservation. */
  wasAskedAbout(reservationId: string): boolean {
    return this.asked.some((ids) => ids.includes(reservationId));
  }

  async stop(): Promise<void> {
    await new Promise<void>((done) => this.#server.close(() => done()));
  }
}

/** A reservation as reservation's events carry it. */
export interface BookedReservation {
  readonly reservationId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  /** "YYYY-MM-DD"; empty for a waitlist entry. */
  readonly date: string;
}

function reservationMessage(reservation: BookedReservation, status: ReservationStatus) {
  return {
    ...reservation,
    personId: "person-7",
    status,
    createdAt: timestampFromDate(new Date()),
    updatedAt: timestampFromDate(new Date()),
  };
}

export function reservationRegistered(reservation: BookedReservation): EventEnvelope {
  return envelope(ReservationRegisteredSchema, reservation.reservationId, {
    reservation: reservationMessage(reservation, ReservationStatus.REGISTERED),
  });
}

export function reservationCancelled(
  reservation: BookedReservation,
  reason: CancellationReason,
): EventEnvelope {
  return envelope(ReservationCancelledSchema, reservation.reservationId, {
    reservation: {
      ...reservationMessage(reservation, ReservationStatus.CANCELLED),
      cancellationReason: reason,
    },
  });
}

export function reservationRejected(reservation: BookedReservation): EventEnvelope {
  return envelope(ReservationRejectedSchema, reservation.reservationId, {
    reservation: { ...reservationMessage(reservation, ReservationStatus.REJECTED), note: "duplicate" },
  });
}

export function bookingAbandoned(reservation: BookedReservation): EventEnvelope {
  return envelope(BookingAbandonedSchema, reservation.reservationId, {
    ...reservation,
    abandonedAt: timestampFromDate(new Date()),
  });
}

/** A dose given at `hospitalId`, with the reservation it was booked with (empty for a walk-in). */
export function vaccinationRecorded(given: {
  hospitalId: string;
  vaccineId: string;
  reservationId: string;
}): EventEnvelope {
  return envelope(VaccinationRecordedSchema, "person-7", {
    record: {
      ...given,
      recordId: randomUUID(),
      personId: "person-7",
      doseNumber: 1,
      dosesRequired: 2,
      status: VaccinationStatus.IN_PROGRESS,
      vaccinatedAt: timestampFromDate(new Date()),
    },
  });
}

export { CancellationReason };

const SCHEMAS = {
  "vaccination.inventory.v1.HospitalRegistered": HospitalRegisteredSchema,
  "vaccination.inventory.v1.VaccineRegistered": VaccineRegisteredSchema,
  "vaccination.inventory.v1.VaccineSupplied": VaccineSuppliedSchema,
  "vaccination.inventory.v1.AvailableDosesRegistered": AvailableDosesRegisteredSchema,
  "vaccination.inventory.v1.DosesDiscarded": DosesDiscardedSchema,
  "vaccination.inventory.v1.BookingsReleasedForDiscard": BookingsReleasedForDiscardSchema,
  "vaccination.inventory.v1.BookingHoldsExpired": BookingHoldsExpiredSchema,
  "vaccination.inventory.v1.BookableDosesAvailable": BookableDosesAvailableSchema,
  "vaccination.inventory.v1.StockChanged": StockChangedSchema,
} as const;

export type InventoryMessage = MessageShape<(typeof SCHEMAS)[keyof typeof SCHEMAS]>;

export type EmittedEvent = OutboxEvent<InventoryMessage>;

/** Every event inventory committed to its outbox about `hospitalId`, in commit order, decoded. */
export function emitted(databaseUrl: string, hospitalId: string): Promise<EmittedEvent[]> {
  return outboxEvents(databaseUrl, "vaccination_inventory", SCHEMAS, "payload->>'hospitalId' = $1", [
    hospitalId,
  ]);
}

/** The booking row of a reservation, as inventory stored it. */
export async function bookingOf(
  databaseUrl: string,
  reservationId: string,
): Promise<{ status: string; outcome: string } | undefined> {
  const [row] = await query<{ status: string; outcome: string }>(
    databaseUrl,
    "select status, outcome from vaccination_inventory.booking where reservation_id = $1",
    [reservationId],
  );
  return row;
}

/** Slots taken at a hospital on a date. */
export async function takenOn(databaseUrl: string, hospitalId: string, date: string): Promise<number> {
  const [row] = await query<{ taken: number }>(
    databaseUrl,
    "select taken from vaccination_inventory.date_capacity where hospital_id = $1 and date = $2",
    [hospitalId, date],
  );
  return row?.taken ?? 0;
}

/** Rows in every inventory table, to show that a refused call wrote nothing. */
export async function rowCounts(databaseUrl: string): Promise<Record<string, number>> {
  const tables = ["hospital", "vaccine", "supply", "stock", "date_capacity", "booking", "outbox"];
  const [row] = await query<Record<string, number>>(
    databaseUrl,
    `select ${tables.map((table) => `(select count(*)::int from vaccination_inventory.${table}) as ${table}`).join(", ")}`,
  );
  return row ?? {};
}
