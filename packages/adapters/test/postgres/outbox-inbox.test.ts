import { randomUUID } from "node:crypto";
import { connectJetStreamBus } from "@hexa/adapters/jetstream/bus";
import { holdWrite } from "@hexa/adapters/kit/statements";
import type { EventBus, EventEnvelope } from "@hexa/adapters/messaging/bus";
import { openServiceDatabase, type ServiceDatabase } from "@hexa/adapters/postgres/database";
import { handledOnce } from "@hexa/adapters/postgres/inbox";
import { OutboxRelay } from "@hexa/adapters/postgres/outbox";
import { platformMigrations } from "@hexa/adapters/postgres/platform-tables";
import { marketingMigrations, TrialPlanRecord, trialPlans } from "@hexa/adapters/trial/marketing/store";
import { FixedClock, UuidV7Generator } from "@hexa/core/shared";
import { startTrialPlan } from "@hexa/core/trial/marketing";
import {
  createTestDatabase,
  describeWithNats,
  natsUrl,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const logger = pino({ level: "silent" });
let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});

function openMarketing(): Promise<ServiceDatabase> {
  return openServiceDatabase({
    url: database.url,
    schema: "trial_marketing",
    entities: [TrialPlanRecord],
    migrations: [...platformMigrations, ...marketingMigrations],
    logger,
  });
}

const clock = new FixedClock(new Date("2026-05-01T08:00:00.000Z"));
const context = { clock, ids: new UuidV7Generator(clock) };

async function commitPlanStarted(db: ServiceDatabase): Promise<string> {
  const { result: plan } = await db.unitOfWork((unit) =>
    startTrialPlan(
      { ...context, plans: trialPlans(unit, db) },
      { productId: "p-1", name: "n", trialDays: 3 },
    ),
  );
  return plan.planId;
}

/** Commits a plan as the runtime's unit of work does, keeping the events it wrote to the outbox. */
async function commitPlanStartedKeepingEvents(
  db: ServiceDatabase,
): Promise<{ planId: string; committed: readonly EventEnvelope[] }> {
  const { result: plan, events: committed } = await db.unitOfWork((unit) =>
    startTrialPlan(
      { ...context, plans: trialPlans(unit, db) },
      { productId: "p-1", name: "n", trialDays: 3 },
    ),
  );
  return { planId: plan.planId, committed };
}

async function unpublished(db: ServiceDatabase, aggregateId: string): Promise<number | undefined> {
  const [row] = await db.execute<{ n: number }>(
    `select count(*)::int as n from ${db.table("outbox")} where published_at is null and aggregate_id = ?`,
    [aggregateId],
  );
  return row?.n;
}

