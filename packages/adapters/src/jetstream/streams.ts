import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import { streamPrefix } from "./names.ts";

/** What the bus needs of a stream; anything else an operator set on it is left alone. */
export interface StreamSpec {
  readonly name: string;
  /** The one subject filter the bus publishes under, e.g. `trial.marketing.>`. */
  readonly subjects: string;
  readonly duplicateWindowMs: number;
}

/**
 * Creates the stream, or brings an existing one up to the spec (adds the subject, sets the duplicate
 * window, enables direct reads). Safe when several processes do it at once: creating with an
 * identical configuration is a no-op on the server, a lost creation race falls back to reading the
 * winner's stream (and updating it if needed), and the update is idempotent.
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(spec.name)).config;
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    try {
      await jsm.streams.add({
        name: spec.name,
        subjects: [spec.subjects],
        storage: StorageType.File,
        duplicate_window: nanos(spec.duplicateWindowMs),
        allow_direct: true,
      });
      return;
    } catch (addError) {
      // Lost a creation race? The server answers "name already in use" or, while the winner is still
      // being set up, "subjects overlap". Either way the stream exists now, or the error stands.
      try {
        existing = (await jsm.streams.info(spec.name)).config;
      } catch {
        throw addError;
      }
    }
  }
  const subjects = existing.subjects ?? [];
  const wantedWindow = nanos(spec.duplicateWindowMs);
  if (subjects.includes(spec.subjects) && existing.duplicate_window === wantedWindow && existing.allow_direct)
    return;
  await jsm.streams.update(spec.name, {
    ...existing,
    subjects: subjects.includes(spec.subjects) ? subjects : [...subjects, spec.subjects],
    duplicate_window: wantedWindow,
    allow_direct: true,
  });
}

/** What the bus needs of a durable pull consumer. */
export interface DurableSpec {
  readonly stream: string;
  readonly durable: string;
  readonly filterSubject: string;
  /** Deliveries the server makes at most (see subscription.ts for why it is one more than the policy's). */
  readonly maxDeliver: number;
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
}

/**
 * Creates the durable pull consumer, or updates the settings that may change (max deliveries, ack
 * wait, max ack pending) on an existing one. Replicas and restarts of the same policy all land here
 * with the same spec, which the server treats as a no-op. An existing durable of the same name that
 * reacts to another subject, or is not an explicit-ack pull consumer, is an error: two policies
 * must not share a name, and NATS 2.9 cannot change a consumer's filter subject.
 */
export async function ensureDurable(jsm: JetStreamManager, spec: DurableSpec): Promise<ConsumerInfo> {
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: spec.filterSubject,
    max_deliver: spec.maxDeliver,
    ack_wait: nanos(spec.ackWaitMs),
    max_ack_pending: spec.maxAckPending,
  };
  let existing: ConsumerInfo;
  try {
    existing = await jsm.consumers.info(spec.stream, spec.durable);
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    try {
      return await jsm.consumers.add(spec.stream, config);
    } catch (addError) {
      // Another replica may have created it first, with settings of its own.
      try {
        existing = await jsm.consumers.info(spec.stream, spec.durable);
      } catch {
        throw addError;
      }
    }
  }
  const current = existing.config;
  if (
    current.filter_subject !== spec.filterSubject ||
    current.deliver_subject ||
    current.ack_policy !== AckPolicy.Explicit
  ) {
    throw new Error(
      `durable consumer "${spec.durable}" on stream ${spec.stream} already exists for subject ` +
        `"${current.filter_subject ?? ""}"${current.deliver_subject ? " as a push consumer" : ""}; ` +
        `it cannot also serve "${spec.filterSubject}". Give each policy its own consumer name.`,
    );
  }
  if (
    current.max_deliver === spec.maxDeliver &&
    current.ack_wait === config.ack_wait &&
    current.max_ack_pending === spec.maxAckPending
  ) {
    return existing;
  }
  return jsm.consumers.update(spec.stream, spec.durable, {
    max_deliver: spec.maxDeliver,
    ack_wait: nanos(spec.ackWaitMs),
    max_ack_pending: spec.maxAckPending,
  });
}

export function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/**
 * Deletes every stream of a bus namespace (its events' and its dead letters') on the server at
 * `url`, and those of the namespaces that extend it after a separator (`<namespace>-…`): the
 * clean-up of namespaces made for one run (a test run, a benchmark). Returns how many.
 */
export async function deleteNamespaceStreams(url: string, namespace: string): Promise<number> {
  if (!namespace) throw new Error("only the streams of a namespace are deleted");
  const prefix = streamPrefix(namespace);
  const connection = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(connection);
    let deleted = 0;
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(prefix) && (await jsm.streams.delete(name))) deleted++;
    }
    return deleted;
  } finally {
    await connection.close();
  }
}
