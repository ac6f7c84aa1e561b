/**
 * Notification's module on a fresh database with the embedded bus, called through Connect JSON.
 * Reservation's events are fed into a replica's bus as reservation encodes them, so they take the
 * real consumer path: the bus, the inbox and the policy. Several replicas may share the database,
 * each with its own bus and its own jobs, as separate processes would.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { EventEnvelope } from "@hexa/adapters/messaging/bus";
import {
  createNotificationModule,
  type NotificationModuleOptions,
} from "@hexa/adapters/vaccination/notification/module";
import type { Clock } from "@hexa/core/shared";
import {
  DELIVERED,
  exponentialBackoff,
  type NotificationSender,
  type OutgoingMessage,
  type SendResult,
} from "@hexa/core/vaccination/notification";
import { NotificationService } from "@hexa/proto/vaccination/notification/v1/notification_pb";
import {
  ReservationCancelledSchema,
  ReservationConfirmedSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
  ReservationVaccinatedSchema,
  WaitlistAlertedSchema,
  WaitlistJoinedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import { CancellationReason, ReservationStatus } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { connectJsonClient, createTestDatabase, envelope, query, startModules } from "@hexa/testing";

export { refusal } from "@hexa/testing";

/** Fast rounds and short waits, so retries and reminders happen within a test's time. */
export const FAST: NotificationModuleOptions = {
  sending: {
    everyMs: 20,
    leaseMs: 5_000,
    retry: exponentialBackoff({ maxAttempts: 4, firstMs: 50, maxMs: 400 }),
  },
  reminders: { everyMs: 20 },
  watchReconnectMs: [20, 100],
};

export interface NotificationReplica {
  readonly url: string;
  readonly client: Client<typeof NotificationService>;
  /** What the replica's default channel (a {@link RecordingSender}) was given. */
  readonly sent: readonly OutgoingMessage[];
  /** Publishes into this replica's bus; resolves once its consumer has handled the event (or given up). */
  publish(event: EventEnvelope): Promise<void>;
  /** Events this replica's consumers gave up on. */
  deadLetters(): Promise<Array<{ consumer: string; eventId: string; error: string }>>;
  stop(): Promise<void>;
}

export interface ReplicaOptions {
  readonly clock?: Clock;
  /** Module options over {@link FAST}; by default messages go to a {@link RecordingSender}. */
  readonly module?: NotificationModuleOptions;
}

export interface NotificationHarness {
  readonly databaseUrl: string;
  /** Starts one more replica on the same database, with a bus of its own. */
  startReplica(options?: ReplicaOptions): Promise<NotificationReplica>;
  /** Stored notifications, oldest first, straight from the table. */
  rows(personId?: string): Promise<NotificationRow[]>;
  /** Rows in notification's tables, to show that a refused call wrote nothing. */
  rowCounts(): Promise<{ notifications: number; appointments: number; inbox: number }>;
  /** Stops every replica still running, then drops the database. */
  stop(): Promise<void>;
}

export interface NotificationRow {
  notification_id: string;
  person_id: string;
  kind: string;
  reservation_id: string;
  text: string;
  delivery: string;
  attempts: number;
  sent_at: Date | null;
  last_error: string | null;
}

export async function startNotification(): Promise<NotificationHarness> {
  const database = await createTestDatabase();
  const running = new Set<NotificationReplica>();
  return {
    databaseUrl: database.url,
    async startReplica(options = {}) {
      const recording = new RecordingSender();
      const module = createNotificationModule({
        ...FAST,
        ...(options.module?.channel ? {} : { sender: () => recording }),
        ...options.module,
      });
      const services = await startModules([module], {
        databaseUrl: database.url,
        ...(options.clock ? { clock: options.clock } : {}),
        // A failing event is retried once, quickly, then dead-lettered: tests stay fast.
        deliveryPolicy: { maxDeliver: 2, backoffMs: [10] },
      });
      const replica: NotificationReplica = {
        url: services.url,
        client: connectJsonClient(NotificationService, services.url),
        sent: recording.sent,
        publish: services.publish,
        deadLetters: async () =>
          (await services.bus.deadLetters.list()).map((letter) => ({
            consumer: letter.consumer,
            eventId: letter.event.id,
            error: letter.error,
          })),
        stop: async () => {
          if (!running.delete(replica)) return;
          await services.stop();
        },
      };
      running.add(replica);
      return replica;
    },
    rows: (personId) =>
      query<NotificationRow>(
        database.url,
        `select notification_id, person_id, kind, reservation_id, text, delivery, attempts, sent_at, last_error
           from vaccination_notification.notification
          where $1::text is null or person_id = $1
          order by created_at, notification_id`,
        [personId ?? null],
      ),
    async rowCounts() {
      const [row] = await query<{ notifications: number; appointments: number; inbox: number }>(
        database.url,
        `select (select count(*)::int from vaccination_notification.notification) as notifications,
                (select count(*)::int from vaccination_notification.appointment) as appointments,
                (select count(*)::int from vaccination_notification.inbox) as inbox`,
      );
      return row ?? { notifications: -1, appointments: -1, inbox: -1 };
    },
    async stop() {
      await Promise.all([...running].map((replica) => replica.stop()));
      await database.drop();
    },
  };
}