function received(bus: EventBus, eventType: string, name: string): { events: EventEnvelope[] } {
  const seen = { events: [] as EventEnvelope[] };
  void bus.subscribe({
    name,
    eventType,
    handle: async (event) => {
      seen.events.push(event);
    },
  });
  return seen;
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describeWithNats("transactional outbox with JetStream", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("publishes, after a restart, an event committed by a process that died before publishing", async () => {
    // The first process commits the plan and its event, then dies before any relay round.
    const dying = await openMarketing();
    const planId = await commitPlanStarted(dying);
    await dying.close();

    // The restarted process's relay finds the row and publishes it.
    const namespace = uniqueNamespace();
    const bus = await connectJetStreamBus({ url: natsUrl(), namespace, logger });
    const db = await openMarketing();
    const relay = new OutboxRelay({ db, bus, logger, idleMs: 20 });
    cleanups.push(
      () => bus.close(),
      () => db.close(),
      () => relay.stop(),
    );
    const seen = received(bus, "trial.marketing.v1.PlanStarted", "test-restart");
    relay.start();
    await until(() => seen.events.length === 1);
    expect(seen.events[0]).toMatchObject({ type: "trial.marketing.v1.PlanStarted", aggregateId: planId });
    expect(JSON.parse(seen.events[0]?.payload ?? "{}")).toMatchObject({
      planId,
      productId: "p-1",
      trialDays: 3,
    });
    await until(async () => (await unpublished(db, planId)) === 0);
  });

  it("publishes the events a unit of work committed at once, without a round, and marks them published", async () => {
    const namespace = uniqueNamespace();
    const bus = await connectJetStreamBus({ url: natsUrl(), namespace, logger });
    const db = await openMarketing();
    // Never started: no round runs.
    const relay = new OutboxRelay({ db, bus, logger });
    cleanups.push(
      () => bus.close(),
      () => db.close(),
      () => relay.stop(),
    );
    const seen = received(bus, "trial.marketing.v1.PlanStarted", "test-at-once");
    const { planId, committed } = await commitPlanStartedKeepingEvents(db);
    relay.publishCommitted(committed);
    await until(() => seen.events.some((event) => event.aggregateId === planId));
    await until(async () => (await unpublished(db, planId)) === 0);
  });

  it("leaves an event whose publish failed to a round once it is older than the grace", async () => {
    const namespace = uniqueNamespace();
    const bus = await connectJetStreamBus({ url: natsUrl(), namespace, logger });
    const db = await openMarketing();
    const attempts: number[] = [];
    const started = Date.now();
    const flaky: EventBus = {
      publish: async (event) => {
        attempts.push(Date.now() - started);
        if (attempts.length === 1) throw new Error("NATS is away");
        await bus.publish(event);
      },
      subscribe: (consumer, policy) => bus.subscribe(consumer, policy),
      deadLetters: bus.deadLetters,
      isReady: () => bus.isReady(),
      close: () => bus.close(),
    };
    const relay = new OutboxRelay({ db, bus: flaky, logger, idleMs: 20, graceMs: 300 });
    cleanups.push(
      () => bus.close(),
      () => db.close(),
      () => relay.stop(),
    );
    const seen = received(bus, "trial.marketing.v1.PlanStarted", "test-failed-publish");
    const { planId, committed } = await commitPlanStartedKeepingEvents(db);
    relay.start();
    relay.publishCommitted(committed);
    await until(() => seen.events.some((event) => event.aggregateId === planId));
    await until(async () => (await unpublished(db, planId)) === 0);
    // The first attempt failed; a round took the row only after the grace.
    expect(attempts).toHaveLength(2);
    expect(attempts[1]).toBeGreaterThanOrEqual(250);
  });

  it("delivers once when a crash after publishing makes the relay publish the same rows again", async () => {
    const namespace = uniqueNamespace();
    const bus = await connectJetStreamBus({ url: natsUrl(), namespace, logger });
    const db = await openMarketing();
    cleanups.push(
      () => bus.close(),
      () => db.close(),
    );
    const seen = received(bus, "trial.marketing.v1.PlanStarted", "test-republish");
    const planId = await commitPlanStarted(db);
    await new OutboxRelay({ db, bus, logger }).publishPending();
    // The crash: the marks are lost, so the next relay publishes the same rows again.
    await db.execute(`update ${db.table("outbox")} set published_at = null where aggregate_id = ?`, [planId]);
    await new OutboxRelay({ db, bus, logger }).publishPending();
    await until(() => seen.events.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen.events.filter((event) => event.aggregateId === planId)).toHaveLength(1);
  });
});

