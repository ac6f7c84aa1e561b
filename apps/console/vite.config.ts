// The console's build: one page, its entry chunk plus the chunks it imports statically are what
// the first screen loads; the charts and the OpenID Connect client load on demand. The build prints
// that initial JavaScript gzipped and fails above the budget.
import { gzipSync } from "node:zlib";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

/** Most initial JavaScript, gzipped, the first screen may load. */
const INITIAL_JS_BUDGET = 250 * 1024;

function initialJavaScriptBudget(): Plugin {
  return {
    name: "initial-javascript-budget",
    apply: "build",
    generateBundle(_options, bundle) {
      const chunks = new Map(
        Object.values(bundle).flatMap((file) => (file.type === "chunk" ? [[file.fileName, file]] : [])),
      );
      const initial = new Set<string>();
      const visit = (name: string) => {
        if (initial.has(name)) return;
        initial.add(name);
        for (const imported of chunks.get(name)?.imports ?? []) visit(imported);
      };
      for (const chunk of chunks.values()) if (chunk.isEntry) visit(chunk.fileName);
      const gzipped = [...initial].reduce(
        (sum, name) => sum + gzipSync(chunks.get(name)?.code ?? "").length,
        0,
      );
      const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
      console.log(
        `[console] initial JavaScript: ${kb(gzipped)} gzipped (${initial.size} chunks; budget ${kb(INITIAL_JS_BUDGET)})`,
      );
      if (gzipped > INITIAL_JS_BUDGET)
        this.error(`initial JavaScript ${kb(gzipped)} exceeds ${kb(INITIAL_JS_BUDGET)}`);
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), initialJavaScriptBudget()],
  build: { outDir: "dist", emptyOutDir: true, reportCompressedSize: false },
  logLevel: "warn",
});
