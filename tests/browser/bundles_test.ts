/**
 * The built bundles as their users load them, in headless Chromium:
 * - the ESM bundle imported by URL from another origin (as from a CDN);
 * - the classic script in a page written the IBM starter kit's way
 *   (`serviceDeskFactory: window.WebChatServiceDeskFactory`, Kustomer's Core on `window`);
 * - the example page's real mode, with IBM's and Kustomer's scripts stubbed at the network.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { stop } from "esbuild";
import { browserTest, launch, serve, watchErrors } from "./_helpers.ts";

/**
 * Plays the chat host against a factory: start a chat, wait for the agent, send a message, get
 * the reply, end. Sets `window.result` when done.
 */
const HARNESS = `
window.runEscalation = async (factory) => {
  const events = [];
  const waiters = [];
  const note = (name, data) => {
    events.push({ name, data });
    for (const w of [...waiters]) if (w.test(name, data)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };
  const until = (test, what) => new Promise((resolve, reject) => {
    if (events.some((e) => test(e.name, e.data))) return resolve();
    waiters.push({ test, resolve });
    setTimeout(() => reject(new Error("timed out waiting for " + what + "; events: " + JSON.stringify(events))), 10000);
  });
  const text = (m) => typeof m === "string" ? m : (m?.output?.generic ?? []).map((g) => g.text).join(" ");
  const callback = {
    updateCapabilities: (c) => note("updateCapabilities", c),
    updateAgentAvailability: (a) => note("updateAgentAvailability", a),
    agentJoined: (p) => note("agentJoined", p),
    agentReadMessages: () => note("agentReadMessages"),
    agentTyping: (t) => note("agentTyping", t),
    sendMessageToUser: (m, id) => note("sendMessageToUser", { text: text(m), id }),
    beginTransferToAnotherAgent: (p) => note("beginTransferToAnotherAgent", p),
    agentLeftChat: () => note("agentLeftChat"),
    agentEndedChat: () => note("agentEndedChat"),
    setErrorStatus: (s) => note("setErrorStatus", s),
    setFileUploadStatus: (...a) => note("setFileUploadStatus", a),
  };
  try {
    const desk = await factory({ callback });
    await desk.startChat(
      { output: { generic: [{ response_type: "connect_to_agent", message_to_human_agent: "help me" }] } },
      {},
    );
    await until((n, d) => n === "agentJoined" && d.nickname === "Ada", "the agent");
    await until((n, d) => n === "sendMessageToUser" && d.text.includes("Hi, I'm Ada"), "the greeting");
    await desk.sendMessageToAgent({ id: "m-1", input: { text: "hello from the page", message_type: "text" } }, "m-1", {});
    await until((n, d) => n === "sendMessageToUser" && d.text.includes("You said: hello from the page"), "the reply");
    await desk.endChat({});
    window.result = { ok: true, name: desk.getName(), events };
  } catch (error) {
    window.result = { ok: false, error: String(error?.stack ?? error), events };
  }
};
`;

const FAST = "{ script: { joinDelayMs: 10, replyDelayMs: 10, typingMs: 10 } }";

type Result = { ok: boolean; error?: string; name?: string; events: { name: string }[] };

