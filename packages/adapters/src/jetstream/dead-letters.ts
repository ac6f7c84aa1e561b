import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import type { DeadLetter, DeadLetters } from "../messaging/bus.ts";
import { Headers } from "../messaging/bus.ts";
import {
  copyHeaders,
  DeadLetterHeaders,
  envelopeAsFarAsKnown,
  envelopeOf,
  MalformedEventError,
} from "./envelope.ts";

/** `replay` was given an id that names no dead letter. */
export class DeadLetterNotFoundError extends Error {
  override readonly name = "DeadLetterNotFoundError";
  readonly id: string;
  constructor(id: string) {
    super(`no dead letter with id ${JSON.stringify(id)}`);
    this.id = id;
  }
}

/** `replay` was given a dead letter that carries no event envelope: replayed, it would only be dead-lettered again. */
export class DeadLetterNotReplayableError extends Error {
  override readonly name = "DeadLetterNotReplayableError";
}

export interface DeadLetterStore {
  readonly jsm: JetStreamManager;
  /** The dead-letter stream and its subject filter (`<ns.>deadletter.>`). */
  readonly stream: string;
  readonly subjects: string;
  /** Makes sure the dead-letter stream exists (cached after the first success). */
  readonly ready: () => Promise<void>;
  /** Publishes to a subject and waits for the stream's acknowledgement. */
  readonly republish: (subject: string, body: Uint8Array, headers: MsgHdrs, msgId: string) => Promise<void>;
}

/**
 * Dead letters kept in a JetStream stream, one message per dead letter, its id the stream sequence.
 * Reading uses JetStream's direct get (no consumer is created, none is left behind).
 */
export class JetStreamDeadLetters implements DeadLetters {
  readonly #store: DeadLetterStore;

  constructor(store: DeadLetterStore) {
    this.#store = store;
  }

  /** Every dead letter, oldest first. */
  async list(): Promise<DeadLetter[]> {
    const { jsm, stream, subjects, ready } = this.#store;
    await ready();
    const letters: DeadLetter[] = [];
    let seq = 1;
    for (;;) {
      const stored = await jsm.direct.getMessage(stream, { seq, next_by_subj: subjects });
      if (!stored) return letters;
      letters.push(deadLetterOf(stored));
      seq = stored.seq + 1;
    }
  }

  /**
   * Publishes the event again on its original subject, so every consumer of that subject receives it
   * (consumers that had handled it skip it through their inbox), then deletes the dead letter. The
   * republished message keeps its `Hexa-Event-Id` but gets the fresh `Nats-Msg-Id`
   * `replay-<seq>-<event id>`, which the stream's duplicate window has not seen; replaying the same
   * dead letter twice within that window (e.g. after a failed delete) publishes it only once.
   */
  async replay(id: string): Promise<void> {
    const { jsm, stream, ready, republish } = this.#store;
    const seq = /^[1-9][0-9]*$/.test(id) ? Number(id) : Number.NaN;
    if (!Number.isSafeInteger(seq)) throw new DeadLetterNotFoundError(id);
    await ready();
    const stored = await jsm.streams.getMessage(stream, { seq });
    const subject = stored?.header?.get(DeadLetterHeaders.subject) ?? "";
    if (!stored || subject === "") throw new DeadLetterNotFoundError(id);
    try {
      envelopeOf(stored.header, stored.data);
    } catch (error) {
      if (!(error instanceof MalformedEventError)) throw error;
      throw new DeadLetterNotReplayableError(
        `dead letter ${id} carries no event envelope (${error.message}); replayed, it would be dead-lettered again, so it is kept as it is`,
      );
    }
    const eventId = stored.header.get(Headers.eventId);
    const headers = copyHeaders(stored.header, Object.values(DeadLetterHeaders));
    await republish(subject, stored.data, headers, eventId ? `replay-${seq}-${eventId}` : `replay-${seq}`);
    try {
      await jsm.streams.deleteMessage(stream, seq, false);
    } catch (error) {
      // A concurrent replay of the same dead letter may have deleted it first (its publish was
      // deduplicated): that is success. The server's error codes for it vary, so look.
      if ((await jsm.streams.getMessage(stream, { seq })) !== null) throw error;
    }
  }
}

function deadLetterOf(stored: StoredMsg): DeadLetter {
  const header = (name: string) => stored.header?.get(name) ?? "";
  const attempts = Number.parseInt(header(DeadLetterHeaders.attempts), 10);
  return {
    id: String(stored.seq),
    consumer: header(DeadLetterHeaders.consumer),
    event: envelopeAsFarAsKnown(stored.header, stored.data),
    error: header(DeadLetterHeaders.error),
    attempts: Number.isFinite(attempts) ? attempts : 0,
    failedAt: header(DeadLetterHeaders.at) || stored.time.toISOString(),
  };
}
