/**
 * The vaccination dashboard's module on a fresh database with the embedded bus, called through
 * Connect JSON. The events inventory, reservation and vaccination publish are encoded as their
 * publishers encode them and fed into the bus, so they take the real consumer path: the bus, the
 * inbox and the policy.
 */
import { randomUUID } from "node:crypto";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { VaccinationDashboardService } from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
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
import {
  CancellationReason,
  type ReservationSchema,
  ReservationStatus,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationRecordedSchema } from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { VaccinationStatus } from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import { connectJsonClient, envelope, query, startModules } from "@hexa/testing";
import type { EventEnvelope } from "../../../src/messaging/bus.ts";
import { vaccinationDashboardModule } from "../../../src/vaccination/dashboard/module.ts";

export { refusal } from "@hexa/testing";

/** The dashboard's tables, and the inbox: what a refused call or event must leave untouched. */
export const TABLES = [
  "hospital",
  "vaccine",
  "counter",
  "hospital_tally",
  "reservation",
  "daily_reservation",
  "hospital_stock",
  "inbox",
] as const;

export interface Dashboard {
  readonly databaseUrl: string;
  readonly client: Client<typeof VaccinationDashboardService>;
  /** Publishes into the bus; resolves once the consumer of the event's type has handled it. */
  publish(event: EventEnvelope): Promise<void>;
  /** Publishes one after the other, as the events would arrive. */
  feed(...events: EventEnvelope[]): Promise<void>;
  /** Events the consumers gave up on, with their consumer. */
  deadLetters(): Promise<Array<{ consumer: string; eventId: string }>>;
  /** Rows per table (see TABLES). */
  rowCounts(): Promise<Record<(typeof TABLES)[number], number>>;
  stop(): Promise<void>;
}

/** Starts the module on 127.0.0.1, port 0. A failing event is retried once, quickly, then dead-lettered. */
export async function startDashboard(): Promise<Dashboard> {
  const { url, databaseUrl, bus, publish, stop } = await startModules([vaccinationDashboardModule], {
    deliveryPolicy: { maxDeliver: 2, backoffMs: [10] },
  });
  return {
    databaseUrl,
    client: connectJsonClient(VaccinationDashboardService, url),
    publish,
    feed: async (...events) => {
      for (const event of events) await bus.publish(event);
    },
    deadLetters: async () =>
      (await bus.deadLetters.list()).map((letter) => ({
        consumer: letter.consumer,
        eventId: letter.event.id,
      })),
    rowCounts: async () => {
      const [row] = await query<Record<(typeof TABLES)[number], number>>(
        databaseUrl,
        `select ${TABLES.map((name) => `(select count(*)::int from vaccination_dashboard.${name}) as ${name}`).join(", ")}`,
      );
      if (!row) throw new Error("no row counts");
      return row;
    },
    stop,
  };
}

export const START = new Date("2026-06-01T09:00:00.000Z");

/** The time `n` minutes after START. */
export function minute(n: number): Date {
  return new Date(START.getTime() + n * 60_000);
}

