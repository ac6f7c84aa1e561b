import { type EventContext, requireText } from "../../shared/index.ts";
import { requirePersonId } from "./reservation-change.ts";

/** What a notification is about; the one list of them (the table's CHECK and the wire form derive from it). */
export const NOTIFICATION_KINDS = [
  "RESERVATION_REGISTERED",
  "RESERVATION_CONFIRMED",
  "RESERVATION_REJECTED",
  "RESERVATION_CANCELLED",
  "RESERVATION_VACCINATED",
  "WAITLIST_JOINED",
  "WAITLIST_ALERT",
  "APPOINTMENT_REMINDER",
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** PENDING: waiting to be sent, or to be tried again. SENT: the channel took it. FAILED: a dead letter. */
export const DELIVERY_STATES = ["PENDING", "SENT", "FAILED"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface NotificationState {
  readonly notificationId: string;
  readonly personId: string;
  readonly kind: NotificationKind;
  /** The reservation it is about. */
  readonly reservationId: string;
  /** The message as the person reads it. */
  readonly text: string;
  readonly delivery: DeliveryState;
  /** Sending attempts made so far. */
  readonly attempts: number;
  readonly createdAt: Date;
  /** When it last changed (created, an attempt failed, sent, given up). */
  readonly updatedAt: Date;
  readonly sentAt?: Date | undefined;
  /** While PENDING: the earliest time of the next attempt. */
  readonly nextAttemptAt?: Date | undefined;
  /** Why the last attempt failed. */
  readonly lastError?: string | undefined;
  /** 1 when created, one more at every change: tells a newer state from one already seen. */
  readonly version: number;
}

/** What a channel needs to send one notification. */
export interface OutgoingMessage {
  readonly notificationId: string;
  readonly personId: string;
  readonly kind: NotificationKind;
  readonly reservationId: string;
  readonly text: string;
  readonly createdAt: Date;
}

/**
 * How a channel answered: delivered, or a failure that is worth another attempt later
 * (retryable: the channel is down, slow or overloaded) or not (permanent: it refused the message).
 */
export type SendResult =
  | { readonly delivered: true }
  | { readonly delivered: false; readonly retryable: boolean; readonly reason: string };

export const DELIVERED: SendResult = { delivered: true };

export function retryableFailure(reason: string): SendResult {
  return { delivered: false, retryable: true, reason };
}

export function permanentFailure(reason: string): SendResult {
  return { delivered: false, retryable: false, reason };
}

/** How many attempts a notification gets, and how long to wait after each failed one. */
export interface RetrySchedule {
  readonly maxAttempts: number;
  /** The wait before the next attempt after `failedAttempts` failures (1 after the first). */
  delayMs(failedAttempts: number): number;
}

/** Waits that double: `firstMs`, 2 × `firstMs`, 4 × `firstMs`, … never more than `maxMs`. */
export function exponentialBackoff(options: {
  maxAttempts: number;
  firstMs: number;
  maxMs: number;
}): RetrySchedule {
  return {
    maxAttempts: options.maxAttempts,
    delayMs: (failedAttempts) =>
      Math.min(options.firstMs * 2 ** Math.max(failedAttempts - 1, 0), options.maxMs),
  };
}

/** 8 attempts over about two minutes: waits of 1 s, 2 s, 4 s, 8 s, 16 s, 32 s, 60 s. */
export const DEFAULT_RETRY: RetrySchedule = exponentialBackoff({
  maxAttempts: 8,
  firstMs: 1_000,
  maxMs: 60_000,
});

const MAX_TEXT = 1_000;
const MAX_ERROR = 500;

/**
 * A message to a person, kept with its delivery: PENDING -> SENT, or PENDING -> FAILED once every
 * attempt failed or the channel refused it for good. SENT and FAILED are final.
 */
export class Notification {
  #state: NotificationState;

  private constructor(state: NotificationState) {
    this.#state = state;
  }

  /** A new PENDING notification, due to be sent at once. */
  static compose(
    input: { personId: string; kind: NotificationKind; reservationId: string; text: string },
    context: EventContext,
  ): Notification {
    const now = context.clock.now();
    return new Notification({
      notificationId: context.ids.next(),
      personId: requirePersonId(input.personId),
      kind: input.kind,
      reservationId: requireText("reservationId", input.reservationId, 64),
      text: requireText("text", input.text, MAX_TEXT),
      delivery: "PENDING",
      attempts: 0,
      createdAt: now,
      updatedAt: now,
      nextAttemptAt: now,
      version: 1,
    });
  }

  static restore(state: NotificationState): Notification {
    return new Notification(state);
  }

  get id(): string {
    return this.#state.notificationId;
  }

  get state(): NotificationState {
    return this.#state;
  }

  get message(): OutgoingMessage {
    const { notificationId, personId, kind, reservationId, text, createdAt } = this.#state;
    return { notificationId, personId, kind, reservationId, text, createdAt };
  }

  /**
   * Records the outcome of one attempt. Returns false, changing nothing, when the notification is
   * no longer PENDING (another replica already recorded its outcome).
   */
  attempted(result: SendResult, retry: RetrySchedule, context: EventContext): boolean {
    if (this.#state.delivery !== "PENDING") return false;
    const now = context.clock.now();
    const attempts = this.#state.attempts + 1;
    const changed = { attempts, updatedAt: now, version: this.#state.version + 1 };
    if (result.delivered) {
      this.#state = {
        ...this.#state,
        ...changed,
        delivery: "SENT",
        sentAt: now,
        nextAttemptAt: undefined,
        lastError: undefined,
      };
      return true;
    }
    const lastError = result.reason.slice(0, MAX_ERROR);
    const givingUp = !result.retryable || attempts >= retry.maxAttempts;
    this.#state = {
      ...this.#state,
      ...changed,
      lastError,
      delivery: givingUp ? "FAILED" : "PENDING",
      nextAttemptAt: givingUp ? undefined : new Date(now.getTime() + retry.delayMs(attempts)),
    };
    return true;
  }
}
