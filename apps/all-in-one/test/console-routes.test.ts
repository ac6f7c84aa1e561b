// The console's plain HTTP routes on a real server: laptop sign-in (only with the development key,
// only on a loopback address), the console's files with the page for any route, its configuration.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createVerifier,
  DEV_AUDIENCE,
  DEV_ISSUER,
  type DevKeys,
  loadDevKeys,
} from "@hexa/adapters/auth/tokens";
import { type RunningServer, serve } from "@hexa/adapters/connect/server";
import { readEnvironment } from "@hexa/adapters/runtime/config";
import { oidcConfig } from "@hexa/console/server/config";
import { consoleRoutes } from "@hexa/console/server/routes";
import { testKeyDir } from "@hexa/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isLoopback, SIGN_IN_PATH, signInKeyDir, signInRoute } from "../src/sign-in.ts";

const keyEnv = () => ({ AUTH_DEV_KEY_DIR: testKeyDir() });

describe("laptop sign-in exists only with the development key on a loopback address", () => {
  it("is there on 127.0.0.1 and ::1 with the development key", () => {
    expect(signInKeyDir(readEnvironment({ ...keyEnv(), HOST: "127.0.0.1" }))).toBe(testKeyDir());
    expect(signInKeyDir(readEnvironment({ ...keyEnv(), HOST: "::1" }))).toBe(testKeyDir());
    expect(signInKeyDir(readEnvironment({ HOST: "127.0.0.1", DATA_DIR: "/tmp/d" }))).toBe("/tmp/d/auth");
  });

  it("is not there on another address, nor with an identity provider's keys", () => {
    expect(signInKeyDir(readEnvironment({ ...keyEnv(), HOST: "0.0.0.0" }))).toBeUndefined();
    expect(signInKeyDir(readEnvironment({ ...keyEnv(), HOST: "10.1.2.3" }))).toBeUndefined();
    const withProvider = readEnvironment({
      ...keyEnv(),
      HOST: "127.0.0.1",
      AUTH_JWKS_URL: "https://id.example.com/jwks",
      AUTH_ISSUER: "https://id.example.com/",
      AUTH_AUDIENCE: "hexa",
    });
    expect(signInKeyDir(withProvider)).toBeUndefined();
  });

  it("knows loopback addresses, IPv4-mapped ones included", () => {
    expect(["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost"].map(isLoopback)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(["0.0.0.0", "::", "192.168.1.2", "::ffff:10.0.0.1", undefined].map(isLoopback)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe("the console's routes on a real server", () => {
  let server: RunningServer;
  let dist: string;
  let keys: DevKeys;

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), "hexa-console-dist-"));
    await mkdir(join(dist, "assets"));
    writeFileSync(
      join(dist, "index.html"),
      '<!doctype html><head><title>console</title></head><div id="root"></div>',
    );
    writeFileSync(join(dist, "assets", "index-abc.js"), "console.log('console')");
    keys = await loadDevKeys(testKeyDir());
    server = await serve({
      host: "127.0.0.1",
      port: 0,
      logger: pino({ level: "silent" }),
      routes: () => {},
      httpRoutes: [
        signInRoute(testKeyDir()),
        ...consoleRoutes(
          { signIn: { mode: "development", endpoint: SIGN_IN_PATH, roles: ["customer"] } },
          dist,
        ),
      ],
    });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dist, { recursive: true, force: true });
  });

  const signIn = (body: unknown) =>
    fetch(`${server.url}${SIGN_IN_PATH}`, { method: "POST", body: JSON.stringify(body) });

  it("signs a development token with the role and subject asked for", async () => {
    const response = await signIn({ role: "customer", subject: " alice " });
    expect(response.status).toBe(200);
    const { token } = (await response.json()) as { token: string };
    const verified = await createVerifier(keys.publicKey, {
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
    }).verify(token);
    expect(verified).toMatchObject({ subject: "alice", roles: ["customer"] });
  });

  it("refuses a bad request naming its field, and any method but POST", async () => {
    const service = await signIn({ role: "service", subject: "alice" });
    expect(service.status).toBe(400);
    expect(await service.json()).toMatchObject({ field: "role" });
    const blank = await signIn({ role: "person", subject: "  " });
    expect(await blank.json()).toMatchObject({ field: "subject" });
    const notJson = await fetch(`${server.url}${SIGN_IN_PATH}`, { method: "POST", body: "role=admin" });
    expect(notJson.status).toBe(400);
    expect((await fetch(`${server.url}${SIGN_IN_PATH}`)).status).toBe(405);
  });

  it("serves the page for any route a browser opens, the files by name, and the configuration", async () => {
    for (const path of ["/", "/my-orders", "/story/123"]) {
      const page = await fetch(`${server.url}${path}`, { headers: { accept: "text/html" } });
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const html = await page.text();
      expect(html).toContain('<div id="root">');
      // The configuration is in the page: the first screen needs no second request.
      expect(inlineConfig(html)).toEqual({
        signIn: { mode: "development", endpoint: SIGN_IN_PATH, roles: ["customer"] },
      });
    }
    const script = await fetch(`${server.url}/assets/index-abc.js`);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(script.headers.get("cache-control")).toContain("immutable");
    const config = await fetch(`${server.url}/console/config.json`);
    expect(await config.json()).toEqual({
      signIn: { mode: "development", endpoint: SIGN_IN_PATH, roles: ["customer"] },
    });
  });

  it("writes a configuration into the page that cannot end its script element early", async () => {
    const reason = "</script><script>alert(1)</script>";
    const other = await serve({
      host: "127.0.0.1",
      port: 0,
      logger: pino({ level: "silent" }),
      routes: () => {},
      httpRoutes: consoleRoutes({ signIn: { mode: "unavailable", reason } }, dist),
    });
    try {
      const html = await (await fetch(other.url, { headers: { accept: "text/html" } })).text();
      expect(html).not.toContain("<script>alert(1)");
      expect(inlineConfig(html)).toEqual({ signIn: { mode: "unavailable", reason } });
    } finally {
      await other.close();
    }
  });

  it("leaves API calls and what is outside the build to the RPC handler", async () => {
    // The RPC handler answers what it does not serve as an unknown RPC: 501, Connect's unimplemented.
    const outside = await fetch(`${server.url}/assets/..%2f..%2f..%2fetc%2fpasswd`);
    expect(outside.status).toBe(501);
    expect(await outside.json()).toMatchObject({ code: "unimplemented" });
    const call = await fetch(
      `${server.url}/trial.order.v1.OrderService/GetOrder?connect=v1&encoding=json&message={}`,
    );
    expect(call.status).toBe(501);
  });
});

describe("the console's sign-in configuration beside an identity provider", () => {
  it("is OpenID Connect when a client id and an authority are set", () => {
    expect(
      oidcConfig({
        CONSOLE_OIDC_CLIENT_ID: "console",
        AUTH_ISSUER: "https://id.example.com/realms/hexa",
        AUTH_ROLE_CLAIM: "realm_access.roles",
      }),
    ).toEqual({
      signIn: {
        mode: "oidc",
        authority: "https://id.example.com/realms/hexa",
        clientId: "console",
        scope: "openid profile",
        roleClaim: "realm_access.roles",
      },
    });
  });

  it("says sign-in is unavailable, and why, without them", () => {
    expect(oidcConfig({})).toMatchObject({
      signIn: { mode: "unavailable", reason: /CONSOLE_OIDC_CLIENT_ID/ },
    });
  });
});

/** The configuration a page holds in its `console-config` element. */
function inlineConfig(html: string): unknown {
  const found = /<script id="console-config" type="application\/json">(.*?)<\/script>/.exec(html);
  return found ? JSON.parse(found[1] ?? "") : undefined;
}
