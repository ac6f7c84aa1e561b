/**
 * The notification service as deployed: apps/notification started as a process, configured only by
 * its environment (NOTIFICATION_CHANNEL=webhook), taking reservation's events from NATS JetStream.
 */
import { connectJetStreamBus, type JetStreamBus } from "@hexa/adapters/jetstream/bus";
import { DeliveryState, NotificationService } from "@hexa/proto/vaccination/notification/v1/notification_pb";
import {
  connectJsonClient,
  createTestDatabase,
  describeWithNats,
  eventually,
  freePort,
  natsUrl,
  type RunningApp,
  startApp,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { aReservation, eventsOf, Receiver } from "./support.ts";

describeWithNats("the notification service on its own, with NATS", () => {
  const namespace = uniqueNamespace();
  const receiver = new Receiver();
  let database: TestDatabase;
  let app: RunningApp;
  let bus: JetStreamBus;
  beforeAll(async () => {
    database = await createTestDatabase();
    const webhook = await receiver.start();
    app = await startApp("notification", {
      PORT: String(await freePort()),
      DATABASE_URL: database.url,
      NATS_URL: natsUrl(),
      BUS_NAMESPACE: namespace,
      NOTIFICATION_CHANNEL: "webhook",
      NOTIFICATION_WEBHOOK_URL: webhook,
    });
    bus = await connectJetStreamBus({
      url: natsUrl(),
      namespace,
      logger: pino({ level: "silent" }),
      name: "reservation-stand-in",
    });
  });
  afterAll(async () => {
    await bus?.close();
    if (app) expect(await app.stop()).toBe(0);
    await receiver.stop();
    await database?.drop();
  });

  it("sends a notification to the webhook for a reservation event it takes from the bus", async () => {
    const reservation = aReservation();
    await bus.publish(eventsOf(reservation).confirmed());
    const [request] = await eventually(async () => {
      const requests = receiver.of(reservation.personId);
      expect(requests).toHaveLength(1);
      return requests;
    });
    expect(request?.body).toMatchObject({
      personId: reservation.personId,
      reservationId: reservation.reservationId,
      kind: "NOTIFICATION_KIND_RESERVATION_CONFIRMED",
      text: "Your vaccination on 2026-12-01 at hospital seoul-central is confirmed.",
    });
    const client = connectJsonClient(NotificationService, app.url);
    await eventually(async () => {
      const { notifications } = await client.listNotifications({ personId: reservation.personId });
      expect(notifications.map((n) => [n.notificationId, n.delivery])).toEqual([
        [request?.body.notificationId, DeliveryState.SENT],
      ]);
    });
  });
});
