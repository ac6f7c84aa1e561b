import {
  DELIVERED,
  type NotificationSender,
  type OutgoingMessage,
  permanentFailure,
  retryableFailure,
  type SendResult,
} from "@hexa/core/vaccination/notification";
import type { Logger } from "pino";
import { ConfigurationError, type Environment } from "../../runtime/config.ts";

/** Where notifications go: a log line each (the default), or an HTTP POST to a messenger's webhook. */
export type NotificationChannel =
  | { readonly kind: "log" }
  | { readonly kind: "webhook"; readonly url: string; readonly timeoutMs?: number | undefined };

/** How long the webhook may take to answer one message before the attempt counts as failed (retryable). */
export const WEBHOOK_TIMEOUT_MS = 5_000;

/** The channel NOTIFICATION_CHANNEL and NOTIFICATION_WEBHOOK_URL name. */
export function channelFromEnvironment(
  env: Pick<Environment, "NOTIFICATION_CHANNEL" | "NOTIFICATION_WEBHOOK_URL">,
): NotificationChannel {
  if (env.NOTIFICATION_CHANNEL === "log") return { kind: "log" };
  if (!env.NOTIFICATION_WEBHOOK_URL) {
    throw new ConfigurationError(["NOTIFICATION_WEBHOOK_URL: required when NOTIFICATION_CHANNEL is webhook"]);
  }
  return { kind: "webhook", url: env.NOTIFICATION_WEBHOOK_URL };
}

export function createSender(channel: NotificationChannel, logger: Logger): NotificationSender {
  switch (channel.kind) {
    case "log":
      return new LogSender(logger);
    case "webhook":
      return new WebhookSender({ url: channel.url, timeoutMs: channel.timeoutMs ?? WEBHOOK_TIMEOUT_MS });
  }
}

/** The message's kind as the API spells it (protobuf JSON of NotificationKind). */
export function kindName(kind: OutgoingMessage["kind"]): string {
  return `NOTIFICATION_KIND_${kind}`;
}

/** Writes each message as one JSON log line (pino) and counts it sent: the channel for a laptop. */
export class LogSender implements NotificationSender {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger.child({ channel: "log" });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    this.#logger.info({ notification: body(message) }, "notification sent");
    return DELIVERED;
  }
}

/**
 * POSTs each message as JSON `{notificationId, personId, kind, reservationId, text, createdAt}` to
 * a webhook (a KakaoTalk-style messenger's gateway), with an `Idempotency-Key` header of the
 * notification id: a message sent again after a crash can be recognised by the receiver.
 *
 * A 2xx answer is delivery. No answer within the timeout, no connection, a 5xx, 408 or 429 is a
 * retryable failure; any other answer (4xx: the receiver refuses this message) is permanent.
 */
export class WebhookSender implements NotificationSender {
  readonly #url: string;
  readonly #timeoutMs: number;

  constructor(options: { url: string; timeoutMs: number }) {
    this.#url = options.url;
    this.#timeoutMs = options.timeoutMs;
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    let response: Response;
    const signal = AbortSignal.timeout(this.#timeoutMs);
    try {
      response = await fetch(this.#url, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": message.notificationId },
        body: JSON.stringify(body(message)),
        redirect: "manual",
        signal,
      });
    } catch (error) {
      return retryableFailure(unreachable(error, this.#timeoutMs));
    }
    const answer = await response.text().then(
      (text) => text.trim().slice(0, 200),
      () => "",
    );
    const status = `webhook answered HTTP ${response.status}${answer ? `: ${answer}` : ""}`;
    if (response.status >= 200 && response.status < 300) return DELIVERED;
    if (response.status >= 500 || response.status === 408 || response.status === 429) {
      return retryableFailure(status);
    }
    return permanentFailure(status);
  }
}

function body(message: OutgoingMessage) {
  return {
    notificationId: message.notificationId,
    personId: message.personId,
    kind: kindName(message.kind),
    reservationId: message.reservationId,
    text: message.text,
    createdAt: message.createdAt.toISOString(),
  };
}

function unreachable(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return `webhook did not answer within ${timeoutMs} ms`;
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
  const reason = cause ?? (error instanceof Error ? error.message : String(error));
  return `webhook unreachable: ${reason}`;
}
