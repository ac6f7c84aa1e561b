// Production sign-in in a real headless Chromium: the all-in-one with the development sign-in off
// and OpenID Connect on, against a real identity provider on 127.0.0.1 (oidc-provider). The
// console goes through the provider's login and consent pages by authorization code with PKCE,
// calls the API with the provider's access token, shows the screens its roles open, and returns to
// the sign-in when the person signs out or the token expires.

import { createTestDatabase, freePort, type RunningApp, startApp, type TestDatabase } from "@hexa/testing";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { capture, launch, poll } from "./browser.ts";
import { type IdentityProvider, startIdentityProvider } from "./identity-provider.ts";

const withChromium = describe.skipIf(inject("chromiumPath") === "");

const CLIENT_ID = "hexa-console";
const AUDIENCE = "urn:hexa:api";

withChromium("signing in to the console through an OpenID Connect provider", { timeout: 60_000 }, () => {
  let app: RunningApp;
  let database: TestDatabase;
  let browser: Browser;
  let provider: IdentityProvider;

  beforeAll(async () => {
    database = await createTestDatabase();
    const [appPort, providerPort] = await Promise.all([freePort(), freePort()]);
    provider = await startIdentityProvider({
      port: providerPort,
      consoleOrigin: `http://127.0.0.1:${appPort}`,
      clientId: CLIENT_ID,
      audience: AUDIENCE,
      roles: { "marketer-1": ["marketer"], alice: ["customer"], bob: ["customer"], visitor: [] },
    });
    [app, browser] = await Promise.all([
      startApp("all-in-one", {
        PORT: String(appPort),
        DATABASE_URL: database.url,
        AUTH_JWKS_URL: provider.jwksUrl,
        AUTH_ISSUER: provider.issuer,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_ROLE_CLAIM: "realm_access.roles",
        AUTH_CLIENT_TOKEN_URL: provider.tokenUrl,
        AUTH_CLIENT_ID: provider.serviceClient.id,
        AUTH_CLIENT_SECRET: provider.serviceClient.secret,
        CONSOLE_OIDC_CLIENT_ID: CLIENT_ID,
        CONSOLE_OIDC_SCOPE: "openid api",
        CONSOLE_OIDC_AUDIENCE: AUDIENCE,
      }),
      launch(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await provider?.close();
    await database?.drop();
  });

  /** A new person at the console, through the provider's login and consent pages as `login`. */
  async function signIn(login: string): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(app.url);
    await page.getByRole("button", { name: "Sign in with your organisation" }).click();
    await page.waitForURL(`${provider.issuer}/**`);
    await page.getByPlaceholder("Enter any login").fill(login);
    await page.getByPlaceholder("and password").fill("any password");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL(`${app.url}/**`);
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    // The code and state are gone from the address once the code is exchanged.
    expect(new URL(page.url()).search).toBe("");
    return { page, errors };
  }

  /** The page's session token (the console keeps it in the tab's session storage). */
  const sessionToken = (page: Page) =>
    page.evaluate(
      () => (JSON.parse(sessionStorage.getItem("hexa.console.session") ?? "{}") as { token: string }).token,
    );

  /** What the page's session token says. */
  const tokenClaims = async (page: Page) => {
    const payload = (await sessionToken(page)).split(".")[1] ?? "";
    return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  };

  it("offers the provider's sign-in, and no development sign-in", async () => {
    const config = (await (await fetch(`${app.url}/console/config.json`)).json()) as { signIn: unknown };
    expect(config.signIn).toEqual({
      mode: "oidc",
      authority: provider.issuer,
      clientId: CLIENT_ID,
      scope: "openid api",
      roleClaim: "realm_access.roles",
      audience: AUDIENCE,
    });
    const development = await fetch(`${app.url}/console/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ role: "marketer", subject: "marketer-1" }),
    });
    // Not there: the RPC handler answers it as an unknown procedure (Connect's unimplemented).
    expect(development.status).toBe(501);
  });

  it("signs a marketer in by code and PKCE, calls the API with the provider's token, and signs out at the provider", async () => {
    const authorizations: URL[] = [];
    const bearers: string[] = [];
    const { page, errors } = await signIn("marketer-1");
    page.on("request", (request) => {
      if (request.url().startsWith(`${provider.issuer}/auth`)) authorizations.push(new URL(request.url()));
      const authorization = request.headers().authorization;
      if (request.url().startsWith(app.url) && authorization) bearers.push(authorization);
    });
    const claims = await tokenClaims(page);
    expect(claims).toMatchObject({
      iss: provider.issuer,
      aud: AUDIENCE,
      sub: "marketer-1",
      client_id: CLIENT_ID,
      realm_access: { roles: ["marketer"] },
    });
    await expect(page.locator(".who span").textContent()).resolves.toBe("marketer-1 (marketer)");
    // The marketer's screens, and no customer's, courier's or vaccination screen.
    const screens = await page
      .getByRole("navigation", { name: "Screens" })
      .getByRole("link")
      .allTextContents();
    expect(screens).toEqual(["Trial plans", "Stock", "Order dashboard", "An order's story"]);

    // A real call with the provider's token: a plan started and listed.
    await page.goto(`${app.url}/#/plans`);
    await page.getByRole("heading", { level: 1, name: "Trial plans" }).waitFor();
    await page.getByLabel("Product", { exact: true }).fill("grinder");
    await page.getByLabel("Plan name").fill("Grinder fortnight");
    await page.getByLabel("Trial days").fill("14");
    await page.getByRole("button", { name: "Start plan" }).click();
    await page.getByRole("cell", { name: "Grinder fortnight", exact: true }).waitFor();
    expect(bearers.length).toBeGreaterThan(0);
    expect(new Set(bearers)).toEqual(new Set([`Bearer ${await sessionToken(page)}`]));
    await capture(page, "oidc-marketer-plans");

    // Signing out ends the provider's session too, and comes back to the console's sign-in.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${provider.issuer}/**`);
    await page.getByRole("button", { name: "Yes, sign me out" }).click();
    await page.waitForURL(`${app.url}/**`);
    await page.getByRole("button", { name: "Sign in with your organisation" }).waitFor();
    // Signing in again asks for the login again: the provider's session ended.
    await page.getByRole("button", { name: "Sign in with your organisation" }).click();
    await page.getByPlaceholder("Enter any login").waitFor();
    expect(authorizations).toHaveLength(1);
    expect(authorizations[0]?.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorizations[0]?.searchParams.get("resource")).toBe(AUDIENCE);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("refuses a token whose roles do not allow the call: no screen, and the service says why", async () => {
    const { page, errors } = await signIn("visitor");
    await expect(tokenClaims(page)).resolves.toMatchObject({ sub: "visitor", realm_access: { roles: [] } });
    await page.getByText("Your roles (none) open no screen here.").waitFor();
    // The API itself refuses the provider's token for a marketer's call.
    const answer = await page.evaluate(
      async (token) => {
        const response = await fetch("/trial.marketing.v1.MarketingService/ListTrialPlans", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: "{}",
        });
        return { status: response.status, body: (await response.json()) as { code: string } };
      },
      await sessionToken(page),
    );
    expect(answer).toMatchObject({ status: 403, body: { code: "permission_denied" } });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("lets a customer order with the provider's token, and refuses another customer her order's story", async () => {
    // The plan the marketer started above.
    const alice = await signIn("alice");
    await alice.page.getByRole("heading", { level: 1, name: "Catalogue" }).waitFor();
    const offer = alice.page.getByRole("form", { name: "Order Grinder fortnight" });
    await offer.getByLabel("Delivery address").fill("2 Side Street, Springfield");
    await offer.getByRole("button", { name: "Try it" }).click();
    await offer.getByRole("link", { name: /Follow order/ }).click();
    // Followed live on the dashboard, to its end: no stock, so the warehouse's shortage rejects it.
    await poll(() => alice.page.getByTestId("followed-status").textContent()).toBe("rejected");
    const orderId = decodeURIComponent(alice.page.url().split("/").pop() ?? "");

    const bob = await signIn("bob");
    await bob.page.goto(`${app.url}/#/story/${encodeURIComponent(orderId)}`);
    await poll(() => bob.page.getByRole("alert").textContent()).toMatch(/^Not allowed: /);
    await expect(bob.page.getByText(/Story of order/).count()).resolves.toBe(0);
    await capture(bob.page, "oidc-customer-refused-story");
    expect([...alice.errors, ...bob.errors]).toEqual([]);
    await alice.page.context().close();
    await bob.page.context().close();
  });

  it("refuses at sign-in an access token the services could not verify, naming the setting", async () => {
    const context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    // The console's configuration as a server without CONSOLE_OIDC_AUDIENCE would write it into
    // the page: the provider then issues an opaque token, for its own userinfo only.
    await context.addInitScript(`new MutationObserver((_, observer) => {
      const config = document.getElementById("console-config");
      if (!config) return;
      const parsed = JSON.parse(config.textContent);
      delete parsed.signIn.audience;
      config.textContent = JSON.stringify(parsed);
      observer.disconnect();
    }).observe(document, { childList: true, subtree: true })`);
    const page = await context.newPage();
    await page.goto(app.url);
    await page.getByRole("button", { name: "Sign in with your organisation" }).click();
    await page.getByPlaceholder("Enter any login").fill("marketer-1");
    await page.getByPlaceholder("and password").fill("any password");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
    await poll(() => page.getByRole("alert").textContent()).toMatch(
      /access token is not a JWT the services can verify.*CONSOLE_OIDC_AUDIENCE/,
    );
    expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
    await context.close();
  });

  it("returns to the sign-in when the provider's token expires", async () => {
    provider.accessTokenTtl = 6;
    try {
      const { page, errors } = await signIn("alice");
      const claims = await tokenClaims(page);
      expect(Number(claims.exp) - Number(claims.iat)).toBe(6);
      await page.getByRole("heading", { level: 1, name: "Catalogue" }).waitFor();
      await poll(() => page.getByRole("button", { name: "Sign in with your organisation" }).count()).toBe(1);
      await page.getByText("Your session has ended; please sign in again.").waitFor();
      await capture(page, "oidc-session-ended");
      // The provider still knows the person: signing in again needs no login.
      await page.getByRole("button", { name: "Sign in with your organisation" }).click();
      await page.getByRole("button", { name: "Sign out" }).waitFor();
      await page.getByRole("heading", { level: 1, name: "Catalogue" }).waitFor();
      expect(errors).toEqual([]);
      await page.context().close();
    } finally {
      provider.accessTokenTtl = 600;
    }
  });
});
