// `./hexa benchmark connect`: how close any RPC can come to the raw-insert baseline on this machine.
//
// Each round measures, one after the other at the same concurrency:
// 1. the baseline of the product-trial benchmark: raw single-row INSERT + COMMIT;
// 2. Connect JSON calls to a bare Connect server (bare-connect-server.ts): Node's HTTP server and
//    Connect only, answering at once, with no authentication, database or bus.
// The ratio of the two is the most that any RPC served through Connect JSON can reach against the
// baseline here, whatever it does. It also prints the CPU each call cost the server and the client.
//
// It uses a fresh database on DATABASE_URL's server (default: an embedded PostgreSQL it starts).
// Bounded: a fixed number of calls, all to 127.0.0.1.
//
//   ./hexa benchmark connect [--calls 4000] [--concurrency 16] [--rounds 3]
import {
  bareConnect,
  closedLoop,
  cpuSeconds,
  freshDatabase,
  insertBaseline,
  log,
  ms,
  runBenchmark,
  summary,
} from "./benchmarking.ts";
import { commandLine, wholeNumber } from "./cli.ts";

const usage = `usage: ./hexa benchmark connect [--calls 4000] [--concurrency 16] [--rounds 3]

The most any RPC reaches on this machine: a bare Connect server against the raw INSERT baseline,
on a fresh database on DATABASE_URL's server (default: an embedded PostgreSQL of its own).`;

const { values: flags } = commandLine(usage, {
  calls: { type: "string", default: "4000" },
  concurrency: { type: "string", default: "16" },
  rounds: { type: "string", default: "3" },
});
const CALLS = wholeNumber("--calls", flags.calls, usage);
const CONCURRENCY = wholeNumber("--concurrency", flags.concurrency, usage);
const ROUNDS = wholeNumber("--rounds", flags.rounds, usage);

await runBenchmark(async (cleanups) => {
  const databaseUrl = await freshDatabase("connect", cleanups);
  const { call, pid } = await bareConnect(cleanups, CONCURRENCY);

  const rows: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round} of ${ROUNDS}: ${CALLS} INSERT + COMMIT, then ${CALLS} bare Connect JSON calls`);
    const baseline = await insertBaseline(databaseUrl, CALLS, CONCURRENCY);
    const serverBefore = cpuSeconds(pid);
    const clientBefore = process.cpuUsage();
    const rpc = await closedLoop(CALLS, CONCURRENCY, call);
    const serverAfter = cpuSeconds(pid);
    const client = process.cpuUsage(clientBefore);
    const perCall = (seconds: number) => `${((seconds * 1000) / CALLS).toFixed(3)} ms`;
    const serverCpu = serverBefore && serverAfter ? perCall(serverAfter.app - serverBefore.app) : "n/a";
    const base = summary(baseline.latencies);
    const bare = summary(rpc.latencies);
    rows.push(
      `| ${round} | ${baseline.rate.toFixed(0)}/s (p50 ${ms(base.p50)}) | ${rpc.rate.toFixed(0)}/s (p50 ${ms(bare.p50)}) | ${(rpc.rate / baseline.rate).toFixed(2)}x | ${serverCpu} / ${perCall((client.user + client.system) / 1e6)} |`,
    );
  }
  console.log(
    [
      `Connect ceiling (${new Date().toISOString()}, node ${process.version}, concurrency ${CONCURRENCY}, ${CALLS} calls each)`,
      "",
      "| round | baseline: INSERT + COMMIT | bare Connect JSON call | ratio | CPU per call: server / client |",
      "|---|---|---|---|---|",
      ...rows,
      "",
      "The ratio is the most any RPC through Connect JSON can reach against the baseline on this machine.",
    ].join("\n"),
  );
});
