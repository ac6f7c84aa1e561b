// Every check CI runs, in order, with progress: lint and format, proto lint and format, typecheck,
// then every test. Runs all steps even when one fails, and ends with one summary line.
// Extra arguments go to vitest (e.g. `./hexa test packages/core`).
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";

const vitestArgs = process.argv.slice(2);
const results = ".data/test-results.json";
mkdirSync(".data", { recursive: true });

const steps: Array<{ name: string; command: string[] }> = [
  { name: "lint and format (biome)", command: ["biome", "ci", "."] },
  { name: "proto lint (buf)", command: ["buf", "lint"] },
  { name: "proto format (buf)", command: ["buf", "format", "--diff", "--exit-code"] },
  { name: "typecheck (tsc)", command: ["tsc", "-p", "tsconfig.json"] },
  {
    name: "tests (vitest)",
    command: [
      "vitest",
      "run",
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${results}`,
      ...vitestArgs,
    ],
  },
];

const failed: string[] = [];
for (const [index, step] of steps.entries()) {
  console.log(`\n[test ${index + 1}/${steps.length}] ${step.name}: ${step.command.join(" ")}`);
  const started = Date.now();
  const [program = "", ...args] = step.command;
  const run = spawnSync(`node_modules/.bin/${program}`, args, { stdio: "inherit" });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (run.status === 0) {
    console.log(`[test ${index + 1}/${steps.length}] ${step.name}: ok in ${seconds} s`);
  } else {
    console.log(
      `[test ${index + 1}/${steps.length}] ${step.name}: FAILED (exit ${run.status ?? run.signal}) in ${seconds} s`,
    );
    failed.push(step.name);
  }
}

let counts = { passed: 0, failed: 0, skipped: 0 };
try {
  const report = JSON.parse(readFileSync(results, "utf8"));
  counts = {
    passed: report.numPassedTests,
    failed: report.numFailedTests,
    skipped: report.numPendingTests + report.numTodoTests,
  };
} catch {
  failed.push("reading the test report");
}
console.log("");
if (failed.length > 0) console.log(`failed steps: ${failed.join(", ")}`);
console.log(
  `${counts.passed} passed, ${counts.failed + (counts.failed === 0 ? failed.length : 0)} failed, ${counts.skipped} skipped`,
);
process.exit(failed.length > 0 ? 1 : 0);
