/**
 * The desk's engine, in headless Chromium with the ESM bundle served from another origin:
 * - a page that never escalates downloads only the entry;
 * - the engine is fetched once, when a chat needs it;
 * - an engine that cannot be fetched is a clear error at startChat, and a chat resumed after a
 *   reload while it cannot be fetched shows as disconnected and carries on, nothing lost, once it
 *   can; a chat ended meanwhile is ended in Kustomer once it can.
 *
 * @module
 */

import { assertEquals, assertMatch } from "@std/assert";
import { stop } from "esbuild";
import type { Page } from "playwright-core";
import { FILES } from "../../build.ts";
import { browserTest, launch, serve, watchErrors } from "./_helpers.ts";

/**
 * The page: a desk made at load (as web chat does), its host callbacks recorded in
 * `window.events`, the host's persisted state and the simulator's server kept in `localStorage`
 * across reloads, and `window.desk` to drive. After a reload it calls `reconnect()`, as a host does.
 */
const page = (cdn: string) =>
  `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>lazy</title>
<script type="module">
  import { kustomerServiceDeskFactory } from "${cdn}/dist/kustomer-service-desk.js";
  import { SimulatedKustomerCore } from "${cdn}/dist/simulator.js";
  const sim = new SimulatedKustomerCore({ script: false });
  const saved = localStorage.getItem("sim");
  if (saved) sim.importState(JSON.parse(saved));
  window.saveSim = () => localStorage.setItem("sim", JSON.stringify(sim.exportState()));
  window.sim = sim;
  window.events = [];
  const text = (m) => (m?.output?.generic ?? []).map((g) => g.text).join(" ");
  const callback = new Proxy({}, {
    get: (_, name) => (...args) => {
      if (name === "updatePersistedState") localStorage.setItem("host", JSON.stringify(args[0]));
      const data = name === "sendMessageToUser"
        ? text(args[0])
        : name === "setFileUploadStatus"
        ? args
        : args[0];
      window.events.push({ name, data });
    },
  });
  // The host keeps the desk's persisted state across the reload, as web chat does.
  const persistedState = JSON.parse(localStorage.getItem("host") ?? "null") ?? undefined;
  const desk = kustomerServiceDeskFactory({ core: sim, retryIntervalMs: 100, orphanTimeoutMs: 0 })(
    { callback, persistedState },
  );
  window.desk = desk;
  // What a host does at once with a desk: ask its name, show a queue; a call's input is checked at
  // once (the file limits themselves come with the engine: files are picked only in a chat).
  desk.getName();
  desk.updateQueue({ message: "hello" });
  try {
    desk.filesSelectedForUpload("not a list");
  } catch (error) {
    window.uploadsRefused = error.name;
  }
  window.ready = persistedState?.escalationId
    ? desk.reconnect().then((r) => (window.reconnected = r))
    : Promise.resolve();
</script>`;

type Ev = { name: string; data: unknown };
const events = (p: Page) => p.evaluate(() => (globalThis as unknown as { events: Ev[] }).events);
const named = async (p: Page, name: string) =>
  (await events(p)).filter((e) => e.name === name).map((e) => e.data);

