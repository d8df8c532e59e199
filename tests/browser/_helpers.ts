/**
 * Shared setup of the browser tests: find Chromium (or say loudly why the tests are skipped),
 * build the bundles once per test file into a temporary directory, serve them, and drive
 * Carbon AI Chat.
 *
 * - `CHROMIUM_PATH` overrides `/usr/bin/chromium`.
 * - `REQUIRE_BROWSER=1` turns a missing Chromium (or missing permissions) into a failure.
 *
 * @module
 */

import type { Browser, Locator, Page } from "playwright-core";
import { build, type BuildResult } from "../../build.ts";
import { serveFiles, type ServeFilesOptions } from "../../dev.ts";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./chromium.ts";

export { CHROMIUM_PATH };

const env = (name: string): string | undefined => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};

/** Whether a skipped browser test is a failure. */
export const REQUIRE_BROWSER: boolean = env("REQUIRE_BROWSER") === "1";

function why(): string | undefined {
  // Playwright reads /proc and spawns Chromium: it needs every permission (-A).
  const needed: Deno.PermissionDescriptor[] = [
    { name: "run" },
    { name: "net" },
    { name: "write" },
    { name: "read" },
    { name: "env" },
    { name: "sys" },
    { name: "ffi" },
  ];
  const missing = needed.filter((p) => Deno.permissions.querySync(p).state !== "granted");
  if (missing.length) {
    return `the test run lacks permissions (${
      missing.map((p) => `--allow-${p.name}`).join(" ")
    }); Playwright needs -A (deno task test:browser)`;
  }
  try {
    Deno.statSync(CHROMIUM_PATH);
  } catch {
    return `Chromium was not found at ${CHROMIUM_PATH} (install it, or set CHROMIUM_PATH)`;
  }
  return undefined;
}

/** Why browser tests cannot run here, or undefined when they can. */
export const SKIP_REASON: string | undefined = why();

/** Whether to register browser tests as ignored (skipped loudly, unless REQUIRE_BROWSER=1). */
export const IGNORE: boolean = SKIP_REASON !== undefined && !REQUIRE_BROWSER;

if (SKIP_REASON) {
  const line = "!".repeat(100);
  console.error(
    `\n${line}\n!!! BROWSER TESTS ${REQUIRE_BROWSER ? "FAIL" : "SKIPPED"}: ${SKIP_REASON}\n` +
      `!!! ${
        REQUIRE_BROWSER
          ? "REQUIRE_BROWSER=1 is set, so this is a failure."
          : "Set REQUIRE_BROWSER=1 to make this a failure."
      }\n${line}\n`,
  );
}

/** Fails the test when the browser tests cannot run (only reached when REQUIRE_BROWSER=1). */
export function requireBrowser(): void {
  if (SKIP_REASON) throw new Error(`Browser tests required but cannot run: ${SKIP_REASON}`);
}

/** Launches headless Chromium (never downloads one). */
export async function launch(): Promise<Browser> {
  // Imported here, not at the top: without -A, importing Playwright throws.
  const { chromium } = await import("playwright-core");
  return await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS],
  });
}

/**
 * Registers a browser test: ignored (loudly) when Chromium cannot run here, unless
 * REQUIRE_BROWSER=1; otherwise it gets freshly built bundles. Playwright's pipes outlive a test's
 * ops, so the op and resource sanitizers are off.
 */
export function browserTest(
  name: string,
  fn: (t: Deno.TestContext, built: BuildResult) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: IGNORE,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      requireBrowser();
      await fn(t, await buildOnce());
    },
  });
}

/** Builds every bundle into a fresh temporary directory (budget not enforced: a test checks it). */
export async function buildOnce(): Promise<BuildResult> {
  const outDir = await Deno.makeTempDir({ prefix: "kustomer-desk-dist-" });
  return await build({ outDir, enforceBudget: false, types: false, log: () => {} });
}

/** Serves example.html, the built files and extra pages; returns the base URL and the server. */
export function serve(
  options: ServeFilesOptions,
): { url: string; server: Deno.HttpServer<Deno.NetAddr> } {
  const server = serveFiles(options);
  return { url: `http://127.0.0.1:${server.addr.port}`, server };
}

/** The directory the tests save screenshots to (gitignored). */
export const ARTIFACTS: string = new URL("../artifacts/", import.meta.url).pathname;

// --- Carbon AI Chat -------------------------------------------------------------------------

/** Carbon's contenteditable input (inside its shadow DOM; Playwright's CSS pierces it). */
export const INPUT = '[data-testid="input_field"]';
/** Carbon's send button. */
export const SEND = '[data-testid="input_send"]';
/** Carbon's rendered messages. */
export const MESSAGES = '[data-testid^="message-by-index-"]';

/** Types a message into Carbon and sends it. */
export async function send(page: Page, text: string): Promise<void> {
  const input = page.locator(INPUT);
  await input.click();
  await input.fill(text);
  await page.locator(SEND).click();
}

/** The visible text of each Carbon message, through shadow roots. */
export function transcript(page: Page): Promise<string[]> {
  return page.locator(MESSAGES).evaluateAll((els) =>
    els.map((el) => {
      const parts: string[] = [];
      const walk = (n: Node) => {
        if (n.nodeType === Node.TEXT_NODE) {
          const t = n.textContent!.trim();
          if (t) parts.push(t);
          return;
        }
        if (n.nodeName === "STYLE" || n.nodeName === "SCRIPT") return;
        const sr = (n as Element).shadowRoot;
        if (sr) sr.childNodes.forEach(walk);
        n.childNodes.forEach(walk);
      };
      walk(el);
      return parts.join(" ").replace(/\s+/g, " ");
    })
  );
}

/** How many Carbon messages contain `text`. */
export async function countMessages(page: Page, text: string): Promise<number> {
  return (await transcript(page)).filter((t) => t.includes(text)).length;
}

/** Waits until some Carbon message shows `text`. */
export async function waitForMessage(page: Page, text: string, timeout = 15_000): Promise<void> {
  await page.locator(MESSAGES).filter({ hasText: text }).first().waitFor({ timeout });
}

/** Collects page errors and console errors, to assert none happened. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  return errors;
}

/** A locator for a Carbon message containing `text`. */
export function message(page: Page, text: string): Locator {
  return page.locator(MESSAGES).filter({ hasText: text });
}
