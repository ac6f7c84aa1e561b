import { describe, expect, inject, it } from "vitest";
import { allPacts, readVerification } from "../../src/pacts.ts";

/**
 * The offline can-i-deploy: every pact in contracts/pacts/ must have been verified, successfully,
 * by its provider, in this very run, in its current content. A pact that no provider test
 * verifies, that changed after its verification, or that a provider failed, stops the build.
 */
describe("every pact is honoured by its provider in this run", () => {
  const run = inject("contractsRun");
  const pacts = allPacts();

  it("there are pacts to check", () => {
    expect(pacts.map((pact) => pact.name)).not.toEqual([]);
  });

  for (const pact of pacts) {
    it(`${pact.name}: ${pact.provider} honours what ${pact.consumer} expects`, () => {
      const record = readVerification(pact);
      if (!record || record.run !== run) {
        throw new Error(
          `${pact.name} was not verified in this run${record ? ` (last verified ${record.verifiedAt})` : ""}: ` +
            `${pact.provider} needs a provider test in contracts/test/providers/ that verifies it ` +
            "(verifiesPactsOf), run in the same vitest run as this gate",
        );
      }
      expect(record.provider, "the verifying provider").toBe(pact.provider);
      expect(record.sha256, `${pact.name} changed after it was verified`).toBe(pact.sha256);
      if (!record.success) throw new Error(`${pact.provider} failed ${pact.name}:\n${record.failure ?? ""}`);
    });
  }
});
