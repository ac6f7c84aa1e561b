// Driving the console in a real headless Chromium (the system's, found by the global setup) as
// its actors: one browser context per actor, so each has its own session.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { expect, inject } from "vitest";

/** Where the screenshots go (git-ignored). */
export const ARTIFACTS = resolve(import.meta.dirname, "../../test-artifacts");

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export const PHONE = { width: 390, height: 844 };

/** Polls what the screen shows until it matches; events and streams may take a moment on a busy machine. */
export const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 10_000, interval: 100 });

export async function launch(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: inject("chromiumPath"), args: ["--no-sandbox"] });
}

export interface Actor {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Opens `#/<screen>` and waits for its heading. */
  open(screen: string, heading: string): Promise<void>;
}

/** A new person at the console, signed in (laptop mode) with `role` as `subject`. */
export async function signIn(
  browser: Browser,
  url: string,
  role: string,
  subject: string,
  viewport = { width: 1280, height: 900 },
): Promise<Actor> {
  const context = await browser.newContext({ viewport });
  // Waits fail with what they waited for, well before the test's own timeout.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url);
  await page.getByLabel("Role").selectOption(role);
  await page.getByLabel("Subject (who you are)").fill(subject);
  await page.getByRole("button", { name: "Sign in" }).click();
  await poll(() => page.getByRole("button", { name: "Sign out" }).count()).toBe(1);
  expect(errors).toEqual([]);
  return {
    page,
    context,
    async open(screen, heading) {
      await page.goto(`${url}/#/${screen}`);
      await page.getByRole("heading", { level: 1, name: heading }).waitFor();
    },
  };
}

/** The page's serious and critical accessibility violations (axe-core), as "rule: target" lines. */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map(
      (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`,
    );
}

interface AxeViolation {
  id: string;
  impact: string | null;
  nodes: { target: string[] }[];
}

/** A screenshot of the whole page as a test artifact, after checking it for accessibility. */
export async function capture(page: Page, name: string): Promise<void> {
  expect(await seriousViolations(page), `accessibility of ${name}`).toEqual([]);
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