/** A channel that takes every message and remembers it. */
export class RecordingSender implements NotificationSender {
  readonly sent: OutgoingMessage[] = [];
  async send(message: OutgoingMessage): Promise<SendResult> {
    this.sent.push(message);
    return DELIVERED;
  }
}

export interface Received {
  readonly at: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/**
 * A messenger's webhook on 127.0.0.1: it answers each person's messages from that person's script
 * (a status, or "hang" for no answer), then 200, and records every request.
 */
export class Receiver {
  readonly received: Received[] = [];
  readonly #scripts = new Map<string, Array<number | "hang">>();
  readonly #server: Server;
  readonly #hanging: ServerResponse[] = [];

  constructor() {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
        this.received.push({ at: Date.now(), headers: request.headers, body });
        const next = this.#scripts.get(String(body.personId))?.shift() ?? 200;
        if (next === "hang") {
          this.#hanging.push(response);
          return;
        }
        response.writeHead(next, { "content-type": "text/plain" }).end(next < 300 ? "ok" : `status ${next}`);
      });
    });
  }

  async start(): Promise<string> {
    this.#server.listen(0, "127.0.0.1");
    await once(this.#server, "listening");
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks/kakao?token=secret`;
  }

  script(personId: string, answers: Array<number | "hang">): void {
    this.#scripts.set(personId, [...answers]);
  }

  of(personId: string): Received[] {
    return this.received.filter((request) => request.body.personId === personId);
  }

  async stop(): Promise<void> {
    for (const response of this.#hanging) response.destroy();
    this.#server.closeAllConnections();
    this.#server.close();
  }
}

/** A clock that runs like the real one, shifted by however far a test has travelled. */
export class TravelClock implements Clock {
  #offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.#offsetMs);
  }
  travelTo(time: Date): void {
    this.#offsetMs = time.getTime() - Date.now();
  }
}

/** The reservation fields reservation's events carry, as a test sets them. */
export interface TestReservation {
  readonly reservationId: string;
  readonly personId: string;
  readonly hospitalId: string;
  readonly vaccineId: string;
  readonly date: string;
  readonly status?: ReservationStatus;
  readonly cancellationReason?: CancellationReason;
  readonly note?: string;
}

/** A booked reservation; each call makes a new one (a new id, a new person unless given). */
export function aReservation(overrides: Partial<TestReservation> = {}): TestReservation {
  return {
    reservationId: randomUUID(),
    personId: `person-${randomUUID().slice(0, 8)}`,
    hospitalId: "seoul-central",
    vaccineId: "vaccine-a",
    date: "2026-12-01",
    ...overrides,
  };
}

/** Reservation's events about one reservation, each with a new event id. */
export function eventsOf(reservation: TestReservation) {
  const id = reservation.reservationId;
  const as = (status: ReservationStatus, more: Partial<TestReservation> = {}) => ({
    reservation: {
      ...reservation,
      status,
      createdAt: timestampFromDate(new Date("2026-11-20T09:00:00.000Z")),
      updatedAt: timestampFromDate(new Date()),
      ...more,
    },
  });
  return {
    registered: () => envelope(ReservationRegisteredSchema, id, as(ReservationStatus.REGISTERED)),
    waitlistJoined: () => envelope(WaitlistJoinedSchema, id, as(ReservationStatus.WAITLISTED, { date: "" })),
    confirmed: () => envelope(ReservationConfirmedSchema, id, as(ReservationStatus.CONFIRMED)),
    rejected: (note = "") =>
      envelope(ReservationRejectedSchema, id, as(ReservationStatus.REJECTED, { note })),
    cancelled: (reason = CancellationReason.PERSON, note = "") =>
      envelope(
        ReservationCancelledSchema,
        id,
        as(ReservationStatus.CANCELLED, { cancellationReason: reason, note }),
      ),
    vaccinated: () => envelope(ReservationVaccinatedSchema, id, as(ReservationStatus.VACCINATED)),
    waitlistAlerted: (bookable: number) =>
      envelope(WaitlistAlertedSchema, id, {
        ...as(ReservationStatus.WAITLISTED, { date: "" }),
        bookable,
        alertedAt: timestampFromDate(new Date()),
      }),
  };
}
