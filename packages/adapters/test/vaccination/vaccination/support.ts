/**
 * Vaccination's module on a fresh database, called through Connect JSON. Inventory's events are fed
 * into the bus as inventory's outbox relay would publish them, so they take the real consumer path:
 * the bus, the inbox, then the policy.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { fromJsonString } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { InProcessBus } from "@hexa/adapters/inprocess/bus";
import type { EventBus, EventEnvelope } from "@hexa/adapters/messaging/bus";
import { encodeEvent } from "@hexa/adapters/messaging/encoding";
import { vaccinationModule } from "@hexa/adapters/vaccination/vaccination/module";
import { FixedClock } from "@hexa/core/shared";
import {
  HospitalRegisteredSchema,
  StockChangedSchema,
  VaccineRegisteredSchema,
} from "@hexa/proto/vaccination/inventory/v1/events_pb";
import { ReservationRegisteredSchema } from "@hexa/proto/vaccination/reservation/v1/events_pb";
import { ReservationStatus } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import {
  type VaccinationRecorded,
  VaccinationRecordedSchema,
} from "@hexa/proto/vaccination/vaccination/v1/events_pb";
import { VaccinationService } from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import { connectJsonClient, query, startModules } from "@hexa/testing";

export const STARTED_AT = new Date("2026-06-01T09:00:00.000Z");

export interface VaccinationHarness {
  readonly databaseUrl: string;
  /** The embedded bus the services use (or the one under the bus given to `startVaccination`). */
  readonly bus: InProcessBus;
  /** The services' clock: every time vaccination records comes from it. */
  readonly clock: FixedClock;
  readonly client: Client<typeof VaccinationService>;
  /** Publishes an event into the bus; resolves once every consumer handled it or dead-lettered it. */
  publish(...events: EventEnvelope[]): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The bus the services use, built on the embedded bus; default: the embedded bus itself. */
  readonly bus?: (embedded: InProcessBus) => EventBus;
}

/**
 * Starts only the vaccination module on 127.0.0.1, port 0. One delivery attempt: a handler that fails
 * is dead-lettered at once, so a test sees every failure.
 */
export async function startVaccination(options: StartOptions = {}): Promise<VaccinationHarness> {
  const clock = new FixedClock(STARTED_AT);
  const { url, databaseUrl, bus, stop } = await startModules([vaccinationModule], {
    clock,
    ...(options.bus ? { bus: options.bus } : {}),
  });
  return {
    databaseUrl,
    bus,
    clock,
    client: connectJsonClient(VaccinationService, url),
    publish: async (...events) => {
      for (const event of events) await bus.publish(event);
    },
    stop,
  };
}

/** Event ids that sort in the order they are made (like inventory's UUIDv7 ids), unique to one test. */
export class EventIds {
  readonly #prefix = randomBytes(4).toString("hex");
  #n = 0;
  next(): string {
    this.#n += 1;
    return `${this.#prefix}-0000-7000-8000-${String(this.#n).padStart(12, "0")}`;
  }
}

/** A hospital and two vaccines (two doses, one dose) no other test uses. */
export function newIds() {
  return { hospitalId: randomUUID(), twoDoses: randomUUID(), oneDose: randomUUID() };
}

export function vaccineRegistered(
  vaccineId: string,
  dosesRequired: number,
  id: string = randomUUID(),
): EventEnvelope {
  return encodeEvent(
    { id, type: VaccineRegisteredSchema.typeName, aggregateId: vaccineId, occurredAt: new Date() },
    VaccineRegisteredSchema,
    {
      vaccineId,
      name: `vaccine of ${dosesRequired} doses`,
      dosesRequired,
      registeredAt: timestampFromDate(STARTED_AT),
    },
  );
}

export function hospitalRegistered(hospitalId: string, id: string = randomUUID()): EventEnvelope {
  return encodeEvent(
    { id, type: HospitalRegisteredSchema.typeName, aggregateId: hospitalId, occurredAt: new Date() },
    HospitalRegisteredSchema,
    { hospitalId, name: "General Hospital", dailyCapacity: 100, registeredAt: timestampFromDate(STARTED_AT) },
  );
}

/** Inventory's StockChanged with `bookable` doses left to book, changed at `changedAt`. */
export function stockChanged(
  stock: { hospitalId: string; vaccineId: string; bookable: number; changedAt: Date },
  id: string = randomUUID(),
): EventEnvelope {
  const remaining = stock.bookable + 2;
  return encodeEvent(
    { id, type: StockChangedSchema.typeName, aggregateId: stock.hospitalId, occurredAt: new Date() },
    StockChangedSchema,
    {
      hospitalId: stock.hospitalId,
      vaccineId: stock.vaccineId,
      suppliedVials: 10,
      available: remaining,
      given: 0,
      discarded: 0,
      remaining,
      booked: 2,
      bookable: stock.bookable,
      changedAt: timestampFromDate(stock.changedAt),
    },
  );
}

/** Reservation's ReservationRegistered: `personId` booked `reservationId` of the vaccine at the hospital. */
export function reservationRegistered(
  booking: { reservationId: string; personId: string; hospitalId: string; vaccineId: string },
  id: string = randomUUID(),
): EventEnvelope {
  return encodeEvent(
    {
      id,
      type: ReservationRegisteredSchema.typeName,
      aggregateId: booking.reservationId,
      occurredAt: new Date(),
    },
    ReservationRegisteredSchema,
    {
      reservation: {
        ...booking,
        date: "2026-06-02",
        status: ReservationStatus.REGISTERED,
        createdAt: timestampFromDate(STARTED_AT),
        updatedAt: timestampFromDate(STARTED_AT),
      },
    },
  );
}

/** Every VaccinationRecorded vaccination committed to its outbox for a person, in commit order. */
export async function outboxOf(
  databaseUrl: string,
  personId: string,
): Promise<Array<{ type: string; aggregateId: string; published: boolean; message: VaccinationRecorded }>> {
  const rows = await query<{ event_type: string; aggregate_id: string; payload: string; published: boolean }>(
    databaseUrl,
    `select event_type, aggregate_id, payload::text as payload, published_at is not null as published
       from vaccination_vaccination.outbox where aggregate_id = $1 order by position`,
    [personId],
  );
  return rows.map((row) => ({
    type: row.event_type,
    aggregateId: row.aggregate_id,
    published: row.published,
    message: fromJsonString(VaccinationRecordedSchema, row.payload),
  }));
}

/** Rows in vaccination's own tables, to show that a refused call wrote nothing. */
export async function rowCounts(databaseUrl: string): Promise<{ records: number; outbox: number }> {
  const [row] = await query<{ records: number; outbox: number }>(
    databaseUrl,
    `select (select count(*)::int from vaccination_vaccination.vaccination_record) as records,
            (select count(*)::int from vaccination_vaccination.outbox) as outbox`,
  );
  return row ?? { records: -1, outbox: -1 };
}

/** Vaccination's replica of a hospital's stock of a vaccine, as stored. */
export async function replicaStock(
  databaseUrl: string,
  hospitalId: string,
  vaccineId: string,
): Promise<{ bookable: number; changedAt: string; eventId: string } | undefined> {
  const [row] = await query<{ bookable: number; changed_at: Date; event_id: string }>(
    databaseUrl,
    `select bookable, changed_at, event_id from vaccination_vaccination.hospital_stock
      where hospital_id = $1 and vaccine_id = $2`,
    [hospitalId, vaccineId],
  );
  return row
    ? { bookable: row.bookable, changedAt: row.changed_at.toISOString(), eventId: row.event_id }
    : undefined;
}
