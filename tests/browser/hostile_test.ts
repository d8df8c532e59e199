/**
 * Hostile content and secrets in Chromium, with the built bundles:
 * - markup: an agent message, a file name and an agent name full of HTML and script are shown as
 *   text in real Carbon AI Chat (which renders HTML in text responses unless the site turns
 *   sanitizing on), and no script runs;
 * - secrets: a chat with a JWT login, a reload and an end leaves the token, the chat key and the
 *   session-history key nowhere in IndexedDB, sessionStorage, localStorage or the console.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { stop } from "esbuild";
import type { Page } from "playwright-core";
import {
  ARTIFACTS,
  browserTest,
  launch,
  message,
  send,
  serve,
  transcript,
  waitForMessage,
  watchErrors,
} from "./_helpers.ts";

/** Markup that runs script if it is ever rendered as HTML. */
const XSS = (n: number) => `<img src="x${n}" onerror="globalThis.__xss=${n}">`;

type Example = {
  sim: {
    agentSend(
      id: string,
      text: string,
      options?: {
        agent?: { id: string; displayName: string };
        attachments?: { name: string; url: string; contentType: string }[];
      },
    ): unknown;
  };
  conversationId(): string;
};
declare const example: Example;

/** A page playing the host (no Carbon): the ESM bundle, the simulator, a JWT login, a reload. */
const SECRETS_PAGE =
  `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>secrets</title>
<script type="module">
  import { kustomerServiceDeskFactory } from "/dist/kustomer-service-desk.js";
  import { makeTestJwt, SimulatedKustomerCore } from "/dist/simulator.js";
  const sim = new SimulatedKustomerCore({ script: false });
  // The simulated Kustomer outlives the reload in the test, not in the page's storage.
  if (globalThis.simState) sim.importState(JSON.parse(globalThis.simState));
  window.tokens = [];
  // A host without persisted state (older web chat): the desk keeps its chat in sessionStorage.
  const callback = Object.fromEntries([
    "updateCapabilities", "updateAgentAvailability", "agentJoined", "agentReadMessages",
    "agentTyping", "sendMessageToUser", "beginTransferToAnotherAgent", "agentLeftChat",
    "agentEndedChat", "setErrorStatus", "setFileUploadStatus",
  ].map((name) => [name, () => {}]));
  const desk = kustomerServiceDeskFactory({
    core: sim,
    apiKey: "CHATKEY-0123456789abcdef",
    getJwt: async () => {
      const token = makeTestJwt({ externalId: "user-7", iat: Math.floor(Date.now() / 1000) });
      window.tokens.push(token);
      return token;
    },
    retentionMs: 3_600_000, // a finished chat's log is kept (compacted): it must hold no secret
    heartbeatMs: 0,
    orphanTimeoutMs: 0,
  })({ callback });
  window.t = { desk, sim, exportSim: () => JSON.stringify(sim.exportState()) };
  window.ready = sessionStorage.length ? desk.reconnect() : Promise.resolve(false);
</script>`;

const HISTORY_KEY =
  "us-south::v2::AUTHCODE-7f3a9c-secret::session-42::integration-1::instance-1::sub-1";

/** Every IndexedDB record (keys and values), sessionStorage and localStorage, as one string. */
function everything(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const parts: string[] = [
      JSON.stringify({ ...sessionStorage }),
      JSON.stringify({ ...localStorage }),
    ];
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(name!);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      for (const store of db.objectStoreNames) {
        const os = db.transaction(store).objectStore(store);
        const [keys, values] = await Promise.all(
          [os.getAllKeys(), os.getAll()].map((r) =>
            new Promise((resolve) => (r.onsuccess = () => resolve(r.result)))
          ),
        );
        parts.push(name!, store, JSON.stringify(keys), JSON.stringify(values));
      }
      db.close();
    }
    return parts.join("\n");
  });
}

