// Every check CI runs, in order, with progress: lint and format, proto lint, format and breaking
// changes, typecheck, then every test: the main suite, then the contract tests (consumers first,
// as they write the pacts the providers then verify). Runs all steps even when one fails, and ends
// with one summary line. Extra arguments go to every vitest step (e.g. `./hexa test packages/core`).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";

const vitestArgs = process.argv.slice(2);
mkdirSync(".data", { recursive: true });
/** The JSON reports of the vitest steps; the summary adds them up. */
const reports: string[] = [];

/** One vitest run of some projects (vitest.config.ts), with its own JSON report. */
function vitest(projects: string[], report: string): string[] {
  rmSync(report, { force: true });
  reports.push(report);
  return [
    "vitest",
    "run",
    ...projects.flatMap((project) => ["--project", project]),
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    // Filters select files of some steps only; the other steps then find nothing, and that is fine.
    ...(vitestArgs.length > 0 ? ["--passWithNoTests"] : []),
    ...vitestArgs,
  ];
}

type Step = { name: string; command: string[]; note?: string } | { name: string; skip: string };

const steps: Step[] = [
  { name: "lint and format (biome)", command: ["biome", "ci", "."] },
  { name: "proto lint (buf)", command: ["buf", "lint"] },
  { name: "proto format (buf)", command: ["buf", "format", "--diff", "--exit-code"] },
  { name: "proto breaking changes (buf)", ...breakingCheck() },
  { name: "typecheck (tsc)", command: ["tsc", "-p", "tsconfig.json"] },
  { name: "typecheck the console (tsc)", command: ["tsc", "-p", "apps/console/tsconfig.json"] },
  { name: "tests (vitest)", command: vitest(["main", "console"], ".data/test-results.json") },
  {
    name: "contracts: consumers",
    command: vitest(["contracts-consumers"], ".data/test-results-contracts-consumers.json"),
  },
  {
    name: "contracts: providers",
    command: vitest(["contracts-providers", "contracts-gate"], ".data/test-results-contracts-providers.json"),
  },
];

/**
 * `buf breaking` of the working tree against the proto of a baseline commit (buf.yaml: WIRE_JSON):
 * - on a branch that has left main (local `main`, else `origin/main`): their merge-base, so every
 *   breaking change the branch makes is caught, whatever the number of its commits;
 * - on main itself (the merge-base is HEAD: main's tip, or an older commit of main), or with no
 *   main at all: HEAD's parent, so the newest commit (and uncommitted work) is checked;
 * - BUF_BREAKING_AGAINST, when set, is used as the buf input to compare against instead.
 * A checkout with a single commit, a shallow clone without the parent, or no git at all has
 * nothing to compare against: the step is skipped, saying why.
 */
function breakingCheck(): { command: string[]; note: string } | { skip: string } {
  const against = (input: string, note: string) => ({
    command: ["buf", "breaking", "--against", input],
    note: `against ${note}`,
  });
  const override = process.env.BUF_BREAKING_AGAINST;
  if (override) return against(override, `${override} (BUF_BREAKING_AGAINST)`);
  if (!existsSync(".git") || !statSync(".git").isDirectory()) {
    return { skip: "no .git directory here (not a git checkout, or a worktree): set BUF_BREAKING_AGAINST" };
  }
  const head = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}");
  if (!head) return { skip: "the repository has no commit yet" };
  const main = ["refs/heads/main", "refs/remotes/origin/main"].find((ref) =>
    git("rev-parse", "--verify", "--quiet", ref),
  );
  const mergeBase = main ? git("merge-base", "HEAD", main) : undefined;
  let baseline: string | undefined;
  let why: string;
  if (main && mergeBase && mergeBase !== head) {
    baseline = mergeBase;
    why = `the merge-base of HEAD and ${main.replace(/^refs\/(heads|remotes)\//, "")}`;
  } else {
    baseline = git("rev-parse", "--verify", "--quiet", "HEAD~1^{commit}");
    why =
      mergeBase === head
        ? "HEAD's parent (HEAD is on main)"
        : "HEAD's parent (no main branch to compare with)";
    if (!baseline) {
      return { skip: "HEAD has no parent (a single commit, or a shallow clone): nothing to compare against" };
    }
  }
  if (git("cat-file", "-e", `${baseline}:buf.yaml`) === undefined) {
    return { skip: `the baseline ${baseline.slice(0, 12)} (${why}) has no buf.yaml` };
  }
  // A full commit id is fetched on its own, so depth 1 is enough however old it is.
  return against(`.git#ref=${baseline},depth=1`, `${baseline.slice(0, 12)}, ${why}`);
}

function git(...args: string[]): string | undefined {
  const run = spawnSync("git", args, { encoding: "utf8" });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

const failed: string[] = [];
for (const [index, step] of steps.entries()) {
  const label = `[test ${index + 1}/${steps.length}] ${step.name}`;
  if ("skip" in step) {
    console.log(`\n${label}: skipped: ${step.skip}`);
    continue;
  }
  console.log(`\n${label}: ${step.command.join(" ")}${step.note ? ` (${step.note})` : ""}`);
  const started = Date.now();
  const [program = "", ...args] = step.command;
  const run = spawnSync(`node_modules/.bin/${program}`, args, { stdio: "inherit" });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (run.status === 0) {
    console.log(`${label}: ok in ${seconds} s`);
  } else {
    console.log(`${label}: FAILED (exit ${run.status ?? run.signal}) in ${seconds} s`);
    failed.push(step.name);
  }
}

const counts = { passed: 0, failed: 0, skipped: 0 };
for (const results of reports) {
  try {
    const report = JSON.parse(readFileSync(results, "utf8"));
    counts.passed += report.numPassedTests;
    counts.failed += report.numFailedTests;
    counts.skipped += report.numPendingTests + report.numTodoTests;
  } catch {
    failed.push(`reading the test report ${results}`);
  }
}
if (vitestArgs.length > 0 && counts.passed + counts.failed + counts.skipped === 0) {
  failed.push(`finding tests: none matched ${vitestArgs.join(" ")}`);
}
console.log("");
if (failed.length > 0) console.log(`failed steps: ${failed.join(", ")}`);
console.log(
  `${counts.passed} passed, ${counts.failed + (counts.failed === 0 ? failed.length : 0)} failed, ${counts.skipped} skipped`,
);
process.exit(failed.length > 0 ? 1 : 0);