describe("inbox", () => {
  let db: ServiceDatabase;
  beforeAll(async () => {
    db = await openServiceDatabase({
      url: database.url,
      schema: "inbox_test",
      entities: [],
      migrations: [
        ...platformMigrations,
        { name: "0001_effects", sql: ["create table effect (n integer not null)"] },
        { name: "0002_written", sql: ["create table written (event_id uuid primary key)"] },
      ],
      logger,
    });
    await db.execute(`insert into ${db.table("effect")} values (0)`);
  });
  afterAll(async () => {
    await db.close();
  });

  const event: EventEnvelope = {
    id: "0196a000-0000-7000-8000-000000000001",
    type: "trial.marketing.v1.PlanStarted",
    aggregateId: "plan-1",
    occurredAt: "2026-05-01T08:00:00.000Z",
    payload: "{}",
  };
  const withId = (n: number): EventEnvelope => ({ ...event, id: `0196a000-0000-7000-8000-00000000000${n}` });
  const effects = async () => (await db.execute<{ n: number }>(`select n from ${db.table("effect")}`))[0]?.n;

  it("gives a redelivered event exactly one effect, even when deliveries race", async () => {
    const handle = handledOnce(db, "test-count", async ({ em }) => {
      await em.execute(`update ${db.table("effect")} set n = n + 1`);
    });
    await handle([event]);
    await handle([event]);
    await Promise.all([handle([event]), handle([event]), handle([event])]);
    expect(await effects()).toBe(1);
  });

  it("claims an event handled alone in the statement of its handler's last write", async () => {
    const alone = { ...event, id: "0196a000-0000-7000-8000-00000000000a" };
    const writing = handledOnce(db, "test-claim", async ({ em }, handled) => {
      await holdWrite(em, {
        table: db.table("written"),
        sql: `insert into ${db.table("written")} (event_id) values ($1)`,
        params: [handled.id],
      });
    });
    await writing([alone]);
    const writtenBy = (table: string) =>
      db.execute<{ command: string; transaction: string }>(
        `select cmin::text as command, xmin::text as transaction from ${db.table(table)} where event_id = ?`,
        [alone.id],
      );
    // The same transaction and the same command of it: one statement wrote both rows.
    expect(await writtenBy("inbox")).toEqual(await writtenBy("written"));
    expect(await writtenBy("inbox")).toHaveLength(1);
    await expect(writing([alone])).resolves.toEqual({ written: [] });
  });

  it("skips an event handled before whose handler now fails on what the first handling changed", async () => {
    const once = { ...event, id: "0196a000-0000-7000-8000-00000000000b" };
    const handle = handledOnce(db, "test-strict", async ({ em }) => {
      const [row] = await em.execute<{ n: number }[]>(`select n from ${db.table("effect")}`);
      if ((row?.n ?? 0) >= 100) throw new Error("already applied");
      await em.execute(`update ${db.table("effect")} set n = n + 100`);
    });
    const before = (await effects()) ?? 0;
    await handle([once]);
    await expect(handle([once])).resolves.toEqual({ written: [] });
    expect(await effects()).toBe(before + 100);
    await db.execute(`update ${db.table("effect")} set n = n - 100`);
  });

  it("keeps no inbox row when the handler fails, so the redelivery is handled", async () => {
    const second = withId(2);
    let fail = true;
    const handle = handledOnce(db, "test-count", async ({ em }) => {
      await em.execute(`update ${db.table("effect")} set n = n + 1`);
      if (fail) throw new Error("transient");
    });
    await expect(handle([second])).rejects.toThrow("transient");
    expect(await effects()).toBe(1);
    fail = false;
    await handle([second]);
    expect(await effects()).toBe(2);
  });

  it("handles a batch in order in one transaction, each new event once, skipping those handled before", async () => {
    const [third, fourth] = [withId(3), withId(4)];
    const seen: string[] = [];
    const handle = handledOnce(db, "test-count", async ({ em }, handled) => {
      seen.push(handled.id);
      await em.execute(`update ${db.table("effect")} set n = n + 1`);
    });
    // `event` was handled by the first test; `third` comes twice in the batch.
    await handle([third, event, fourth, third]);
    expect(seen).toEqual([third.id, fourth.id]);
    expect(await effects()).toBe(4);
  });

  it("undoes a whole batch when one of its events fails, inbox rows included", async () => {
    const [fifth, sixth] = [withId(5), withId(6)];
    const failing = handledOnce(db, "test-count", async ({ em }, handled) => {
      await em.execute(`update ${db.table("effect")} set n = n + 1`);
      if (handled.id === sixth.id) throw new Error("sixth fails");
    });
    await expect(failing([fifth, sixth])).rejects.toThrow("sixth fails");
    expect(await effects()).toBe(4);
    const counting = handledOnce(db, "test-count", async ({ em }) => {
      await em.execute(`update ${db.table("effect")} set n = n + 1`);
    });
    await counting([fifth]);
    expect(await effects()).toBe(5);
  });

  it("handles a batch in order of aggregate id, each aggregate's events in the order given", async () => {
    const batch = [
      { ...withId(7), aggregateId: "plan-b" },
      { ...withId(8), aggregateId: "plan-a" },
      { ...withId(9), aggregateId: "plan-b" },
    ];
    const seen: string[] = [];
    await handledOnce(db, "test-order", async (_em, handled) => {
      seen.push(handled.id);
    })(batch);
    expect(seen).toEqual([batch[1]?.id, batch[0]?.id, batch[2]?.id]);
  });

  it("returns the events the handling wrote to the outbox, for the relay to publish at once", async () => {
    const writing = handledOnce(db, "test-writes", async (unit, handled) => {
      unit.saved([{ ...handled, id: randomUUID(), type: "trial.marketing.v1.PlanEnded" }]);
    });
    const quiet = handledOnce(db, "test-quiet", async () => {});
    const { written } = await writing([withId(7)]);
    expect(written.map((event) => event.type)).toEqual(["trial.marketing.v1.PlanEnded"]);
    expect(await quiet([withId(7)])).toEqual({ written: [] });
  });
});
