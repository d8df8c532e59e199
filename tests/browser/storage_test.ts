/**
 * Broken storage in Chromium, with the built bundle and real IndexedDB: IndexedDB that cannot be
 * opened (as in some private modes), an open blocked behind another tab's version change, a full
 * disk (quota error) on append, and the database deleted under a live chat (another tab clears
 * the site's data). Each time the chat goes on in memory with one warning, and the log is written
 * again as soon as storage works.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { stop } from "esbuild";
import type { BrowserContext, Page } from "playwright-core";
import { browserTest, launch, serve, watchErrors } from "./_helpers.ts";

/** A page with the desk (ESM bundle), the simulator and a host that records what it is shown. */
const PAGE =
  `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>storage</title>
<script type="module">
  import { kustomerServiceDeskFactory } from "/dist/kustomer-service-desk.js";
  import { SimulatedKustomerCore } from "/dist/simulator.js";
  const sim = new SimulatedKustomerCore({ script: false });
  const shown = [];
  const callback = new Proxy({}, {
    get: (_, name) => (...args) => {
      if (name === "sendMessageToUser") {
        shown.push(args[0].output.generic.map((g) => g.text ?? "").join(" "));
      }
    },
  });
  const desk = kustomerServiceDeskFactory({ core: sim, heartbeatMs: 0, orphanTimeoutMs: 0 })({
    callback,
  });
  const conversation = () => sim.conversations.at(-1).conversationId;
  window.t = {
    desk,
    shown,
    start: () =>
      desk.startChat({ output: { generic: [{ response_type: "connect_to_agent" }] } }),
    agent: (text) => sim.agentSend(conversation(), text),
    user: (id, text) => desk.sendMessageToAgent({ id, input: { text } }, id),
    /** Every record of the desk's database, as JSON (empty when there is none). */
    stored: () => new Promise((resolve) => {
      const request = indexedDB.open("kustomer-service-desk");
      request.onupgradeneeded = () => request.transaction.abort();
      request.onerror = () => resolve("");
      request.onsuccess = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains("logs")) return db.close(), resolve("");
        const all = db.transaction("logs").objectStore("logs").getAll();
        all.onsuccess = () => (db.close(), resolve(JSON.stringify(all.result)));
      };
    }),
  };
  window.ready = true;
</script>`;

type Harness = {
  t: {
    desk: { state?: { status: string } };
    shown: string[];
    start(): Promise<void>;
    agent(text: string): void;
    user(id: string, text: string): Promise<void>;
    stored(): Promise<string>;
  };
};
declare const t: Harness["t"];

/** The desk's console warnings on a page. */
function warnings(page: Page): string[] {
  const lines: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "warning" && m.text().includes("Kustomer service desk")) lines.push(m.text());
  });
  return lines;
}

/** Starts a chat and has one message each way. */
async function chat(page: Page, tag: string): Promise<void> {
  await page.waitForFunction(() => "ready" in globalThis);
  await page.evaluate(() => t.start());
  await page.evaluate((tag) => t.agent(`agent ${tag}`), tag);
  await page.waitForFunction((tag) => t.shown.includes(`agent ${tag}`), tag);
  await page.evaluate((tag) => t.user(`u-${tag}`, `user ${tag}`), tag);
}

/** The chat goes on: another message each way, shown and sent. */
async function goesOn(page: Page, tag: string): Promise<void> {
  await page.evaluate((tag) => t.agent(`agent ${tag}`), tag);
  await page.waitForFunction((tag) => t.shown.includes(`agent ${tag}`), tag);
  await page.evaluate((tag) => t.user(`u-${tag}`, `user ${tag}`), tag);
  assertEquals(await page.evaluate(() => t.desk.state?.status), "connected");
}

