import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { JobRunner } from "@hexa/adapters/runtime/jobs";
import type { Job, ServiceModule } from "@hexa/adapters/runtime/service-module";
import { PlanStartedSchema } from "@hexa/proto/trial/marketing/v1/events_pb";
import { envelope, eventually, startModules } from "@hexa/testing";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const logger = pino({ level: "silent" });

/** A job whose rounds find what `found` says, round by round, and record when they started. */
function recordingJob(settings: Omit<Job, "name" | "run">, found: (round: number) => number | undefined) {
  const startedAt: number[] = [];
  const job: Job = {
    name: "recording",
    ...settings,
    run: async () => {
      startedAt.push(performance.now());
      return found(startedAt.length);
    },
  };
  return { job, startedAt };
}

/** The pauses between the rounds' starts (a round itself takes no time here). */
const pauses = (startedAt: readonly number[]) => startedAt.slice(1).map((at, i) => at - (startedAt[i] ?? 0));

describe("the job runner", () => {
  let runner: JobRunner;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    runner = new JobRunner(logger);
  });
  afterEach(async () => {
    await runner.stop();
    vi.useRealTimers();
  });

  it("doubles the pause while rounds find nothing, up to maxIdleMs, and keeps the pace while they find work", async () => {
    const { job, startedAt } = recordingJob({ everyMs: 100, maxIdleMs: 1_000 }, (round) =>
      round >= 7 && round <= 8 ? 5 : 0,
    );
    runner.start(job);
    await vi.advanceTimersByTimeAsync(5_000);
    // Rounds 1-6 find nothing: 200, 400, 800, then the bound; 7 and 8 find work: 100; then it grows again.
    expect(pauses(startedAt).slice(0, 9)).toEqual([200, 400, 800, 1_000, 1_000, 1_000, 100, 100, 200]);
  });

  it("keeps a fixed pace for a job that cannot tell what it found, or whose round failed", async () => {
    const { job, startedAt } = recordingJob({ everyMs: 100, maxIdleMs: 1_000 }, (round) => {
      if (round % 2 === 0) throw new Error("the database is away");
      return undefined;
    });
    runner.start(job);
    await vi.advanceTimersByTimeAsync(1_050);
    expect(pauses(startedAt)).toEqual(Array.from({ length: 10 }, () => 100));
  });

  it("brings the next round forward when woken, to everyMs after the last, never sooner, and paces from there", async () => {
    const { job, startedAt } = recordingJob({ everyMs: 100, maxIdleMs: 10_000 }, () => 0);
    const wake = runner.start(job);
    await vi.advanceTimersByTimeAsync(3_100); // rounds at 0, 200, 600, 1400, 3000; the next due at 6200
    expect(startedAt).toEqual([0, 200, 600, 1_400, 3_000]);
    wake();
    await vi.advanceTimersByTimeAsync(0);
    // At once (everyMs has passed since the last round), then pausing from everyMs again.
    await vi.advanceTimersByTimeAsync(710);
    expect(startedAt.slice(5)).toEqual([3_100, 3_200, 3_400, 3_800]);
    // Woken 10 ms after a round: the next comes everyMs after that one, not at once.
    wake();
    await vi.advanceTimersByTimeAsync(89);
    expect(startedAt).toHaveLength(9);
    await vi.advanceTimersByTimeAsync(1);
    expect(startedAt.at(-1)).toBe(3_900);
  });

  it("keeps the pace after a round during which it was woken, even if that round found nothing", async () => {
    let wake = () => {};
    const { job, startedAt } = recordingJob({ everyMs: 100, maxIdleMs: 10_000 }, (round) => {
      if (round === 3) wake();
      return 0;
    });
    wake = runner.start(job);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pauses(startedAt).slice(0, 4)).toEqual([200, 400, 100, 200]);
  });

  it("stops at once while pausing", async () => {
    const { job, startedAt } = recordingJob({ everyMs: 60_000 }, () => 0);
    runner.start(job);
    await vi.advanceTimersByTimeAsync(10);
    const stopped = runner.stop();
    await vi.advanceTimersByTimeAsync(0);
    await stopped;
    expect(startedAt).toEqual([0]);
  });
});

describe("a job's wake", () => {
  it("comes with the commit of a policy handling an event the job names, not before the job's everyMs", async () => {
    const rounds: number[] = [];
    const planId = "0190c1d2-0000-7000-8000-000000000001";
    // One policy that commits nothing but its inbox row, and a job that would otherwise wait a minute.
    const module: ServiceModule = {
      name: "wakeful",
      schema: "test_wakeful",
      entities: [],
      migrations: [],
      routes: () => {},
      policies: (runtime) => [runtime.onEvent("plan-started", PlanStartedSchema.typeName, async () => {})],
      jobs: () => [
        {
          name: "wakeful-round",
          everyMs: 50,
          maxIdleMs: 60_000,
          wakeOn: [PlanStartedSchema.typeName],
          run: async () => {
            rounds.push(Date.now());
            return 0;
          },
        },
      ],
    };
    const services = await startModules([module]);
    try {
      // Backing off: after a few rounds the next one is far away.
      await eventually(async () => expect(rounds.length).toBeGreaterThanOrEqual(6), 10_000, 20);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const before = rounds.length;
      const published = Date.now();
      await services.publish(
        envelope(PlanStartedSchema, planId, {
          planId,
          productId: "kayak",
          name: "Kayak",
          trialDays: 7,
          startedAt: timestampFromDate(new Date()),
        }),
      );
      await eventually(async () => expect(rounds.length).toBeGreaterThan(before), 2_000, 10);
      expect((rounds[before] ?? 0) - published).toBeLessThan(1_000);
    } finally {
      await services.stop();
    }
  });
});
