import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";

/**
 * Two versions of an OpenTelemetry package are two copies of its globals and its classes: a
 * provider from one copy does not see the context or spans of the other.
 */
it("locks one version of each OpenTelemetry package", () => {
  const lockfile = readFileSync(join(import.meta.dirname, "../../../../pnpm-lock.yaml"), "utf8");
  const versions = new Map<string, Set<string>>();
  for (const [, name, version] of lockfile.matchAll(/^ {2}'?(@opentelemetry\/[a-z0-9-]+)@([^(':]+)/gm)) {
    if (!name || !version) continue;
    versions.set(name, (versions.get(name) ?? new Set()).add(version));
  }
  expect(versions.get("@opentelemetry/core")).toBeDefined();
  expect(versions.get("@opentelemetry/instrumentation-pg")).toBeDefined();
  const several = [...versions]
    .filter(([, found]) => found.size > 1)
    .map(([name, found]) => `${name}: ${[...found]}`);
  expect(several).toEqual([]);
});
