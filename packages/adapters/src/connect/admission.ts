import { Code, ConnectError } from "@connectrpc/connect";

/** The message of a call refused because the server is at its in-flight bound and its queue is full. */
export const SERVER_BUSY_MESSAGE = "server busy, retry later";

export interface AdmissionLimits {
  /** Calls handled at once. */
  readonly maxInFlight: number;
  /** Calls waiting for a slot, first come first served; one more is refused at once. */
  readonly maxQueued: number;
  /** How long a call may wait for a slot before it is refused. */
  readonly maxWaitMs: number;
}

interface Waiter {
  readonly admit: () => void;
  readonly refuse: (error: ConnectError) => void;
}

/**
 * One lane of admission: at most `maxInFlight` calls at once, then up to `maxQueued` waiting in
 * arrival order for at most `maxWaitMs`; anything beyond is refused with RESOURCE_EXHAUSTED. A call
 * holds its slot until its signal aborts (answered, cancelled or timed out), which hands the slot to
 * the oldest waiter. A waiter whose caller gives up leaves the queue.
 */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #queue = new Set<Waiter>();
  #inFlight = 0;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  /** Resolves once the call holds a slot, freed when `signal` aborts; rejects when it is refused. */
  async enter(signal: AbortSignal): Promise<void> {
    if (this.#inFlight < this.#limits.maxInFlight && this.#queue.size === 0) {
      this.#hold(signal);
      return;
    }
    if (this.#queue.size >= this.#limits.maxQueued || signal.aborted) throw busy();
    await new Promise<void>((admitted, refused) => {
      const leave = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", gaveUp);
        this.#queue.delete(waiter);
      };
      const gaveUp = () => {
        leave();
        refused(ConnectError.from(signal.reason ?? busy()));
      };
      const waiter: Waiter = {
        admit: () => {
          leave();
          this.#hold(signal);
          admitted();
        },
        refuse: (error) => {
          leave();
          refused(error);
        },
      };
      const timer = setTimeout(() => waiter.refuse(busy()), this.#limits.maxWaitMs);
      signal.addEventListener("abort", gaveUp, { once: true });
      this.#queue.add(waiter);
    });
  }

  #hold(signal: AbortSignal): void {
    this.#inFlight++;
    signal.addEventListener(
      "abort",
      () => {
        this.#inFlight--;
        const [next] = this.#queue;
        next?.admit();
      },
      { once: true },
    );
  }
}

function busy(): ConnectError {
  return new ConnectError(SERVER_BUSY_MESSAGE, Code.ResourceExhausted);
}
