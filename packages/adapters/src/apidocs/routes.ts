/**
 * The API's description, served beside the RPCs without credentials: `GET /openapi.json`,
 * `GET /asyncapi.json`, and an API reference page at `/docs` (Scalar, its bundle served from
 * node_modules at `/docs/scalar.js`, nothing fetched from elsewhere).
 */
import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { HttpRoute } from "../connect/server.ts";
import type { ServiceModule } from "../runtime/service-module.ts";
import { type ApiDocuments, apiDocuments } from "./documents.ts";

export const API_DOCS_PATHS = {
  openapi: "/openapi.json",
  asyncapi: "/asyncapi.json",
  reference: "/docs",
  referenceScript: "/docs/scalar.js",
} as const;

/**
 * The page: Scalar's standalone bundle showing both documents, without its fonts, proxy, telemetry,
 * developer toolbar or AI agent (each of which would call out of the server).
 */
const REFERENCE_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>hexa API reference</title>
  </head>
  <body>
    <div id="app"></div>
    <script src="${API_DOCS_PATHS.referenceScript}"></script>
    <script>
      Scalar.createApiReference("#app", ${JSON.stringify({
        sources: [
          { title: "RPCs (OpenAPI)", slug: "rpc", url: API_DOCS_PATHS.openapi },
          { title: "Events (AsyncAPI)", slug: "events", url: API_DOCS_PATHS.asyncapi },
        ],
        withDefaultFonts: false,
        telemetry: false,
        showDeveloperTools: "never",
        agent: { disabled: true },
      })});
    </script>
  </body>
</html>
`;

/**
 * The routes of the documents of `modules` (see ./documents.ts). The documents are built here, so a
 * module that cannot be described stops the start instead of failing a request.
 */
export function apiDocsRoutes(modules: readonly ServiceModule[]): HttpRoute[] {
  const documents: ApiDocuments = apiDocuments(modules);
  const json = (pick: (docs: ApiDocuments) => unknown) => () =>
    Promise.resolve({ type: "application/json", body: JSON.stringify(pick(documents)) });
  let script: Promise<Buffer> | undefined;
  const answers: Record<string, () => Promise<{ type: string; body: string | Buffer }>> = {
    [API_DOCS_PATHS.openapi]: json((docs) => docs.openapi),
    [API_DOCS_PATHS.asyncapi]: json((docs) => docs.asyncapi),
    [API_DOCS_PATHS.reference]: () =>
      Promise.resolve({ type: "text/html; charset=utf-8", body: REFERENCE_PAGE }),
    [API_DOCS_PATHS.referenceScript]: async () => {
      script ??= readFile(scalarBundlePath());
      return { type: "text/javascript; charset=utf-8", body: await script };
    },
  };
  return [
    (req, res) => {
      const answer = answers[(req.url ?? "").split("?")[0] ?? ""];
      if (!answer || (req.method !== "GET" && req.method !== "HEAD")) return false;
      // Both response kinds share this part of the API; the union's overloads do not unify in types.
      const out = res as ServerResponse;
      answer().then(
        ({ type, body }) => {
          const bytes = typeof body === "string" ? Buffer.from(body) : body;
          out.writeHead(200, {
            "content-type": type,
            "content-length": String(bytes.byteLength),
            "cache-control": "no-cache",
          });
          out.end(req.method === "HEAD" ? undefined : bytes);
        },
        (error: unknown) => {
          out.writeHead(500, { "content-type": "text/plain" });
          out.end(`${error instanceof Error ? error.message : String(error)}\n`);
        },
      );
      return true;
    },
  ];
}

/** Scalar's self-contained browser bundle, beside the package's entry point. */
function scalarBundlePath(): string {
  return join(
    dirname(createRequire(import.meta.url).resolve("@scalar/api-reference")),
    "browser",
    "standalone.js",
  );
}
