// Composition root of the notification service: messages to people on every change of their
// reservation, waitlist alerts and reminders the day before. Needs DATABASE_URL and NATS_URL;
// NOTIFICATION_CHANNEL (log or webhook) and NOTIFICATION_WEBHOOK_URL choose where messages go.
import { runApp } from "@hexa/adapters/runtime/app";
import { notificationModule } from "@hexa/adapters/vaccination/notification/module";

await runApp({ name: "notification", modules: [notificationModule], allInOne: false });
