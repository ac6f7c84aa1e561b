/**
 * Serving the built console (apps/console/dist) beside the API on the same origin: its files,
 * `/console/config.json` (how people sign in), and index.html for any other page a browser
 * navigates to (the console routes in the page itself), with the same configuration written into
 * it, so the first screen needs no second request.
 */
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize, resolve, sep } from "node:path";
import type { HttpRoute } from "@hexa/adapters/connect/server";
import type { ConsoleConfig } from "./config.ts";

/** The element of the page that holds the configuration (see src/config.ts). */
export const CONFIG_ELEMENT_ID = "console-config";

/** Where `vite build` writes the console (the install runs it). */
export const CONSOLE_DIST = resolve(import.meta.dirname, "../dist");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

/** Answers with `status`, `headers` and `body` (HTTP/1.1 or HTTP/2 alike); `end: false` leaves the body open. */
export function reply(
  res: Parameters<HttpRoute>[1],
  status: number,
  headers: Record<string, string>,
  body?: string,
  end = true,
): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (end) res.end(body ?? "");
}

/** The console's routes; `dir` holds the build. */
export function consoleRoutes(config: ConsoleConfig, dir = CONSOLE_DIST): HttpRoute[] {
  const configJson = JSON.stringify(config);
  // In a script element: "<" escaped, so no value can end the element early.
  const inlineConfig = `<script id="${CONFIG_ELEMENT_ID}" type="application/json">${configJson.replaceAll("<", "\\u003c")}</script>`;
  const file = (path: string): string | undefined => {
    const candidate = normalize(join(dir, decodeURIComponent(path)));
    if (!candidate.startsWith(`${dir}${sep}`) || !existsSync(candidate) || !statSync(candidate).isFile())
      return undefined;
    return candidate;
  };
  return [
    (req, res) => {
      if (req.method !== "GET" && req.method !== "HEAD") return false;
      const path = new URL(req.url ?? "/", "http://console").pathname;
      if (path === "/console/config.json") {
        reply(res, 200, { "content-type": "application/json", "cache-control": "no-store" }, configJson);
        return true;
      }
      const found = path === "/" ? undefined : file(path);
      // A page the browser navigates to (not an API call, not a file): the console itself.
      const page =
        found ?? (String(req.headers.accept ?? "").includes("text/html") ? file("index.html") : undefined);
      if (!page) {
        if (path !== "/" && !String(req.headers.accept ?? "").includes("text/html")) return false;
        reply(
          res,
          503,
          { "content-type": "text/plain; charset=utf-8" },
          `The console is not built (${dir} is missing): run ./hexa pnpm --filter @hexa/console build\n`,
        );
        return true;
      }
      // Vite names assets by their content: they never change, the page always may.
      const immutable = page.includes(`${dir}/assets/`);
      const headers = {
        "content-type": TYPES[extname(page)] ?? "application/octet-stream",
        "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
        "x-content-type-options": "nosniff",
      };
      if (req.method === "HEAD") reply(res, 200, headers);
      else if (page.endsWith(`${sep}index.html`)) {
        // Read each time: a rebuild while the server runs is served at once.
        reply(res, 200, headers, readFileSync(page, "utf8").replace("</head>", `${inlineConfig}</head>`));
      } else {
        reply(res, 200, headers, undefined, false);
        createReadStream(page).pipe(res as NodeJS.WritableStream);
      }
      return true;
    },
  ];
}