browserTest(
  "broken storage: the chat goes on in memory with one warning, and is saved again",
  async (test, built) => {
    const { url, server } = serve({ distDir: built.outDir, pages: { "/storage.html": PAGE } });
    const browser = await launch();
    const fresh = async (
      init?: () => void,
    ): Promise<[BrowserContext, Page, string[], string[]]> => {
      const context = await browser.newContext();
      if (init) await context.addInitScript(init);
      const page = await context.newPage();
      const errors = watchErrors(page);
      const warned = warnings(page);
      await page.goto(`${url}/storage.html`);
      return [context, page, warned, errors];
    };
    try {
      await test.step("IndexedDB cannot be opened (private mode)", async () => {
        const [context, page, warned, errors] = await fresh(() => {
          const g = globalThis as unknown as { broken: boolean; indexedDB: IDBFactory };
          g.broken = true;
          const open = IDBFactory.prototype.open;
          IDBFactory.prototype.open = function (this: IDBFactory, ...args: [string, number?]) {
            if (g.broken) {
              throw new DOMException("A mutation operation was attempted", "InvalidStateError");
            }
            return open.apply(this, args);
          };
        });
        await chat(page, "1");
        assertEquals(warned.length, 1, warned.join("\n"));
        assert(/could not save/.test(warned[0]), warned[0]);
        // Storage comes back: the next event writes everything kept in memory.
        await page.evaluate(() => (globalThis as unknown as { broken: boolean }).broken = false);
        await goesOn(page, "2");
        await page.waitForFunction(() => t.stored().then((s) => s.includes("agent 2")));
        const stored = await page.evaluate(() => t.stored());
        for (const text of ["agent 1", "user 1", "agent 2", "user 2"]) {
          assert(stored.includes(text), text);
        }
        assertEquals(errors, []);
        await context.close();
      });

      await test.step("an open blocked behind another tab's version change", async () => {
        const context = await browser.newContext();
        // Another tab holds the database open and asks for an upgrade it never lets through.
        const other = await context.newPage();
        await other.goto(`${url}/storage.html`);
        await other.evaluate(() =>
          new Promise<void>((resolve) => {
            const g = globalThis as unknown as { holder: IDBDatabase };
            const request = indexedDB.open("kustomer-service-desk", 1);
            request.onupgradeneeded = () => request.result.createObjectStore("logs");
            request.onsuccess = () => {
              g.holder = request.result; // no onversionchange: it will not close
              indexedDB.open("kustomer-service-desk", 2); // blocked by the holder
              resolve();
            };
          })
        );
        const page = await context.newPage();
        const errors = watchErrors(page);
        const warned = warnings(page);
        await page.goto(`${url}/storage.html`);
        await chat(page, "1");
        assertEquals(warned.length, 1, warned.join("\n"));
        assert(/did not open/.test(warned[0]), warned[0]);
        // The other tab goes away: the upgrade goes through, and the desk writes again.
        await other.close();
        await goesOn(page, "2");
        await page.waitForFunction(() => t.stored().then((s) => s.includes("agent 2")), undefined, {
          timeout: 15_000,
        });
        assertEquals(errors, []);
        await context.close();
      });

      await test.step("a quota error on append", async () => {
        const [context, page, warned, errors] = await fresh(() => {
          const g = globalThis as unknown as { full: boolean };
          g.full = false;
          // A full disk refuses every write (an append is add() of its events).
          for (const name of ["put", "add"] as const) {
            const write = IDBObjectStore.prototype[name];
            IDBObjectStore.prototype[name] = function (
              this: IDBObjectStore,
              ...args: [unknown, IDBValidKey?]
            ) {
              if (g.full) {
                throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
              }
              return write.apply(this, args);
            };
          }
        });
        await page.waitForFunction(() => "ready" in globalThis);
        await page.evaluate(() => t.start());
        await page.evaluate(() => (globalThis as unknown as { full: boolean }).full = true);
        await page.evaluate(() => t.agent("agent 1"));
        await page.waitForFunction(() => t.shown.includes("agent 1"));
        await page.evaluate(() => t.user("u-1", "user 1"));
        assertEquals(warned.length, 1, warned.join("\n"));
        assert(/QuotaExceededError/.test(warned[0]), warned[0]);
        assert(!(await page.evaluate(() => t.stored())).includes("agent 1"));
        await page.evaluate(() => (globalThis as unknown as { full: boolean }).full = false);
        await goesOn(page, "2");
        await page.waitForFunction(() => t.stored().then((s) => s.includes("agent 2")));
        assert(
          (await page.evaluate(() => t.stored())).includes("agent 1"),
          "kept in memory, then saved",
        );
        assertEquals(errors, []);
        await context.close();
      });

      await test.step("the database deleted under a live chat (site data cleared)", async () => {
        const [context, page, warned, errors] = await fresh();
        await chat(page, "1");
        assert((await page.evaluate(() => t.stored())).includes("agent 1"));
        const cdp = await context.newCDPSession(page);
        await cdp.send("Storage.clearDataForOrigin", { origin: url, storageTypes: "indexeddb" });
        assertEquals(await page.evaluate(() => t.stored()), "", "the database is gone");
        await goesOn(page, "2");
        await page.waitForFunction(() => t.stored().then((s) => s.includes("agent 2")));
        const stored = await page.evaluate(() => t.stored());
        // Written again: a snapshot of the chat's state (its conversation) and the new events.
        assert(stored.includes('"conversationId":"conv-1"'), stored.slice(0, 400));
        assertEquals(warned.length, 1, warned.join("\n"));
        assert(/was deleted/.test(warned[0]), warned[0]);
        assertEquals(errors, []);
        await context.close();
      });
    } finally {
      await browser.close();
      await server.shutdown();
      await stop();
    }
  },
);