/** Inventory's events, as inventory publishes them. */
export const inventory = {
  hospitalRegistered: (hospitalId: string, name: string, dailyCapacity: number, at = START) =>
    envelope(
      HospitalRegisteredSchema,
      hospitalId,
      {
        hospitalId,
        name,
        dailyCapacity,
        registeredAt: timestampFromDate(at),
      },
      at,
    ),
  vaccineRegistered: (vaccineId: string, name: string, at = START) =>
    envelope(
      VaccineRegisteredSchema,
      vaccineId,
      {
        vaccineId,
        name,
        dosesRequired: 2,
        registeredAt: timestampFromDate(at),
      },
      at,
    ),
  availableDosesRegistered: (hospitalId: string, vaccineId: string, doses: number, at = START) =>
    envelope(
      AvailableDosesRegisteredSchema,
      hospitalId,
      {
        supplyId: randomUUID(),
        hospitalId,
        vaccineId,
        doses,
        registeredAt: timestampFromDate(at),
      },
      at,
    ),
  dosesDiscarded: (hospitalId: string, vaccineId: string, doses: number, at = START) =>
    envelope(
      DosesDiscardedSchema,
      hospitalId,
      {
        hospitalId,
        vaccineId,
        doses,
        reason: "expired",
        discardedAt: timestampFromDate(at),
      },
      at,
    ),
  stockChanged: (
    hospitalId: string,
    vaccineId: string,
    counts: { available: number; given: number; discarded: number; booked: number },
    at: Date,
  ) => {
    const remaining = counts.available - counts.given - counts.discarded;
    return envelope(
      StockChangedSchema,
      hospitalId,
      {
        hospitalId,
        vaccineId,
        suppliedVials: 10,
        ...counts,
        remaining,
        bookable: remaining - counts.booked,
        changedAt: timestampFromDate(at),
      },
      at,
    );
  },
};

/** Vaccination's event for one dose given. */
export function vaccinationRecorded(
  dose: { personId: string; hospitalId: string; vaccineId: string; completed: boolean },
  at = START,
): EventEnvelope {
  return envelope(
    VaccinationRecordedSchema,
    dose.personId,
    {
      record: {
        recordId: randomUUID(),
        personId: dose.personId,
        hospitalId: dose.hospitalId,
        vaccineId: dose.vaccineId,
        doseNumber: dose.completed ? 2 : 1,
        dosesRequired: 2,
        status: dose.completed ? VaccinationStatus.COMPLETED : VaccinationStatus.IN_PROGRESS,
        vaccinatedAt: timestampFromDate(at),
      },
    },
    at,
  );
}

const RESERVATION_EVENT = {
  [ReservationStatus.WAITLISTED]: WaitlistJoinedSchema,
  [ReservationStatus.REGISTERED]: ReservationRegisteredSchema,
  [ReservationStatus.CONFIRMED]: ReservationConfirmedSchema,
  [ReservationStatus.REJECTED]: ReservationRejectedSchema,
  [ReservationStatus.CANCELLED]: ReservationCancelledSchema,
  [ReservationStatus.VACCINATED]: ReservationVaccinatedSchema,
} as const;

type Published = Exclude<ReservationStatus, ReservationStatus.UNSPECIFIED>;

/** The events of one reservation, as reservation publishes them: each carries the whole reservation. */
export function reservationOf(reservation: {
  reservationId?: string;
  personId: string;
  hospitalId: string;
  vaccineId: string;
  /** Empty for a waitlist entry. */
  date: string;
}) {
  const reservationId = reservation.reservationId ?? randomUUID();
  const event = (
    status: Published,
    at: Date,
    extra: Partial<MessageInitShape<typeof ReservationSchema>> = {},
  ): EventEnvelope =>
    envelope(
      RESERVATION_EVENT[status] as DescMessage,
      reservationId,
      {
        reservation: {
          ...reservation,
          reservationId,
          status,
          createdAt: timestampFromDate(START),
          updatedAt: timestampFromDate(at),
          ...extra,
        },
      } as MessageInitShape<DescMessage>,
      at,
    );
  return {
    reservationId,
    waitlisted: (at = START) => event(ReservationStatus.WAITLISTED, at, { date: "" }),
    registered: (at = START) => event(ReservationStatus.REGISTERED, at),
    confirmed: (at = minute(1)) => event(ReservationStatus.CONFIRMED, at),
    rejected: (at = minute(1)) => event(ReservationStatus.REJECTED, at, { note: "no doctor that day" }),
    cancelled: (at = minute(2), cancellationReason = CancellationReason.PERSON) =>
      event(ReservationStatus.CANCELLED, at, { cancellationReason }),
    vaccinated: (at = minute(3)) => event(ReservationStatus.VACCINATED, at),
  };
}
