import { createHash } from "node:crypto";

/**
 * Names the JetStream bus derives from the contract's names: the dead-letter stream and its
 * subjects, and durable consumer names. Event streams and subjects come from `streamOf` and
 * `subjectOf` in ../messaging/bus.ts; the namespace rule here is the same (subjects get `<ns>.`,
 * stream names get `<NS>_` with every character other than A-Z and 0-9 turned into `_`).
 */

const subjectTokens = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Refuses an event type that cannot be a NATS subject as it is (a proto full name always can:
 * letters, digits, `_`, and dots between at least `<suite>.<context>`).
 */
export function assertEventType(eventType: string): void {
  if (!subjectTokens.test(eventType) || !eventType.includes(".")) {
    throw new Error(
      `event type ${JSON.stringify(eventType)} is not a proto full name usable as a NATS subject`,
    );
  }
}

/** Refuses a namespace that cannot prefix subjects: dot-separated tokens of letters, digits, `_`, `-`. */
export function assertNamespace(namespace: string): void {
  if (namespace !== "" && !subjectTokens.test(namespace)) {
    throw new Error(
      `bus namespace ${JSON.stringify(namespace)} must be dot-separated letters, digits, "_" or "-"`,
    );
  }
}

function subjectPrefix(namespace: string): string {
  return namespace ? `${namespace}.` : "";
}

/** What the names of a namespace's streams start with: `<NS>_`, or nothing without a namespace. */
export function streamPrefix(namespace: string): string {
  return namespace ? `${namespace.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_` : "";
}

/** The stream that keeps dead letters: `<NS_>DEAD_LETTERS` on `<ns.>deadletter.>`. */
export function deadLetterStreamOf(namespace = ""): { stream: string; subjects: string } {
  return {
    stream: `${streamPrefix(namespace)}DEAD_LETTERS`,
    subjects: `${subjectPrefix(namespace)}deadletter.>`,
  };
}

/** The subject a consumer's dead letters are stored on: `<ns.>deadletter.<durable>`. */
export function deadLetterSubjectOf(durable: string, namespace = ""): string {
  return `${subjectPrefix(namespace)}deadletter.${durable}`;
}

const validDurable = /^[A-Za-z0-9_-]+$/;
const maxDurableLength = 100;

/**
 * The durable consumer name for a consumer name (`<service>-<policy>`).
 *
 * A name made of letters, digits, `-` and `_` (at most 100 characters) is used as it is, so
 * operators see the policy's own name in `nats consumer ls`. Any other name has each other
 * character replaced by `_` and gets a short hash of the original appended, so two names that
 * differ only in those characters (`a.b` and `a_b`) never share a durable consumer by accident.
 * The result is also a valid subject token (no `.`, `*`, `>` or whitespace).
 */
export function durableNameOf(consumerName: string): string {
  if (consumerName.length === 0) throw new Error("a consumer needs a non-empty name");
  if (validDurable.test(consumerName) && consumerName.length <= maxDurableLength) return consumerName;
  const hash = createHash("sha256").update(consumerName).digest("hex").slice(0, 8);
  const readable = consumerName.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, maxDurableLength - hash.length - 1);
  return `${readable}_${hash}`;
}
