import { randomBytes } from "node:crypto";
import { type DescMessage, fromJsonString, type MessageShape } from "@bufbuild/protobuf";
import pg from "pg";
import { describe, inject } from "vitest";

export { freePort } from "./global-setup.ts";

/** A database of its own for one test file, on the Postgres the run uses. */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject("databaseUrl");
  const name = `hexa_t_${randomBytes(6).toString("hex")}`;
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await withAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** URL of the NATS server with JetStream the run uses, or "" when the JetStream tests are skipped. */
export function natsUrl(): string {
  return inject("natsUrl");
}

/** `describe` for tests that need JetStream; the global setup prints why when they are skipped. */
export const describeWithNats = describe.skipIf(inject("natsUrl") === "");

/**
 * A bus namespace no other test uses, so streams and subjects never collide. It extends the run's
 * namespace, whose streams the global setup deletes when the run ends.
 */
export function uniqueNamespace(): string {
  return `${inject("busNamespaceOfRun")}-${randomBytes(4).toString("hex")}`;
}
export { eventually, type RunningApp, startApp, within } from "./apps.ts";
export { adminToken, authorization, type TokenOption, testKeyDir, testToken } from "./auth.ts";
export { type ClientOptions, connectJsonClient, GrpcJsClient, type GrpcResult, refusal } from "./clients.ts";
export { PrivateNats } from "./private-nats.ts";

/** Runs one SQL query against `url` (for tests that check what was, or was not, written). */
export async function query<Row = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Row[];
  } finally {
    await client.end();
  }
}

/** An event as a service committed it to its outbox, its payload decoded. */
export interface OutboxEvent<Message> {
  readonly type: string;
  readonly aggregateId: string;
  readonly message: Message;
}

/**
 * The events a service committed to its outbox (in `schema`), in commit order, each decoded with the
 * proto message its type names in `messages`. `where` filters the rows, with `params` as $1, $2, ….
 */
export async function outboxEvents<Messages extends Record<string, DescMessage>>(
  url: string,
  schema: string,
  messages: Messages,
  where: string,
  params: unknown[],
): Promise<Array<OutboxEvent<MessageShape<Messages[keyof Messages]>>>> {
  const rows = await query<{ event_type: string; aggregate_id: string; payload: string }>(
    url,
    `select event_type, aggregate_id, payload::text as payload from ${schema}.outbox where ${where} order by position`,
    params,
  );
  return rows.map((row) => {
    const message = messages[row.event_type];
    if (!message)
      throw new Error(`${schema}'s outbox holds ${row.event_type}, which the test does not decode`);
    return {
      type: row.event_type,
      aggregateId: row.aggregate_id,
      message: fromJsonString(message, row.payload) as MessageShape<Messages[keyof Messages]>,
    };
  });
}
export { envelope, type ModulesInProcess, type ModulesInProcessOptions, startModules } from "./services.ts";
