/**
 * The closed tab in a real browser: Carbon AI Chat 1.9.1 in Chromium, the built bundles over http,
 * real IndexedDB shared by the tabs of one context, and the real `navigator.locks`.
 *
 * Kustomer's server outlives the tabs: each page's simulator starts from the state the previous
 * page left in `localStorage` (the test moves it on explicitly before a page takes over), as the
 * real Kustomer keeps its conversations whatever the browser does. Each page counts its desk's
 * sweeps (its `navigator.locks.query()` calls), so the test waits for sweeps, not for time.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { stop } from "esbuild";
import type { Browser, BrowserContext, Page } from "playwright-core";
import {
  ARTIFACTS,
  browserTest,
  launch,
  MESSAGES,
  send,
  serve,
  transcript,
  waitForMessage,
  watchErrors,
} from "./_helpers.ts";

/** How often each page sweeps for chats of closed tabs, and how long one may lie unheld. */
const ORPHAN_MS = 1_500;

/** Carbon with a bot that escalates on "agent", the desk with the real locks, the simulator. */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>closed tab</title></head>
<body style="margin:0"><div id="chat"></div>
<script type="module">
import "/dist/example-carbon.js";
import { kustomerServiceDeskFactory, loadChatHistory } from "/dist/kustomer-service-desk.js";
import { SimulatedKustomerCore } from "/dist/simulator.js";
// Count the desk's sweeps: each asks the real lock manager which locks are held.
const query = navigator.locks.query.bind(navigator.locks);
globalThis.sweeps = 0;
// The names of the locks held now, asked of the real lock manager (not counted as a sweep).
globalThis.heldLocks = async () => (await query()).held.map((lock) => lock.name);
navigator.locks.query = async () => {
  const held = await query();
  globalThis.sweeps++;
  return held;
};
const sim = new SimulatedKustomerCore();
const saved = localStorage.getItem("sim");
if (saved) sim.importState(JSON.parse(saved));
Object.assign(globalThis, {
  sim,
  save: () => localStorage.setItem("sim", JSON.stringify(sim.exportState())),
  load: () => sim.importState(JSON.parse(localStorage.getItem("sim"))),
  conversationId: () => sim.conversations.at(-1)?.conversationId,
});
const orphanTimeoutMs = Number(new URLSearchParams(location.search).get("orphan") ?? ${ORPHAN_MS});
const factory = kustomerServiceDeskFactory({ core: sim, orphanTimeoutMs });
const chat = document.createElement("cds-aichat-container");
chat.openChatByDefault = true;
chat.messaging = {
  customSendMessage: async (request, _options, instance) => {
    const text = request.input?.text ?? "";
    const item = /agent/i.test(text)
      ? { response_type: "connect_to_agent", message_to_human_agent: text,
          agent_available: { message: "An agent will be with you shortly." },
          agent_unavailable: { message: "No agent is online right now." } }
      : { response_type: "text", text: text ? "BOT: I can't help with " + text : "Welcome! I am the bot." };
    await instance.messaging.addMessage({ output: { generic: [item] } });
  },
  // A tab's chat after a reload, or in a duplicate of the tab (sessionStorage names it).
  customLoadHistory: () => loadChatHistory(),
};
chat.serviceDesk = { skipConnectHumanAgentCard: true };
chat.serviceDeskFactory = factory;
document.getElementById("chat").append(chat);
</script></body></html>`;

/** The page's globals, as the test sees them. */
type Globals = {
  sim: {
    conversations: { conversationId: string; ended: boolean; isDraft: boolean }[];
    callLog: { method: string; options?: { body?: string } }[];
    messagesOf(id: string): { body?: string; direction: string }[];
    agentSend(id: string, text: string): unknown;
    faults: { hang(method: string, options: { times: number; applied?: boolean }): void };
  };
  sweeps: number;
  heldLocks(): Promise<string[]>;
  save(): void;
  load(): void;
  conversationId(): string | undefined;
};
declare const globalThis: Globals;

/** A page load may take tens of seconds on a shared machine (Carbon is 5 MB): a limit, not a wait. */
const LOAD_MS = 90_000;

const agentSays = (page: Page, text: string) =>
  page.evaluate((text) => globalThis.sim.agentSend(globalThis.conversationId()!, text), text);

/** How many times the page's simulated Kustomer was asked to end a conversation. */
const ends = (page: Page) =>
  page.evaluate(() => globalThis.sim.callLog.filter((c) => c.method === "endConversation").length);

/** Waits until the page's desk has swept `more` more times than now. */
async function sweeps(page: Page, more: number): Promise<void> {
  const now = await page.evaluate(() => globalThis.sweeps);
  await page.waitForFunction((target) => globalThis.sweeps >= target, now + more, {
    timeout: LOAD_MS,
  });
}

/** Opens the page in a new tab of `context`, with its console warnings collected. */
async function openTab(context: BrowserContext, url: string, orphanMs = ORPHAN_MS) {
  const page = await context.newPage();
  const errors = watchErrors(page);
  const warnings: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "warning") warnings.push(m.text());
  });
  await page.goto(`${url}/tab.html?orphan=${orphanMs}`);
  await waitForMessage(page, "Welcome! I am the bot.", LOAD_MS);
  return { page, errors, warnings };
}

/** A first tab, escalated, with Ada's greeting shown; Kustomer's state saved for the next tab. */
async function liveTab(context: BrowserContext, url: string) {
  const tab = await openTab(context, url);
  await send(tab.page, "an agent please");
  await tab.page.waitForFunction(() => globalThis.sim.conversations.at(-1)?.isDraft === false);
  await agentSays(tab.page, "Hi, I'm Ada.");
  await waitForMessage(tab.page, "Hi, I'm Ada.", LOAD_MS);
  await tab.page.evaluate(() => globalThis.save());
  return tab;
}

/** Positions of `texts` in the rendered transcript (each must be there once). */
async function positions(page: Page, texts: string[]): Promise<number[]> {
  const lines = await transcript(page);
  return texts.map((text) => {
    const found = lines.flatMap((line, i) => line.includes(text) ? [i] : []);
    assertEquals(found.length, 1, `"${text}" is shown once; the chat shows:\n${lines.join("\n")}`);
    return found[0];
  });
}

async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
  context.setDefaultTimeout(LOAD_MS);
  context.setDefaultNavigationTimeout(LOAD_MS);
  return context;
}

browserTest("a closed tab, with the real navigator.locks", async (t, built) => {
  const { url, server } = serve({ distDir: built.outDir, pages: { "/tab.html": PAGE } });
  const browser = await launch();
  try {
    await t.step(
      "a live tab's chat is left alone; once closed, the next tab that asks takes it up",
      async () => {
        const context = await newContext(browser);
        const first = await liveTab(context, url);
        const second = await openTab(context, url);
        // The second tab sweeps while the first one's chat lies idle longer than ORPHAN_MS: only
        // the first tab's lock keeps the second from ending it.
        await sweeps(second.page, 3);
        assertEquals(await ends(second.page), 0, "the second tab ended nothing");
        assertEquals(second.warnings.filter((w) => w.includes("closed tab")), []);
        await agentSays(first.page, "Still with me?");
        await waitForMessage(first.page, "Still with me?", LOAD_MS);
        // The sweeping tab goes too: with ORPHAN_MS this short it would end the chat as soon as
        // the first tab closes. The tab that takes the chat up sweeps only every 5 minutes.
        const sweeper = second;
        await sweeper.page.close();
        const third = await openTab(context, url, 300_000);
        // A message on its way when the tab closes: Kustomer never gets it from this tab.
        await first.page.evaluate(() =>
          globalThis.sim.faults.hang("sendMessage", { times: 1, applied: false })
        );
        await send(first.page, "yes, order 42");
        await first.page.waitForFunction(() =>
          globalThis.sim.callLog.some((c) =>
            c.method === "sendMessage" && c.options?.body === "yes, order 42"
          )
        );

        // The lock the first tab holds for its chat (the only one of the desk's).
        const held = (await third.page.evaluate(() => globalThis.heldLocks()))
          .filter((name) => name.startsWith("kustomer-service-desk:"));
        assertEquals(held.length, 1, `one chat lock held: ${held}`);
        const [lock] = held;
        // The first tab goes; Ada writes while nobody is there.
        await first.page.evaluate(() => globalThis.save());
        await first.page.close();
        // A closed page's locks are released a moment later, not at once: until then its chat is
        // a live tab's, and asking for an agent rightly starts another. Wait for the release by
        // asking for the lock (granted only once the closed page's is gone), then let it go.
        // (`waitForFunction` with an async predicate does not wait: a promise is truthy.)
        await third.page.evaluate(
          ([name, limit]) =>
            Promise.race([
              navigator.locks.request(name, () => {}),
              new Promise((_, reject) =>
                setTimeout(() => reject(new Error(`${name} still held after ${limit} ms`)), limit)
              ),
            ]),
          [lock, LOAD_MS] as const,
        );
        await third.page.evaluate(() => globalThis.load());
        await agentSays(third.page, "Are you still there?");
        await send(third.page, "an agent please");
        await waitForMessage(third.page, "You're back with Ada.", LOAD_MS).catch(async (error) => {
          const seen = await transcript(third.page);
          const sim = await third.page.evaluate(() => JSON.stringify(globalThis.sim.conversations));
          throw new Error(
            `${error}\nshown:\n${seen.join("\n")}\nwarnings:\n${
              third.warnings.join("\n")
            }\nerrors:\n${third.errors.join("\n")}\nKustomer: ${sim}`,
          );
        });
        // The whole chat, the user's own message too, once each and in order: Carbon puts the
        // history the desk inserts above what the page showed (its bot's welcome, the request),
        // then the agent joins and what Ada wrote while nobody was there follows.
        const said = [
          "Hi, I'm Ada.",
          "Still with me?",
          "yes, order 42",
          "Welcome! I am the bot.",
          "an agent please",
          "Ada connected.",
          "Are you still there?",
          "You're back with Ada.",
        ];
        const lines = await transcript(third.page);
        const order = await positions(third.page, said);
        assert(
          order.every((at, i) => i === 0 || order[i - 1] < at),
          `in this order: ${said.join(" | ")}; the chat shows:\n${lines.join("\n")}`,
        );
        // Ada's lines under her name, the user's not (and not failed: it is sent from here).
        for (const text of ["Hi, I'm Ada.", "Still with me?", "Are you still there?"]) {
          assert(lines[order[said.indexOf(text)]].includes("Ada"), `under Ada: ${text}`);
        }
        const mine = lines[order[said.indexOf("yes, order 42")]];
        assert(!mine.includes("Ada") && !mine.includes("error"), `the user's own: ${mine}`);
        // A status line, as "Ada connected." is: no avatar, no "Ada" heading over it.
        const status = third.page.locator(MESSAGES).filter({ hasText: "You're back with Ada." });
        assertEquals(
          await status.evaluate((el) =>
            el.classList.contains("cds-aichat--message--system-message")
          ),
          true,
        );
        assertEquals(
          await third.page.evaluate(() => globalThis.sim.conversations.length),
          1,
          "no second conversation",
        );
        // The pending message reached Kustomer once, sent by the tab that took the chat up; the
        // new tab's own request for an agent went to nobody.
        await third.page.waitForFunction(() =>
          globalThis.sim.messagesOf(globalThis.conversationId()!).some((m) =>
            m.body === "yes, order 42"
          )
        );
        assertEquals(
          await third.page.evaluate(() =>
            globalThis.sim.messagesOf(globalThis.conversationId()!)
              .filter((m) => m.direction === "in").slice(1).map((m) => m.body)
          ),
          ["yes, order 42"],
        );
        await agentSays(third.page, "Good to have you back.");
        await waitForMessage(third.page, "Good to have you back.", LOAD_MS);
        // Two pictures: the top of the chat (the closed tab's part), and its end.
        await Deno.mkdir(ARTIFACTS, { recursive: true });
        await third.page.locator(MESSAGES).first().scrollIntoViewIfNeeded();
        await third.page.screenshot({ path: `${ARTIFACTS}closed-tab-taken-up-top.png` });
        await third.page.locator(MESSAGES).last().scrollIntoViewIfNeeded();
        await third.page.screenshot({ path: `${ARTIFACTS}closed-tab-back-with.png` });
        assertEquals(await ends(third.page), 0);
        assertEquals([...first.errors, ...sweeper.errors, ...third.errors], []);
        await context.close();
      },
    );

    await t.step(
      "a duplicated tab shows part of the chat; once the first closes, it takes it up: each line once",
      async () => {
        const context = await newContext(browser);
        const first = await liveTab(context, url);
        await send(first.page, "I need help");
        await first.page.waitForFunction(() =>
          globalThis.sim.messagesOf(globalThis.conversationId()!).some((m) =>
            m.body === "I need help"
          )
        );
        await first.page.evaluate(() => globalThis.save());
        // The duplicate: a copy of the tab's sessionStorage (Carbon's session and the desk's
        // pointer), so Carbon shows the chat's history and asks the desk to reconnect; the first
        // tab has the chat, so the desk says no and Carbon ends it there.
        const session = await first.page.evaluate(() =>
          JSON.stringify(Object.entries(sessionStorage))
        );
        const copy = await context.newPage();
        const errors = watchErrors(copy);
        await copy.addInitScript((entries: string) => {
          if (sessionStorage.getItem("test:copied")) return;
          for (const [key, value] of JSON.parse(entries)) sessionStorage.setItem(key, value);
          sessionStorage.setItem("test:copied", "1");
        }, session);
        await copy.goto(`${url}/tab.html?orphan=300000`);
        await waitForMessage(copy, "I need help", LOAD_MS);
        await positions(copy, ["Hi, I'm Ada.", "I need help"]);
        await agentSays(first.page, "Still with me?");
        await waitForMessage(first.page, "Still with me?", LOAD_MS);
        const held = (await copy.evaluate(() => globalThis.heldLocks()))
          .filter((name) => name.startsWith("kustomer-service-desk:"));
        assertEquals(held.length, 1, `one chat lock held: ${held}`);
        await first.page.evaluate(() => globalThis.save());
        await first.page.close();
        // Wait until the closed page's lock is released (see the first step).
        await copy.evaluate(
          ([name, limit]) =>
            Promise.race([
              navigator.locks.request(name, () => {}),
              new Promise((_, reject) =>
                setTimeout(() => reject(new Error(`${name} still held after ${limit} ms`)), limit)
              ),
            ]),
          [held[0], LOAD_MS] as const,
        );
        await copy.evaluate(() => globalThis.load());
        await agentSays(copy, "Are you still there?");
        await send(copy, "an agent please");
        await waitForMessage(copy, "You're back with Ada.", LOAD_MS);
        const said = [
          "Hi, I'm Ada.",
          "I need help",
          "Still with me?",
          "Ada connected.",
          "Are you still there?",
          "You're back with Ada.",
        ];
        const order = await positions(copy, said);
        const lines = await transcript(copy);
        assert(
          order.every((at, i) => i === 0 || order[i - 1] < at),
          `in this order: ${said.join(" | ")}; the chat shows:\n${lines.join("\n")}`,
        );
        await Deno.mkdir(ARTIFACTS, { recursive: true });
        await copy.locator(MESSAGES).first().scrollIntoViewIfNeeded();
        await copy.screenshot({ path: `${ARTIFACTS}closed-tab-duplicate-top.png` });
        assertEquals(await copy.evaluate(() => globalThis.sim.conversations.length), 1);
        assertEquals([...first.errors, ...errors], []);
        await context.close();
      },
    );

    await t.step(
      "nobody asks within orphanTimeoutMs: exactly one of the open tabs ends it in Kustomer",
      async () => {
        const context = await newContext(browser);
        const first = await liveTab(context, url);
        const others = [await openTab(context, url), await openTab(context, url)];
        await Promise.all(others.map(({ page }) => sweeps(page, 2)));
        for (const { page } of others) assertEquals(await ends(page), 0, "not while it is live");
        await first.page.evaluate(() => globalThis.save());
        await first.page.close();
        for (const { page } of others) await page.evaluate(() => globalThis.load());
        const total = async () => (await ends(others[0].page)) + (await ends(others[1].page));
        const deadline = Date.now() + LOAD_MS;
        while ((await total()) === 0) {
          assert(Date.now() < deadline, "a tab ends the closed tab's chat");
          await Promise.race(others.map(({ page }) => sweeps(page, 1)));
        }
        // Both tabs sweep twice more: neither ends it again.
        await Promise.all(others.map(({ page }) => sweeps(page, 2)));
        assertEquals(await total(), 1, "one tab ended it, once");
        const said = others.flatMap(({ warnings }) =>
          warnings.filter((w) => w.includes("ended a chat left open by a closed tab"))
        );
        assertEquals(said.length, 1, said.join("\n"));
        assertEquals([...first.errors, ...others.flatMap(({ errors }) => errors)], []);
        await context.close();
      },
    );

    await t.step(
      "a tab closed while its end was on its way: the next tab of the site finishes it, once",
      async () => {
        const context = await newContext(browser);
        const first = await liveTab(context, url);
        // The user ends the chat; Kustomer never gets the request before the tab closes.
        await first.page.evaluate(() =>
          globalThis.sim.faults.hang("endConversation", { times: 1 })
        );
        await first.page.getByRole("button", { name: "Disconnect" }).first().click();
        await first.page.getByRole("button", { name: "Disconnect" }).last().click();
        // The desk asks Kustomer only once the end is stored.
        await first.page.waitForFunction(() =>
          globalThis.sim.callLog.some((c) => c.method === "endConversation")
        );
        await first.page.evaluate(() => globalThis.save());
        await first.page.close();
        const next = await openTab(context, url);
        assertEquals(
          await next.page.evaluate(() => globalThis.sim.conversations.map((c) => c.ended)),
          [false],
          "open in Kustomer when the tab closed",
        );
        await next.page.waitForFunction(() => globalThis.sim.conversations[0].ended, undefined, {
          timeout: LOAD_MS,
        });
        await sweeps(next.page, 2);
        assertEquals(await ends(next.page), 1, "ended once");
        assertEquals(
          next.warnings.filter((w) => w.includes("finished ending a chat of a closed tab")).length,
          1,
          next.warnings.join("\n"),
        );
        const lines = await transcript(next.page);
        assert(!lines.some((line) => line.includes("Ada")), lines.join("\n"));
        assertEquals([...first.errors, ...next.errors], []);
        await context.close();
      },
    );
  } finally {
    await browser.close();
    await server.shutdown();
    await stop();
  }
});
