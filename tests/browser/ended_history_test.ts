/**
 * A message handed over as the agent ended, in Chromium: the built desk and the simulator on one
 * page keep a real ended log in IndexedDB and the message in `localStorage` (the page goes away
 * while the host is still drawing the end, before it can let the message go); the next page of
 * the tab runs Carbon AI Chat 1.9.1 with the desk's `loadChatHistory()` as its history, and Carbon
 * draws the message as the user's own, failed.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { stop } from "esbuild";
import {
  ARTIFACTS,
  browserTest,
  launch,
  MESSAGES,
  serve,
  transcript,
  watchErrors,
} from "./_helpers.ts";

/** The chat that ends, without a chat host: the desk and the simulator alone. */
const ENDING = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>
<script type="module">
import { kustomerServiceDeskFactory } from "/dist/kustomer-service-desk.js";
import { SimulatedKustomerCore } from "/dist/simulator.js";
const sim = new SimulatedKustomerCore();
const shown = [];
// A host that never finishes drawing the end: the desk keeps the ended chat findable meanwhile.
const callback = {
  sendMessageToUser: async (message) => void shown.push(message),
  agentEndedChat: () => new Promise(() => {}),
};
for (const name of ["agentJoined", "updateAgentAvailability", "updateCapabilities", "setErrorStatus", "agentTyping"]) {
  callback[name] = async () => {};
}
const desk = kustomerServiceDeskFactory({ core: sim, orphanTimeoutMs: 0 })({ callback });
const until = async (check) => { while (!check()) await new Promise((r) => setTimeout(r, 20)); };
await desk.startChat({ output: { generic: [{ response_type: "connect_to_agent" }] } });
const id = sim.conversations.at(-1).conversationId;
sim.agentSend(id, "Hi, I'm Ada.");
await until(() => shown.length === 1);
sim.agentEnd(id);
await until(() => desk.state?.status === "ended");
// The user sends as it ends; the page goes before it can let the message go.
const removeItem = Storage.prototype.removeItem;
Storage.prototype.removeItem = function (key) {
  if (!key.startsWith("kustomer-service-desk:outbox:")) removeItem.call(this, key);
};
await desk.sendMessageToAgent({ id: "late-1", input: { text: "one more thing" } }, "late-1")
  .catch(() => {});
globalThis.ready = true;
</script></body></html>`;

/** The tab's next page: Carbon, its history from the desk. */
const CARBON = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin:0"><div id="chat"></div>
<script type="module">
import "/dist/example-carbon.js";
import { kustomerServiceDeskFactory, loadChatHistory } from "/dist/kustomer-service-desk.js";
import { SimulatedKustomerCore } from "/dist/simulator.js";
const chat = document.createElement("cds-aichat-container");
chat.openChatByDefault = true;
chat.messaging = {
  customSendMessage: async () => {},
  customLoadHistory: () => loadChatHistory(),
};
chat.serviceDeskFactory = kustomerServiceDeskFactory({ core: new SimulatedKustomerCore() });
document.getElementById("chat").append(chat);
</script></body></html>`;

/** A page load may take tens of seconds on a shared machine (Carbon is 5 MB). */
const LOAD_MS = 90_000;

browserTest(
  "in Chromium, a message sent as the agent ended: the next page's Carbon shows it failed",
  async (_t, built) => {
    const { url, server } = serve({
      distDir: built.outDir,
      pages: { "/ending.html": ENDING, "/carbon.html": CARBON },
    });
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
      const errors = watchErrors(page);
      await page.goto(`${url}/ending.html`);
      await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready, undefined, {
        timeout: LOAD_MS,
      });
      const kept = await page.evaluate(() =>
        Object.keys(localStorage).filter((k) => k.startsWith("kustomer-service-desk:outbox:"))
      );
      assertEquals(kept.length, 1, "the message is in the outbox");
      // The same tab's next page (sessionStorage names the chat).
      await page.goto(`${url}/carbon.html`);
      const late = page.locator(MESSAGES).filter({ hasText: "one more thing" });
      await late.first().waitFor({ timeout: LOAD_MS });
      const lines = await transcript(page);
      const ada = lines.findIndex((line) => line.includes("Hi, I'm Ada."));
      const mine = lines.findIndex((line) => line.includes("one more thing"));
      assert(ada >= 0 && ada < mine, `Ada's message, then the user's:\n${lines.join("\n")}`);
      assert(lines[ada].includes("Ada"), `under Ada: ${lines[ada]}`);
      assert(!lines[mine].includes("Ada"), `the user's own: ${lines[mine]}`);
      assertEquals(await late.locator(".cds-aichat--message-error-failed").count(), 1, "failed");
      assert(lines[mine].includes("There is an error with the message you just sent"), lines[mine]);
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await page.locator(MESSAGES).first().scrollIntoViewIfNeeded();
      await page.screenshot({ path: `${ARTIFACTS}ended-chat-failed-message.png` });
      assertEquals(errors, []);
    } finally {
      await browser.close();
      await server.shutdown();
      await stop();
    }
  },
);