browserTest("hostile content and secrets: shown as text, stored nowhere", async (test, built) => {
  const { url, server } = serve({
    distDir: built.outDir,
    pages: { "/secrets.html": SECRETS_PAGE },
  });
  const browser = await launch();
  try {
    await test.step("markup from the agent is text in Carbon: message, file name, agent name", async () => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
      const page = await context.newPage();
      const errors = watchErrors(page);
      await page.goto(`${url}/?agentDelay=30`);
      await waitForMessage(page, "example assistant");
      await send(page, "I want an agent");
      await waitForMessage(page, "Hi, I'm Ada");
      await page.evaluate(
        ({ text, name, file }) =>
          example.sim.agentSend(example.conversationId(), text, {
            agent: { id: "agent-eve", displayName: name },
            attachments: [{
              name: file,
              url: "https://files.example/report.pdf",
              contentType: "application/pdf",
            }],
          }),
        {
          text: `${XSS(1)}<b>bold?</b><script>globalThis.__xss=2</script> end of message`,
          name: `${XSS(3)}Eve`,
          file: `${XSS(4)}report.pdf`,
        },
      );
      await waitForMessage(page, "end of message");
      await waitForMessage(page, "report.pdf");
      // The markup is on screen as characters, not as elements, and no handler ran.
      const shown = (await transcript(page)).join("\n");
      for (
        const text of [XSS(1), "<b>bold?</b>", "<script>", `${XSS(4)}report.pdf`, `${XSS(3)}Eve`]
      ) {
        assert(shown.includes(text), `${text} is not shown as text:\n${shown}`);
      }
      for (const n of [1, 3, 4]) assertEquals(await page.locator(`img[src="x${n}"]`).count(), 0);
      assertEquals(await page.locator("b", { hasText: "bold?" }).count(), 0);
      assertEquals(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);
      await message(page, "end of message").last().scrollIntoViewIfNeeded();
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}hostile-markup.png` });
      // The check sees markup that is rendered: a bot message with HTML is, in this Carbon.
      await page.evaluate(() =>
        (example as unknown as {
          instance: { messaging: { addMessage(m: unknown): Promise<void> } };
        }).instance.messaging.addMessage({
          output: { generic: [{ response_type: "text", text: "control: <b>rendered</b>" }] },
        })
      );
      await waitForMessage(page, "control:");
      assertEquals(await page.locator("b", { hasText: "rendered" }).count(), 1);
      assertEquals(errors, []);
      await context.close();
    });

    await test.step("no token, chat key or session-history key in storage or the console", async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const lines: string[] = [];
      page.on("console", (m) => lines.push(`${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => lines.push(`pageerror: ${e.message}`));
      await page.goto(`${url}/secrets.html`);
      await page.waitForFunction(() => "ready" in globalThis);
      type T = {
        t: {
          desk: {
            startChat(m: unknown, o: unknown): Promise<void>;
            endChat(): Promise<void>;
            sendMessageToAgent(m: unknown, id: string): Promise<void>;
            state?: { status: string; historyKeyAttached: boolean };
          };
          sim: {
            faults: { fail(method: string): void };
            agentSend(id: string, text: string): unknown;
            conversations: { conversationId: string; customAttributes: Record<string, unknown> }[];
          };
          exportSim(): string;
        };
        tokens: string[];
        ready: Promise<unknown>;
      };
      const secrets = async () => [
        ...await page.evaluate(() => (globalThis as unknown as T).tokens),
        "CHATKEY-0123456789abcdef",
        HISTORY_KEY,
        "AUTHCODE-7f3a9c-secret",
      ];
      const check = async (when: string) => {
        const found = await everything(page);
        for (const secret of await secrets()) {
          assert(!found.includes(secret), `${when}: ${secret.slice(0, 20)}… is in storage`);
          for (const line of lines) {
            assert(!line.includes(secret), `${when}: in the console: ${line}`);
          }
        }
        return found;
      };

      // The key cannot be attached at first: it waits in IndexedDB, then Kustomer has it.
      await page.evaluate(async (key) => {
        const { t } = globalThis as unknown as T;
        t.sim.faults.fail("describeConversation");
        await t.desk.startChat(
          {
            output: {
              generic: [{ response_type: "connect_to_agent", message_to_human_agent: "help" }],
            },
          },
          { agentAppInfo: { sessionHistoryKey: key } },
        );
        t.sim.agentSend(t.sim.conversations.at(-1)!.conversationId, "hello from the agent");
        await t.desk.sendMessageToAgent(
          { id: "u-1", input: { text: "hello from the user" } },
          "u-1",
        );
      }, HISTORY_KEY);
      const before = await everything(page);
      assert(before.includes("hello from the user"), "the log is in IndexedDB (the scan sees it)");
      // Until Kustomer has the key, the log keeps it (so a reload can attach it): the scan finds it.
      assert(before.includes(HISTORY_KEY), "the scan finds a key that is there");

      // A reload: the desk logs in again (a new token) and attaches the key now.
      const sim = await page.evaluate(() => (globalThis as unknown as T).t.exportSim());
      await context.addInitScript(
        (state) => (globalThis as unknown as { simState: string }).simState = state,
        sim,
      );
      await page.reload();
      await page.waitForFunction(() => "ready" in globalThis);
      assertEquals(await page.evaluate(() => (globalThis as unknown as T).ready), true);
      await page.waitForFunction(() =>
        (globalThis as unknown as T).t.desk.state?.historyKeyAttached
      );
      const attached = await page.evaluate(() =>
        (globalThis as unknown as T).t.sim.conversations.at(-1)!.customAttributes
      );
      assertEquals(Object.values(attached), [HISTORY_KEY], "Kustomer has the key");
      await check("after the reload");

      await page.evaluate(() => (globalThis as unknown as T).t.desk.endChat());
      const after = await check("after the end");
      assert(after.includes('"status":"ended"'), "the ended chat's log is kept (retention)");
      assert((await secrets()).length >= 4, "a token per login");
      await context.close();
    });
  } finally {
    await browser.close();
    await server.shutdown();
    await stop();
  }
});