browserTest(
  "bundles: ESM from another origin, the classic script the starter kit's way, real mode",
  async (t, built) => {
    // The "CDN": serves dist/ with CORS.
    const cdn = serve({ distDir: built.outDir, cors: true });
    // The site: another origin, with its own pages.
    const site = serve({
      distDir: built.outDir,
      pages: {
        "/cdn-consumer.html":
          `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>cdn</title>
<script>${HARNESS}</script>
<script type="module">
  import { kustomerServiceDeskFactory } from "${cdn.url}/dist/kustomer-service-desk.js";
  import { SimulatedKustomerCore } from "${cdn.url}/dist/simulator.js";
  const core = new SimulatedKustomerCore(${FAST});
  window.core = core;
  await window.runEscalation(kustomerServiceDeskFactory({ core }));
</script>`,
        "/starter-kit.html":
          `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>starter kit</title>
<script>${HARNESS}</script>
<!-- Swapped in for the starter kit's servicedesk.bundle.js -->
<script src="${cdn.url}/dist/kustomer-service-desk.iife.js"></script>
<script type="module">
  // Stands in for Kustomer's core.js (which defines window.KustomerCore).
  import { SimulatedKustomerCore } from "${cdn.url}/dist/simulator.js";
  window.KustomerCore = new SimulatedKustomerCore(${FAST});
  window.kustomerServiceDeskOptions = { title: "From the starter kit page" };
  window.watsonAssistantChatOptions = {
    integrationID: "integration", region: "us-south", serviceInstanceID: "instance",
    serviceDeskFactory: window.WebChatServiceDeskFactory,
  };
  // What web chat does with it.
  await window.runEscalation(window.watsonAssistantChatOptions.serviceDeskFactory);
</script>`,
      },
    });
    const browser = await launch();
    try {
      await t.step("the ESM bundle imported by URL from another origin", async () => {
        const context = await browser.newContext();
        const page = await context.newPage();
        const errors = watchErrors(page);
        const requests: string[] = [];
        page.on("request", (r) => requests.push(r.url()));
        await page.goto(`${site.url}/cdn-consumer.html`);
        await page.waitForFunction(() => "result" in globalThis, undefined, { timeout: 20_000 });
        const result = await page.evaluate(() =>
          (globalThis as unknown as { result: Result }).result
        );
        assert(result.ok, result.error);
        assertEquals(result.name, "kustomer");
        assert(requests.some((u) => u.startsWith(cdn.url)), "loaded from the other origin");
        assert(cdn.url !== site.url);
        // Real IndexedDB: the desk kept its log there (deleted after the chat with retentionMs 0).
        const dbs = await page.evaluate(() =>
          indexedDB.databases().then((d) => d.map((x) => x.name))
        );
        assert(dbs.includes("kustomer-service-desk"), `IndexedDB used: ${dbs}`);
        const title = await page.evaluate(() =>
          (globalThis as unknown as { core: { conversations: { title: string }[] } }).core
            .conversations[0].title
        );
        assertEquals(title, "Chat from the web assistant");
        assertEquals(errors, []);
        await context.close();
      });

      await t.step("the classic script in a page written the starter kit's way", async () => {
        const context = await browser.newContext();
        const page = await context.newPage();
        const errors = watchErrors(page);
        const requests: string[] = [];
        page.on("requestfinished", (r) => requests.push(r.url()));
        await page.goto(`${site.url}/starter-kit.html`);
        await page.waitForFunction(() => "result" in globalThis, undefined, { timeout: 20_000 });
        const result = await page.evaluate(() =>
          (globalThis as unknown as { result: Result }).result
        );
        assert(result.ok, result.error);
        const globals = await page.evaluate(() => {
          const g = globalThis as unknown as {
            KustomerServiceDesk: Record<string, unknown>;
            KustomerCore: { conversations: { title: string }[] };
          };
          return {
            exports: Object.keys(g.KustomerServiceDesk).sort(),
            title: g.KustomerCore.conversations[0].title,
          };
        });
        for (
          const name of [
            "kustomerServiceDeskFactory",
            "KustomerServiceDesk",
            "loadChatHistory",
            "toHistoryItems",
            "MemoryLogStore",
            "IndexedDbLogStore",
          ]
        ) {
          assert(globals.exports.includes(name), `window.KustomerServiceDesk.${name}`);
        }
        // The options were read from window.kustomerServiceDeskOptions when web chat called it.
        assertEquals(globals.title, "From the starter kit page");
        // The engine came from beside the script (another origin, a plain <script src>), once.
        const engines = requests.filter((u) => u.includes("kustomer-service-desk-engine.js"));
        assertEquals(engines.length, 1, `engine requests: ${engines}`);
        assertMatch(
          engines[0],
          new RegExp(`^${cdn.url}/dist/kustomer-service-desk-engine\\.js\\?v=\\w+&f=iife$`),
        );
        assertEquals(errors, []);
        await context.close();
      });

      await t.step(
        "real mode loads IBM's web chat with the desk as serviceDeskFactory",
        async () => {
          const context = await browser.newContext();
          const page = await context.newPage();
          const loaded: string[] = [];
          // No network here: answer IBM's and Kustomer's script URLs with stubs.
          await context.route("https://**/*", async (route) => {
            const u = route.request().url();
            loaded.push(u);
            if (u.includes("WatsonAssistantChatEntry.js")) {
              await route.fulfill({
                contentType: "text/javascript",
                body: `const o = window.watsonAssistantChatOptions;
                window.webChatStub = { options: { ...o, serviceDeskFactory: typeof o.serviceDeskFactory } };
                const desk = o.serviceDeskFactory({ callback: {} });
                window.webChatStub.deskName = desk.getName();
                o.onLoad({ render: async () => { window.webChatStub.rendered = true; } });`,
              });
            } else {
              await route.abort();
            }
          });
          const query =
            "integrationID=int-1&region=us-south&serviceInstanceID=inst-1&apiKey=public-key";
          await page.goto(`${site.url}/?${query}`);
          await page.waitForFunction(() =>
            (globalThis as unknown as { webChatStub?: { rendered?: boolean } }).webChatStub
              ?.rendered
          );
          const stub = await page.evaluate(() =>
            (globalThis as unknown as { webChatStub: Record<string, unknown> }).webChatStub
          );
          assertEquals(stub.deskName, "kustomer");
          const options = stub.options as Record<string, unknown>;
          assertEquals(options.integrationID, "int-1");
          assertEquals(options.region, "us-south");
          assertEquals(options.serviceInstanceID, "inst-1");
          assertEquals(options.serviceDeskFactory, "function");
          assert(
            loaded.some((u) =>
              u ===
                "https://web-chat.global.assistant.watson.appdomain.cloud/versions/latest/WatsonAssistantChatEntry.js"
            ),
            loaded.join(", "),
          );
          // Carbon AI Chat stays out of real mode.
          const carbon = await page.evaluate(() => !!customElements.get("cds-aichat-container"));
          assertEquals(carbon, false);
          await context.close();
        },
      );
    } finally {
      await browser.close();
      await cdn.server.shutdown();
      await site.server.shutdown();
      await stop();
    }
  },
);
