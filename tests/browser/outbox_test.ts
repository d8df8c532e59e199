/**
 * The outbox in Chromium, through the built ESM bundle (the storm's page: a host that behaves as
 * Carbon 1.9 does, a simulated Kustomer kept in `localStorage` across loads): the user sends and the
 * page reloads in the same task, before the desk's IndexedDB write can land; the next page shows
 * the message in the history and puts it on Kustomer exactly once.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { stop } from "esbuild";
import type { Page } from "playwright-core";
import { IGNORE, requireBrowser } from "./_helpers.ts";
import { launchChromium, serveStorm } from "../storm/storm.ts";
import type { SimServerState } from "../../simulator.ts";
import type { StormLogEntry } from "../storm/page.ts";

type Storm = {
  ready: boolean;
  requestAgent(): void;
  userSend(text: string): void;
  agentSend(text: string): string | undefined;
  snapshot(): { server: SimServerState | null; log: StormLogEntry[] };
};
declare const storm: Storm;

/** Waits until `check` holds on the page's snapshot. */
async function until(
  page: Page,
  check: (s: ReturnType<Storm["snapshot"]>) => boolean,
  what: string,
  ms = 15_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const s = await page.evaluate(() => storm.ready ? storm.snapshot() : undefined).catch(
      () => undefined,
    );
    if (s && check(s)) return;
    await page.waitForTimeout(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The texts the customer sent in Kustomer's conversations. */
const customerTexts = (s: ReturnType<Storm["snapshot"]>): string[] =>
  (s.server?.conversations ?? []).flatMap((c) =>
    c.messages.filter((m) => m.direction === "in").map((m) => m.body ?? "")
  );

Deno.test({
  name: "the outbox in Chromium: a message sent as the page reloads reaches Kustomer once",
  ignore: IGNORE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    requireBrowser();
    const site = await serveStorm();
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${site.url}?page=0&seed=7&key=outbox-key`);
      await until(page, () => true, "the page");
      await page.evaluate(() => storm.requestAgent());
      await until(page, (s) => s.log.some((e) => e.kind === "startResolved"), "the chat");
      await page.evaluate(() => storm.agentSend("Hi, Ada here."));
      await until(
        page,
        (s) => s.log.some((e) => e.kind === "shown" && String(e.text).includes("Ada here")),
        "the agent's message",
      );
      // The moment the desk keeps the message in the outbox (inside sendMessageToAgent, before
      // anything asynchronous), the page's IndexedDB writes start failing and the page reloads:
      // the log never gets the message.
      await Promise.all([
        page.waitForEvent("load"),
        page.evaluate(() => {
          const setItem = Storage.prototype.setItem;
          Storage.prototype.setItem = function (key: string, value: string) {
            setItem.call(this, key, value);
            if (key.startsWith("kustomer-service-desk:outbox:")) {
              IDBObjectStore.prototype.add = IDBObjectStore.prototype.put = () => {
                throw new DOMException("the page is going away", "UnknownError");
              };
              location.replace(location.href.replace("page=0", "page=1"));
            }
          };
          storm.userSend("sent as the page reloads");
        }).catch(() => {/* the page went away */}),
      ]);
      await until(page, (s) => s.log.some((e) => e.page === 1 && e.kind === "reconnect"), "resume");
      await until(
        page,
        (s) => customerTexts(s).includes("sent as the page reloads"),
        "the message on Kustomer",
      );
      // Long enough for a second send (the simulated network takes up to 300 ms a step).
      await page.waitForTimeout(3_000);
      const s = await page.evaluate(() => storm.snapshot());
      assertEquals(
        customerTexts(s).filter((text) => text === "sent as the page reloads").length,
        1,
        "exactly once",
      );
      const history = s.log.filter((e) => e.page === 1 && e.kind === "history");
      assertEquals(history.map((e) => e.text), ["sent as the page reloads"], "shown again");
      assertEquals(
        s.log.filter((e) => e.page === 1 && e.kind === "reconnect").map((e) => e.result),
        [true],
      );
      const kept = await page.evaluate(() =>
        Object.keys(localStorage).filter((k) => k.startsWith("kustomer-service-desk:outbox:"))
      );
      assertEquals(kept, [], "the outbox let it go");
    } finally {
      await browser.close();
      await site.close();
      await stop();
    }
  },
});
