/**
 * WatchDashboard over Connect JSON: a message once listening, then one after the read models
 * change (a burst as one, at most one a second), and one after the listening connection came back.
 */
import { randomUUID } from "node:crypto";
import { LISTENER_APPLICATION_NAME } from "@hexa/adapters/vaccination/dashboard/changes";
import { eventually, query } from "@hexa/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, inventory, startDashboard } from "./support.ts";

let dashboard: Dashboard;
beforeAll(async () => {
  dashboard = await startDashboard();
});
afterAll(async () => {
  await dashboard?.stop();
});

const aborts: AbortController[] = [];
afterEach(() => {
  for (const abort of aborts.splice(0)) abort.abort();
});

/** A WatchDashboard call: the times its messages arrived, as they arrive. */
function watch() {
  const abort = new AbortController();
  aborts.push(abort);
  const arrived: number[] = [];
  const call = (async () => {
    for await (const _ of dashboard.client.watchDashboard({}, { signal: abort.signal }))
      arrived.push(Date.now());
  })().catch(() => undefined); // ends with "canceled" when the test hangs up
  return { arrived, call };
}

async function listeners(): Promise<number[]> {
  const rows = await query<{ pid: number }>(
    dashboard.databaseUrl,
    "select pid from pg_stat_activity where datname = current_database() and application_name = $1",
    [LISTENER_APPLICATION_NAME],
  );
  return rows.map((row) => row.pid);
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("WatchDashboard", () => {
  it("says so once listening, then after a change, and a burst of changes as one message a second at most", async () => {
    const watching = watch();
    await eventually(async () => expect(watching.arrived).toHaveLength(1));
    await settle(1_200);
    expect(watching.arrived).toHaveLength(1); // nothing changed, nothing said

    await dashboard.publish(inventory.hospitalRegistered(randomUUID(), "North", 10));
    await eventually(async () => expect(watching.arrived).toHaveLength(2));

    const burst = Array.from({ length: 8 }, () => inventory.vaccineRegistered(randomUUID(), "V"));
    for (const event of burst) await dashboard.publish(event);
    await settle(2_500);
    // The burst took well under the 2.5 s waited: at most a message a second, at least one.
    expect(watching.arrived.length).toBeGreaterThanOrEqual(3);
    expect(watching.arrived.length).toBeLessThanOrEqual(5);
    const gaps = watching.arrived.slice(1).map((at, index) => at - (watching.arrived[index] ?? 0));
    for (const gap of gaps.slice(1)) expect(gap).toBeGreaterThanOrEqual(950);
  });

  it("shares one listening connection per replica, says so again after it came back, and closes it when the last leaves", async () => {
    await eventually(async () => expect(await listeners()).toEqual([]));
    const one = watch();
    const two = watch();
    await eventually(async () => expect([one.arrived.length, two.arrived.length]).toEqual([1, 1]));
    const [dropped] = await eventually(async () => {
      const pids = await listeners();
      expect(pids).toHaveLength(1);
      return pids;
    });
    await query(dashboard.databaseUrl, "select pg_terminate_backend($1)", [dropped]);
    // Nothing changed, but what did while nobody listened was not heard: read again.
    await eventually(async () => expect([one.arrived.length, two.arrived.length]).toEqual([2, 2]));
    expect(await listeners()).toHaveLength(1);
    for (const abort of aborts.splice(0)) abort.abort();
    await Promise.all([one.call, two.call]);
    await eventually(async () => expect(await listeners()).toEqual([]));
  });
});