browserTest(
  "the engine: not loaded until a chat needs it; a failed load loses nothing",
  async (t, built) => {
    const engine = built.desk.engine.file;
    const cdn = serve({ distDir: built.outDir, cors: true });
    const site = serve({ distDir: built.outDir, pages: { "/lazy.html": page(cdn.url) } });
    const browser = await launch();
    const context = await browser.newContext();
    const tab = await context.newPage();
    const errors = watchErrors(tab);
    const fetched: string[] = [];
    tab.on("requestfinished", (r) => fetched.push(r.url().slice(r.url().lastIndexOf("/") + 1)));
    let blocked = false;
    await context.route(
      (url) => url.pathname === `/dist/${engine}`,
      (route) => blocked ? route.abort() : route.continue(),
    );
    const deskFiles = () => fetched.filter((f) => f.startsWith("kustomer-service-desk"));
    try {
      await t.step("page load: the entry alone, no engine", async () => {
        await tab.goto(`${site.url}/lazy.html`);
        await tab.waitForFunction(() => "ready" in globalThis);
        await tab.evaluate(() => (globalThis as unknown as { ready: Promise<void> }).ready);
        const files = deskFiles();
        assertEquals(files, [FILES.esm]);
        // The synchronous methods worked without the engine.
        assertEquals(await named(tab, "updateAgentAvailability"), [{ message: "hello" }]);
        assertEquals(
          await tab.evaluate(() =>
            (globalThis as unknown as { uploadsRefused: string }).uploadsRefused
          ),
          "TypeError",
        );
      });

      await t.step(
        "no engine to be had: startChat fails clearly; nothing is left behind",
        async () => {
          blocked = true;
          const error = await tab.evaluate(() =>
            (globalThis as unknown as { desk: { startChat(m: unknown): Promise<void> } }).desk
              .startChat({ output: { generic: [{ response_type: "connect_to_agent" }] } })
              .then(() => "resolved", (e: Error) => `${e.name}: ${e.message}`)
          );
          assertMatch(error, /^KustomerError: could not load the desk's chat code \(/);
          const status = await named(tab, "setErrorStatus") as { type: number; logInfo: string }[];
          assertEquals(status.length, 1);
          assertEquals(status[0].type, 1, "CONNECTING error shown to the user");
          assertMatch(status[0].logInfo, /could not load the desk's chat code/);
          const conversations = await tab.evaluate(() =>
            (globalThis as unknown as { sim: { conversations: unknown[] } }).sim.conversations
              .length
          );
          assertEquals(conversations, 0, "no Kustomer conversation was made");
        },
      );

      await t.step("the network back: the next startChat loads the engine and chats", async () => {
        blocked = false;
        await tab.evaluate(async () => {
          const g = globalThis as unknown as {
            desk: { startChat(m: unknown): Promise<void> };
            sim: {
              conversations: { conversationId: string }[];
              agentSend(id: string, t: string): void;
            };
            saveSim(): void;
          };
          await g.desk.startChat({ output: { generic: [{ response_type: "connect_to_agent" }] } });
          g.sim.agentSend(g.sim.conversations[0].conversationId, "Hello, I am the agent");
          g.saveSim();
        });
        await tab.waitForFunction(() =>
          (globalThis as unknown as { events: Ev[] }).events.some((e) =>
            e.name === "sendMessageToUser"
          )
        );
        const files = deskFiles();
        assertEquals(files.length, 2, `fetched: ${files}`);
        assertMatch(files[1], /^kustomer-service-desk-engine\.js\?v=\w{12}&f=esm$/, "once, by key");
        assertEquals(await named(tab, "sendMessageToUser"), ["Hello, I am the agent"]);
        // In the chat, picked files are checked against Kustomer's limits (with the engine).
        await tab.evaluate(() =>
          (globalThis as unknown as { desk: { filesSelectedForUpload(u: unknown): void } }).desk
            .filesSelectedForUpload([{ id: "f", file: new File(["x"], "x.exe") }])
        );
        await tab.waitForFunction(() =>
          (globalThis as unknown as { events: Ev[] }).events.some((e) =>
            e.name === "setFileUploadStatus"
          )
        );
        const [refused] = await named(tab, "setFileUploadStatus") as unknown[][];
        assertEquals(refused.slice(0, 2), ["f", true]);
        assertMatch(String(refused[2]), /x\.exe: Kustomer accepts only/);
      });

      await t.step(
        "a reload while the engine cannot be had: disconnected, then resumed",
        async () => {
          blocked = true;
          await tab.reload();
          await tab.waitForFunction(() => "reconnected" in globalThis);
          assertEquals(
            await tab.evaluate(() => (globalThis as { reconnected?: boolean }).reconnected),
            true,
          );
          assertEquals(await named(tab, "setErrorStatus"), [{ type: 2, isDisconnected: true }]);
          // The agent writes while the page cannot reach the engine.
          await tab.evaluate(() => {
            const g = globalThis as unknown as {
              sim: {
                conversations: { conversationId: string }[];
                agentSend(id: string, t: string): void;
              };
            };
            g.sim.agentSend(g.sim.conversations[0].conversationId, "Are you still there?");
          });
          blocked = false;
          await tab.waitForFunction(
            () =>
              (globalThis as unknown as { events: Ev[] }).events.some((e) =>
                e.name === "sendMessageToUser"
              ),
            undefined,
            { timeout: 15_000 },
          );
          assertEquals(await named(tab, "setErrorStatus"), [
            { type: 2, isDisconnected: true },
            { type: 2, isDisconnected: false },
          ]);
          // Missed while away, shown once; the one from before the reload not again.
          assertEquals(await named(tab, "sendMessageToUser"), ["Are you still there?"]);
          assertEquals(await named(tab, "agentEndedChat"), []);
          await tab.evaluate(() => (globalThis as unknown as { saveSim(): void }).saveSim());
        },
      );

      await t.step(
        "ending while the engine cannot be had: rejected, then ended once it loads",
        async () => {
          blocked = true;
          await tab.reload();
          await tab.waitForFunction(() => "reconnected" in globalThis);
          const error = await tab.evaluate(() =>
            (globalThis as unknown as { desk: { endChat(): Promise<void> } }).desk.endChat()
              .then(() => "resolved", (e: Error) => `${e.name}: ${e.message}`)
          );
          assertMatch(error, /^KustomerError: could not load the desk's chat code/);
          const ended = () =>
            tab.evaluate(() =>
              (globalThis as unknown as { sim: { conversations: { ended: boolean }[] } }).sim
                .conversations[0].ended
            );
          assertEquals(await ended(), false, "not ended yet: the engine is needed for that");
          blocked = false;
          await tab.waitForFunction(() =>
            (globalThis as unknown as { sim: { conversations: { ended: boolean }[] } }).sim
              .conversations[0].ended
          );
          // Ended by the user's wish, not resumed: the banner cleared, no agentEndedChat, the host's
          // state cleared.
          await tab.waitForFunction(() =>
            (globalThis as unknown as { events: Ev[] }).events.some((e) =>
              e.name === "updatePersistedState" &&
              !(e.data as { escalationId?: string }).escalationId
            )
          );
          assertEquals(await named(tab, "setErrorStatus"), [
            { type: 2, isDisconnected: true },
            { type: 2, isDisconnected: false },
          ]);
          assertEquals(await named(tab, "agentEndedChat"), []);
          assertEquals(
            await named(tab, "sendMessageToUser"),
            [],
            "nothing shown: it was not resumed",
          );
        },
      );
      // The only console errors: Chromium reporting the engine fetches the test blocked.
      const others = errors.filter((e) => !e.includes("Failed to load resource: net::ERR_FAILED"));
      assertEquals(others, []);
    } finally {
      await context.close();
      await browser.close();
      await cdn.server.shutdown();
      await site.server.shutdown();
      await stop();
    }
  },
);
