import { openServiceDatabase, type ServiceDatabase } from "@hexa/adapters/postgres/database";
import { platformMigrations } from "@hexa/adapters/postgres/platform-tables";
import {
  addOrderFact,
  dashboardMigrations,
  fromDocument,
  OrderStatusRecord,
  toDocument,
} from "@hexa/adapters/trial/dashboard/store";
import { type OrderEventType, type OrderFact, projectOrderStatus } from "@hexa/core/trial/dashboard";
import { createTestDatabase, type TestDatabase } from "@hexa/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let database: TestDatabase;
let db: ServiceDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  db = await openServiceDatabase({
    url: database.url,
    schema: "trial_dashboard",
    entities: [OrderStatusRecord],
    migrations: [...platformMigrations, ...dashboardMigrations],
    logger: pino({ level: "silent" }),
  });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

const PLACED_AT = new Date("2026-03-01T09:00:00.000Z");
let ids = 0;
function fact(eventType: OrderEventType, minute: number, details: OrderFact["details"] = {}): OrderFact {
  ids += 1;
  return {
    eventId: `0196a000-0000-7000-9000-${String(ids).padStart(12, "0")}`,
    eventType,
    occurredAt: new Date(PLACED_AT.getTime() + minute * 60_000),
    details,
  };
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((first, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [first, ...rest]),
  );
}

const add = async (orderId: string, seen: OrderFact) =>
  (await db.unitOfWork((unit) => addOrderFact(unit.em, orderId, seen))).result;

async function rowOf(orderId: string) {
  const [row] = await db.execute<{
    customer_id: string | null;
    plan_id: string | null;
    state: string;
    updated_at: Date | string;
    document: ReturnType<typeof toDocument> | string;
  }>(
    `select customer_id, plan_id, state, updated_at, document from ${db.table("order_status")} where order_id = ?`,
    [orderId],
  );
  if (!row) throw new Error(`no view of ${orderId}`);
  // The connection leaves timestamps and JSON as text.
  return {
    ...row,
    updated_at: new Date(row.updated_at),
    document:
      typeof row.document === "string"
        ? (JSON.parse(row.document) as ReturnType<typeof toDocument>)
        : row.document,
  };
}

describe("an order's view, changed by one statement per event", () => {
  const item = { productId: "espresso-machine", quantity: 2 };
  const plan = "0196a000-0000-7000-8000-0000000000aa";
  const facts = [
    fact("trial.order.v1.OrderPlaced", 0, {
      customerId: "customer-1",
      planId: plan,
      ...item,
      address: "1 Main St",
      placedAt: PLACED_AT,
      returnDueAt: new Date("2026-03-15T09:00:00.000Z"),
    }),
    fact("trial.delivery.v1.DeliveryStarted", 2, { customerId: "customer-1", ...item, address: "2 Side St" }),
    fact("trial.order.v1.OrderCancelled", 3, { planId: plan, ...item }),
    fact("trial.delivery.v1.DeliveryCompleted", 5, item),
  ];

  it("stores the view core derives from the events seen, whatever order they arrive in", async () => {
    for (const arrival of permutations(facts)) {
      const orderId = crypto.randomUUID();
      const expected = projectOrderStatus(orderId, facts);
      let answered: unknown;
      for (const seen of arrival) answered = await add(orderId, seen);
      expect(answered).toEqual(expected);
      const row = await rowOf(orderId);
      const { history, ...view } = row.document;
      const { history: expectedHistory, ...expectedView } = toDocument(expected);
      expect({ ...row, document: view }).toEqual({
        customer_id: "customer-1",
        plan_id: plan,
        state: expected.state,
        updated_at: expected.updatedAt,
        document: expectedView,
      });
      expect(history).toHaveLength(facts.length);
      expect(history).toEqual(expect.arrayContaining([...expectedHistory]));
      expect(fromDocument(row.document)).toEqual(expected);
    }
  });

  it("changes nothing for an event seen before, and answers undefined", async () => {
    const orderId = crypto.randomUUID();
    const [placed, started] = facts as [OrderFact, OrderFact];
    await add(orderId, placed);
    await add(orderId, started);
    const before = await rowOf(orderId);
    expect(await add(orderId, placed)).toBeUndefined();
    expect(await add(orderId, { ...started, occurredAt: new Date(0) })).toBeUndefined();
    expect(await rowOf(orderId)).toEqual(before);
  });

  it("loses no event when several about one new order are added at once", async () => {
    const orderId = crypto.randomUUID();
    const answers = await Promise.all(facts.map((seen) => add(orderId, seen)));
    expect(answers.every((answer) => answer !== undefined)).toBe(true);
    expect(fromDocument((await rowOf(orderId)).document)).toEqual(projectOrderStatus(orderId, facts));
  });
});
