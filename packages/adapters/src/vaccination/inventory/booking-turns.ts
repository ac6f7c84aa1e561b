import type { BookingAnswer, SlotRequest } from "@hexa/core/vaccination/inventory";

/** Most booking calls of one stock handled in one unit of work. */
const MOST_PER_TURN = 64;

interface Waiting {
  readonly request: SlotRequest;
  readonly answered: (answer: BookingAnswer) => void;
  readonly failed: (error: unknown) => void;
}

/**
 * Booking calls of one stock take turns in this process: while a unit of work books for a stock,
 * the calls for it that arrive wait, and the next turn books all of them (up to 64) together. A
 * burst then takes the stock's row lock once per turn instead of once per call, and the calls
 * waiting hold no database connection. Other processes' calls still serialize on the row lock.
 */
export class BookingTurns {
  readonly #book: (requests: readonly SlotRequest[]) => Promise<BookingAnswer[]>;
  readonly #waiting = new Map<string, Waiting[]>();

  /** `book` answers the requests of one stock in one unit of work, in order. */
  constructor(book: (requests: readonly SlotRequest[]) => Promise<BookingAnswer[]>) {
    this.#book = book;
  }

  take(request: SlotRequest): Promise<BookingAnswer> {
    const stock = `${request.hospitalId}/${request.vaccineId}`;
    return new Promise((answered, failed) => {
      const queue = this.#waiting.get(stock);
      if (queue) {
        queue.push({ request, answered, failed });
        return;
      }
      this.#waiting.set(stock, [{ request, answered, failed }]);
      void this.#turns(stock);
    });
  }

  async #turns(stock: string): Promise<void> {
    for (;;) {
      const queue = this.#waiting.get(stock) ?? [];
      const turn = queue.splice(0, MOST_PER_TURN);
      if (turn.length === 0) {
        this.#waiting.delete(stock);
        return;
      }
      try {
        const answers = await this.#book(turn.map((waiting) => waiting.request));
        turn.forEach((waiting, i) => {
          const answer = answers[i];
          if (answer) waiting.answered(answer);
          else waiting.failed(new Error("the turn gave no answer for a booking call"));
        });
      } catch (error) {
        for (const waiting of turn) waiting.failed(error);
      }
    }
  }
}
