import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pactsDir, verificationsDir } from "./paths.ts";

/** A pact file in contracts/pacts/. */
export interface PactFile {
  /** File name, `<consumer>-<provider>.json`. */
  readonly name: string;
  readonly path: string;
  readonly consumer: string;
  readonly provider: string;
  /** SHA-256 of the file's bytes: a verification result holds for exactly this content. */
  readonly sha256: string;
  /** Descriptions of its interactions. */
  readonly interactions: readonly string[];
}

/** Every pact file, by name. */
export function allPacts(): PactFile[] {
  if (!existsSync(pactsDir)) return [];
  return readdirSync(pactsDir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => readPact(join(pactsDir, name), name));
}

/** The pacts a provider has to honour. */
export function pactsOf(provider: string): PactFile[] {
  return allPacts().filter((pact) => pact.provider === provider);
}

function readPact(path: string, name: string): PactFile {
  const bytes = readFileSync(path);
  const content = JSON.parse(bytes.toString("utf8")) as {
    consumer?: { name?: string };
    provider?: { name?: string };
    interactions?: Array<{ description?: string }>;
  };
  const consumer = content.consumer?.name;
  const provider = content.provider?.name;
  if (!consumer || !provider) throw new Error(`${path} names no consumer or no provider`);
  return {
    name,
    path,
    consumer,
    provider,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    interactions: (content.interactions ?? []).map((interaction) => interaction.description ?? ""),
  };
}

/** The outcome of verifying one pact file against its provider. */
export interface VerificationRecord {
  readonly pact: string;
  readonly sha256: string;
  readonly consumer: string;
  readonly provider: string;
  /** The vitest run that verified it. */
  readonly run: string;
  readonly success: boolean;
  readonly verifiedAt: string;
  /** The verifier's report of a failure. */
  readonly failure?: string;
}

export function recordVerification(record: VerificationRecord): void {
  mkdirSync(verificationsDir, { recursive: true });
  writeFileSync(join(verificationsDir, record.pact), `${JSON.stringify(record, null, 2)}\n`);
}

export function readVerification(pact: PactFile): VerificationRecord | undefined {
  const path = join(verificationsDir, pact.name);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as VerificationRecord;
}
