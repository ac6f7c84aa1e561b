import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const core = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(core, "src");

/** Every module specifier a file names: static and type imports, re-exports, dynamic imports, require. */
function specifiers(text: string): string[] {
  const patterns = [
    /\b(?:import|export)\b[^'"`;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1] ?? ""));
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? files(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

describe("packages/core stays pure", () => {
  it("declares no runtime dependencies", () => {
    const manifest = JSON.parse(readFileSync(join(core, "package.json"), "utf8"));
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
  });

  it("imports nothing but its own modules and node: built-ins", () => {
    const offending = files(source).flatMap((file) =>
      specifiers(readFileSync(file, "utf8"))
        .filter((specifier) => {
          if (specifier.startsWith("node:")) return false;
          if (!specifier.startsWith(".")) return true;
          return relative(source, resolve(dirname(file), specifier)).startsWith("..");
        })
        .map((specifier) => `${relative(core, file)} imports ${specifier}`),
    );
    expect(offending).toEqual([]);
  });

  it("recognises every import form it checks (so the check can fail)", () => {
    const sample = [
      'import { a } from "@mikro-orm/core";',
      'import type { B } from "../../../adapters/x.ts";',
      'export * from "pino";',
      'import "reflect-metadata";',
      'const m = await import("nats");',
    ].join("\n");
    expect(specifiers(sample)).toEqual([
      "@mikro-orm/core",
      "../../../adapters/x.ts",
      "pino",
      "reflect-metadata",
      "nats",
    ]);
  });
});
