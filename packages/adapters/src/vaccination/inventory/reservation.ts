import { ConnectError } from "@connectrpc/connect";
import type { OutstandingReservations } from "@hexa/core/vaccination/inventory";
import { ReservationService } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { type CallSettings, serviceClient } from "../../resilience/service-client.ts";
import type { ServiceRuntime } from "../../runtime/service-module.ts";

/**
 * How the hold-expiry job asks reservation's GetOutstandingReservations: a 2 s deadline per attempt;
 * up to 3 attempts, all within 4 s (less than a round of the job, 5 s); a breaker that opens after 5
 * failures in a row and lets a trial call through after 10 s, so a reservation that is down costs
 * one quick refusal a round.
 */
export const RESERVATION_CALL: CallSettings = {
  timeoutMs: 2_000,
  budgetMs: 4_000,
  retry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 1_000 },
  breaker: { consecutiveFailures: 5, halfOpenAfterMs: 10_000 },
};

/**
 * Reservation's answer to which reservations it holds, through a cockatiel policy (timeout, retries,
 * breaker): one client and one breaker for everything this module instance asks. Anything but an
 * answer (reservation down, timing out, the breaker open, the budget spent, even a refusal) is
 * `answered: false`: a hold is released only on reservation's word that it holds no such reservation.
 */
export function reservationsAsked(runtime: ServiceRuntime, settings: CallSettings): OutstandingReservations {
  const { policy, client } = serviceClient(runtime, "reservation", ReservationService, settings, {
    idempotent: ["getOutstandingReservations"],
  });
  return {
    async among(reservationIds) {
      const budget = AbortSignal.timeout(settings.budgetMs);
      try {
        const answer = await client().getOutstandingReservations(
          { reservationIds: [...reservationIds] },
          { signal: budget },
        );
        return { answered: true, outstanding: new Set(answer.reservationIds) };
      } catch (error) {
        const why = budget.aborted
          ? `reservation gave no answer within ${settings.budgetMs} ms`
          : ConnectError.from(error).message;
        runtime.logger.warn(
          { asked: reservationIds.length, error: why, breaker: policy.state },
          "reservation did not say which lapsed holds it holds; none released this round",
        );
        return { answered: false, error: why };
      }
    },
  };
}
