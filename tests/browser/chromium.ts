/**
 * Where Chromium is and how it is started, shared by the browser tests and `deno task bench:browser`
 * (no side effects on import). Debian's Chromium, never a downloaded one.
 *
 * @module
 */

/** Where Chromium is expected: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM_PATH: string = (() => {
  try {
    return Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
  } catch {
    return "/usr/bin/chromium";
  }
})();

/** Headless, sandbox-free, and no background traffic (this machine reaches no network). */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
