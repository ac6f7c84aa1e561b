import { join, resolve } from "node:path";

/** The contracts workspace package. */
export const contractsDir = resolve(import.meta.dirname, "..");

/** The repository root. */
export const repositoryRoot = resolve(contractsDir, "..");

/** The pact files, one per consumer-provider pair, written by the consumer tests and committed. */
export const pactsDir = join(contractsDir, "pacts");

/** Verification results of the latest run, one per pact file (git-ignored). */
export const verificationsDir = join(contractsDir, ".verifications");

/** The file a pair's pact is written to, named as every Pact tool names it. */
export function pactFileName(consumer: string, provider: string): string {
  return `${consumer}-${provider}.json`;
}
