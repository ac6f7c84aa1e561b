/**
 * The provider side: each pact file verified against the real provider, and the outcome recorded
 * for the gate (contracts/test/gate/verified.test.ts).
 */
import { spawnSync } from "node:child_process";
import { testToken } from "@hexa/testing";
import { type MessageProviders, Verifier, type VerifierOptions } from "@pact-foundation/pact";
import { expect, inject, it } from "vitest";
import { type PactFile, pactsOf, recordVerification } from "./pacts.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Id of the vitest run; verification records carry it (see vitest.config.ts). */
    contractsRun: string;
  }
}

export interface ProviderUnderTest {
  /** Base URL of the running provider, for pacts of HTTP interactions. */
  readonly providerBaseUrl?: string;
  /** Provider states of HTTP interactions, set up through the provider's API or domain. */
  readonly stateHandlers?: VerifierOptions["stateHandlers"];
  /** Producers of the events it publishes, by message description. */
  readonly messageProviders?: MessageProviders;
}

/**
 * One test per pact file whose provider is `provider`, each verifying it against what
 * `underTest` gives (called when the test runs, after the file's set-up). A provider that no pact
 * names is a test failure too: its name is probably misspelt.
 */
export function verifiesPactsOf(provider: string, underTest: () => ProviderUnderTest): void {
  const pacts = pactsOf(provider);
  it(`is the provider of at least one pact in contracts/pacts/`, () => {
    expect(pacts.map((pact) => pact.name)).not.toEqual([]);
  });
  for (const pact of pacts) {
    it(`honours ${pact.name}: ${pact.interactions.join("; ")}`, async () => {
      await verifyPact(pact, underTest());
    });
  }
  if (process.env.PACT_BROKER_BASE_URL) {
    it("honours its consumers' pacts in the Pact Broker, and publishes the results there", async () => {
      await verifyBrokerPacts(provider, underTest());
    });
  }
}

/**
 * With a Pact Broker (PACT_BROKER_BASE_URL, and PACT_BROKER_TOKEN or PACT_BROKER_USERNAME and
 * PACT_BROKER_PASSWORD): verifies the pacts the broker holds for `provider` (its consumers' main
 * branches, the versions deployed or released, and a branch of the provider's name) and publishes
 * the results under this commit and branch, for `pact-broker can-i-deploy`. PACT_PROVIDER_VERSION
 * and PACT_PROVIDER_BRANCH override the version and branch read from git.
 */
async function verifyBrokerPacts(provider: string, underTest: ProviderUnderTest): Promise<void> {
  const env = process.env;
  const providerVersion = env.PACT_PROVIDER_VERSION ?? gitOutput("rev-parse", "HEAD");
  const providerVersionBranch = env.PACT_PROVIDER_BRANCH ?? gitOutput("branch", "--show-current");
  if (!providerVersion || !providerVersionBranch) {
    throw new Error("publishing to the broker needs PACT_PROVIDER_VERSION and PACT_PROVIDER_BRANCH (or git)");
  }
  await new Verifier({
    provider,
    pactBrokerUrl: env.PACT_BROKER_BASE_URL,
    ...(env.PACT_BROKER_TOKEN ? { pactBrokerToken: env.PACT_BROKER_TOKEN } : {}),
    ...(env.PACT_BROKER_USERNAME ? { pactBrokerUsername: env.PACT_BROKER_USERNAME } : {}),
    ...(env.PACT_BROKER_PASSWORD ? { pactBrokerPassword: env.PACT_BROKER_PASSWORD } : {}),
    consumerVersionSelectors: [{ mainBranch: true }, { matchingBranch: true }, { deployedOrReleased: true }],
    enablePending: true,
    publishVerificationResult: true,
    providerVersion,
    providerVersionBranch,
    logLevel: "error",
    ...verifierTargets(underTest),
    ...(await callerCredentials(underTest)),
  }).verifyProvider();
}

function gitOutput(...args: string[]): string | undefined {
  const run = spawnSync("git", args, { encoding: "utf8" });
  return run.status === 0 && run.stdout.trim() ? run.stdout.trim() : undefined;
}

/**
 * The synchronous calls between services carry the calling service's token (role `service`); the
 * verifier replays each recorded request with one of its own, signed with the run's key.
 */
async function callerCredentials(provider: ProviderUnderTest) {
  if (!provider.providerBaseUrl) return {};
  const token = await testToken({ subject: "service:pact-verifier", roles: ["service"] });
  return { customProviderHeaders: { Authorization: `Bearer ${token}` } };
}

function verifierTargets(provider: ProviderUnderTest) {
  return {
    ...(provider.providerBaseUrl ? { providerBaseUrl: provider.providerBaseUrl } : {}),
    ...(provider.stateHandlers ? { stateHandlers: provider.stateHandlers } : {}),
    ...(provider.messageProviders ? { messageProviders: provider.messageProviders } : {}),
  };
}

/**
 * Verifies one pact file against its provider; resolves with the verifier's JSON report, or
 * rejects with it. With `record` (the default) the outcome is recorded for the gate.
 */
export async function verifyPact(
  pact: PactFile,
  provider: ProviderUnderTest,
  options: { readonly record?: boolean } = {},
): Promise<string> {
  const verifier = new Verifier({
    // No `provider` option: with it, the verifier would also fetch pacts from a broker named in
    // PACT_BROKER_BASE_URL. The pact file names its provider.
    pactUrls: [pact.path],
    logLevel: "error",
    ...verifierTargets(provider),
    ...(await callerCredentials(provider)),
  });
  const record = (success: boolean, failure?: string) => {
    if (options.record === false) return;
    recordVerification({
      pact: pact.name,
      sha256: pact.sha256,
      consumer: pact.consumer,
      provider: pact.provider,
      run: inject("contractsRun"),
      success,
      verifiedAt: new Date().toISOString(),
      ...(failure ? { failure } : {}),
    });
  };
  try {
    const report = String(await verifier.verifyProvider());
    record(true);
    return report;
  } catch (error) {
    const failure = mismatchesIn(error instanceof Error ? error.message : String(error));
    record(false, failure);
    throw new Error(
      `${pact.name}: ${pact.provider} does not honour what ${pact.consumer} expects:\n${failure}`,
    );
  }
}

interface VerifierReport {
  readonly errors?: ReadonlyArray<{
    readonly interaction?: string;
    readonly mismatch?: {
      readonly message?: string;
      readonly mismatches?: ReadonlyArray<{ readonly path?: string; readonly mismatch?: string }>;
    };
  }>;
}

/** The verifier's failure report (JSON) as one line per interaction and per mismatch. */
function mismatchesIn(report: string): string {
  let parsed: VerifierReport;
  try {
    parsed = JSON.parse(report) as VerifierReport;
  } catch {
    return report;
  }
  const lines = (parsed.errors ?? []).flatMap(({ interaction, mismatch }) => [
    `- ${interaction ?? "an interaction"}`,
    ...(mismatch?.mismatches ?? []).map(
      ({ path, mismatch: what }) => `    ${path ?? "$"}: ${what ?? "mismatch"}`,
    ),
    ...(mismatch?.message ? [`    ${mismatch.message}`] : []),
  ]);
  return lines.length > 0 ? lines.join("\n") : report;
}
