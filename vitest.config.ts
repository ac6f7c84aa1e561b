import { randomUUID } from "node:crypto";
import { configDefaults, defineConfig } from "vitest/config";

const globalSetup = ["./packages/testing/src/global-setup.ts"];

/**
 * One id per vitest run. Provider verifications record it with each result, and the contract gate
 * accepts only results of its own run (README, "Contract tests").
 */
const contractsRun = randomUUID();
const contracts = { env: { PACT_DO_NOT_TRACK: "true" } };

// Projects run in groups, lowest `groupOrder` first: the pacts a consumer test writes are verified
// against their providers afterwards, and the gate reads the results last. CI runs each group as a
// step of its own (scripts/test.ts).
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "main",
          include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts", "deploy/test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "apps/console/test/unit/**"],
          globalSetup,
        },
      },
      {
        // The console's components and logic, in a simulated DOM (its browser tests run in main).
        extends: true,
        test: {
          name: "console",
          root: "apps/console",
          include: ["test/unit/**/*.test.{ts,tsx}"],
          environment: "happy-dom",
        },
      },
      {
        extends: true,
        test: {
          ...contracts,
          name: "contracts-consumers",
          include: ["contracts/test/consumers/**/*.test.ts"],
          globalSetup,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          ...contracts,
          name: "contracts-providers",
          include: ["contracts/test/providers/**/*.test.ts"],
          globalSetup,
          provide: { contractsRun },
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          ...contracts,
          name: "contracts-gate",
          include: ["contracts/test/gate/**/*.test.ts"],
          provide: { contractsRun },
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
