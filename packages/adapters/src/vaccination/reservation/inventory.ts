import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import type { BookingSlot, BookingSlots, SlotAnswer } from "@hexa/core/vaccination/reservation";
import {
  InventoryService,
  TakeBookingSlotResponse_Outcome,
} from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { Admission, type AdmissionLimits } from "../../connect/admission.ts";
import { isUnavailable } from "../../resilience/policy.ts";
import { type CallSettings, serviceClient } from "../../resilience/service-client.ts";
import type { ServiceRuntime } from "../../runtime/service-module.ts";

/**
 * How Reserve calls inventory's TakeBookingSlot. Reserve answers within about the budget.
 * TakeBookingSlot is idempotent by reservation id, so failed attempts are retried within it.
 */
export interface InventoryCallSettings extends CallSettings {
  /**
   * Booking calls in flight at once from this process (a bulkhead); the others wait their turn
   * before their budget starts, so a burst of Reserves queues here instead of timing out at
   * inventory. Beyond the queue, or after the wait, the waitlist is offered (INVENTORY_UNAVAILABLE).
   */
  readonly concurrency: AdmissionLimits;
}

/**
 * A 5 s deadline per attempt; up to 3 attempts, all within 6 s (so a hanging inventory gets one
 * full attempt, and a refused connection a few quick ones; a busy one on launch day the time to
 * answer a turn of bookings); a breaker that opens after 5 failures in a row and lets a trial call
 * through after 10 s; 32 calls at once, up to 1,024 waiting up to 20 s.
 */
export const INVENTORY_CALL: InventoryCallSettings = {
  timeoutMs: 5_000,
  budgetMs: 6_000,
  retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 400 },
  breaker: { consecutiveFailures: 5, halfOpenAfterMs: 10_000 },
  concurrency: { maxInFlight: 32, maxQueued: 1_024, maxWaitMs: 20_000 },
};

/**
 * The reason a booking call's signal is aborted with once it has ended, built once: an abort without
 * a reason builds an AbortError, with its stack, every time.
 */
const BOOKING_ENDED = new DOMException("the booking call ended", "AbortError");

/** Per call: set once a request for it left for inventory (an open breaker sends none). */
const SENT = createContextKey<{ sent: boolean } | undefined>(undefined, {
  description: "booking request sent",
});

const markSent: Interceptor = (next) => async (request) => {
  const mark = request.contextValues.get(SENT);
  if (mark) mark.sent = true;
  return next(request);
};

/**
 * Inventory's booking call through a cockatiel policy (timeout, retries, breaker): one client and
 * one breaker for everything this module instance books. Business outcomes are answers; inventory's
 * refusals (e.g. an unknown hospital) are thrown as the Connect errors they are; anything else —
 * timeout, transport failure, open breaker, the budget spent, an outcome this version does not
 * know — is UNAVAILABLE.
 */
export function inventoryBookingSlots(
  runtime: ServiceRuntime,
  settings: InventoryCallSettings,
): BookingSlots & { take(slot: BookingSlot, caller?: AbortSignal): Promise<SlotAnswer> } {
  const { policy, client: inventory } = serviceClient(runtime, "inventory", InventoryService, settings, {
    idempotent: ["takeBookingSlot"],
    interceptors: [markSent],
  });
  const turns = new Admission(settings.concurrency);
  const budgetSpent = `inventory gave no answer within ${settings.budgetMs} ms`;

  const unavailable = (slot: BookingSlot, sent: boolean, error: string): SlotAnswer => {
    runtime.logger.warn(
      { reservationId: slot.reservationId, hospitalId: slot.hospitalId, sent, error, breaker: policy.state },
      "inventory did not answer the booking",
    );
    return { outcome: "UNAVAILABLE", mayHaveReached: sent, error };
  };

  return {
    /**
     * `caller` is the Reserve call's signal: when it is cancelled or its deadline passes, the
     * booking call stops too, and is treated like one inventory did not answer (abandoned).
     */
    async take(slot: BookingSlot, caller?: AbortSignal) {
      // Aborted when the budget is spent or the booking call ends; either hands its turn on.
      const booking = new AbortController();
      const signal = caller ? AbortSignal.any([booking.signal, caller]) : booking.signal;
      try {
        await turns.enter(signal);
      } catch (error) {
        return unavailable(slot, false, `no turn for the booking call: ${ConnectError.from(error).message}`);
      }
      const budget = setTimeout(
        () => booking.abort(new ConnectError(budgetSpent, Code.DeadlineExceeded)),
        settings.budgetMs,
      );
      try {
        return await call(slot, signal, booking.signal, caller);
      } finally {
        clearTimeout(budget);
        booking.abort(BOOKING_ENDED);
      }
    },
  };

  /** `budget` aborts when the call's budget is spent, `signal` then or when `caller` aborts. */
  async function call(
    slot: BookingSlot,
    signal: AbortSignal,
    budget: AbortSignal,
    caller?: AbortSignal,
  ): Promise<SlotAnswer> {
    const attempt = { sent: false };
    let outcome: TakeBookingSlotResponse_Outcome;
    try {
      ({ outcome } = await inventory().takeBookingSlot(slot, {
        signal,
        contextValues: createContextValues().set(SENT, attempt),
      }));
    } catch (error) {
      if (!budget.aborted && !caller?.aborted && !isUnavailable(error)) throw error;
      const why = caller?.aborted
        ? "the Reserve call was cancelled or ran out of time"
        : budget.aborted
          ? budgetSpent
          : error instanceof Error
            ? error.message
            : String(error);
      return unavailable(slot, attempt.sent, why);
    }
    switch (outcome) {
      case TakeBookingSlotResponse_Outcome.BOOKED:
        return { outcome: "BOOKED" };
      case TakeBookingSlotResponse_Outcome.NO_DOSES:
        return { outcome: "NO_DOSES" };
      case TakeBookingSlotResponse_Outcome.DATE_FULL:
        return { outcome: "DATE_FULL" };
      default:
        // An answer this version cannot read: inventory may hold a slot, so the attempt is abandoned.
        return unavailable(slot, true, `inventory answered the unknown outcome ${outcome}`);
    }
  }
}
