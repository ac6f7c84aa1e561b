import type { DescMessage } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { notificationModule } from "@hexa/adapters/vaccination/notification/module";
import { reservationModule } from "@hexa/adapters/vaccination/reservation/module";
import {
  NotificationKind,
  NotificationService,
} from "@hexa/proto/vaccination/notification/v1/notification_pb";
import {
  ReservationCancelledSchema,
  ReservationConfirmedSchema,
  ReservationRegisteredSchema,
  ReservationRejectedSchema,
  ReservationVaccinatedSchema,
  WaitlistAlertedSchema,
  WaitlistJoinedSchema,
} from "@hexa/proto/vaccination/reservation/v1/events_pb";
import type { PactV4 } from "@pact-foundation/pact";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerPact, EXAMPLE_TIME, exampleId, receivesEvent } from "../../src/consumer.ts";
import { type RunningContext, startContext } from "../../src/context.ts";
import { anyDay, anyInteger, anyText, anyUuid } from "../../src/messages.ts";

/**
 * Notification tells a person of every change of their reservation: each of reservation's events
 * becomes one message. Each example message goes to the consumer notification's policies
 * subscribed (inbox included, on a real database); the message is read back through
 * ListNotifications, and its text tells which fields notification read.
 */
interface Case {
  readonly schema: DescMessage;
  /** The reservation's fields notification reads besides its ids. */
  readonly reservation: Readonly<Record<string, unknown>>;
  /** Fields of the event besides the reservation. */
  readonly extra?: Readonly<Record<string, unknown>>;
  readonly kind: NotificationKind;
  /** What the message says, given the example's hospital id. */
  readonly text: (hospitalId: string) => string;
}

const DAY = "2030-06-03";
const day = { date: anyDay(DAY) };

const cases: readonly Case[] = [
  {
    schema: ReservationRegisteredSchema,
    reservation: day,
    kind: NotificationKind.RESERVATION_REGISTERED,
    text: (hospital) => `Your vaccination on ${DAY} at hospital ${hospital} is booked`,
  },
  {
    schema: WaitlistJoinedSchema,
    reservation: {},
    kind: NotificationKind.WAITLIST_JOINED,
    text: (hospital) => `You are on the waitlist for vaccine ${exampleId(0xaff)} at hospital ${hospital}.`,
  },
  {
    schema: ReservationConfirmedSchema,
    reservation: day,
    kind: NotificationKind.RESERVATION_CONFIRMED,
    text: (hospital) => `Your vaccination on ${DAY} at hospital ${hospital} is confirmed.`,
  },
  {
    schema: ReservationRejectedSchema,
    reservation: { ...day, note: anyText("the hospital is closed that day") },
    kind: NotificationKind.RESERVATION_REJECTED,
    text: () => "was not accepted by the reservation manager. Note: the hospital is closed that day",
  },
  {
    schema: ReservationCancelledSchema,
    reservation: { ...day, cancellationReason: "CANCELLATION_REASON_PERSON" },
    kind: NotificationKind.RESERVATION_CANCELLED,
    text: (hospital) => `Your vaccination on ${DAY} at hospital ${hospital} was cancelled at your request.`,
  },
  {
    schema: ReservationVaccinatedSchema,
    reservation: day,
    kind: NotificationKind.RESERVATION_VACCINATED,
    text: (hospital) => `Your vaccination on ${DAY} at hospital ${hospital} is recorded as done.`,
  },
  {
    schema: WaitlistAlertedSchema,
    reservation: {},
    extra: { bookable: anyInteger(3) },
    kind: NotificationKind.WAITLIST_ALERT,
    text: (hospital) => `can be booked again at hospital ${hospital} (3 available)`,
  },
];

describe(`${notificationModule.name} consumes events`, () => {
  let notification: RunningContext;
  let inbox: Client<typeof NotificationService>;
  let fromReservation: PactV4;

  beforeAll(async () => {
    notification = await startContext([notificationModule]);
    inbox = notification.client(NotificationService);
    fromReservation = consumerPact(notificationModule.name, reservationModule.name);
  });

  afterAll(async () => {
    await notification?.stop();
  });

  for (const [index, { schema, reservation, extra, kind, text }] of cases.entries()) {
    it(`from ${reservationModule.name}, ${schema.name}: tells the person`, async () => {
      const reservationId = exampleId(0xa01 + index);
      const hospitalId = exampleId(0xa81 + index);
      const personId = `person-${index + 1}`;
      await receivesEvent(
        fromReservation,
        {
          schema,
          eventId: exampleId(0xa1 + index),
          aggregateId: reservationId,
          occurredAt: EXAMPLE_TIME,
          body: {
            reservation: {
              reservationId: anyUuid(reservationId),
              personId: anyText(personId),
              hospitalId: anyUuid(hospitalId),
              vaccineId: anyUuid(exampleId(0xaff)),
              ...reservation,
            },
            ...extra,
          },
        },
        async (event) => {
          await notification.consumer(schema.typeName).handle(event);
          const { notifications } = await inbox.listNotifications({ personId });
          expect(notifications).toHaveLength(1);
          expect(notifications[0]).toMatchObject({ personId, reservationId, kind });
          expect(notifications[0]?.text).toContain(text(hospitalId));
        },
      );
    });
  }
});
