/**
 * The npm package as an adopter gets it: `deno task build` writes it, `npm pack` packs it, and it
 * is installed from the tarball into a throwaway app (no network: it has no dependencies). Then,
 * in headless Chromium, through an escalation against the simulator:
 * - the app bundled with esbuild, and with Vite (installed from npm into the app): the engine is a
 *   chunk of its own, fetched only when the chat starts;
 * - the packed files served by URL from a local static server as a CDN (jsDelivr, unpkg) serves
 *   them from the tarball: the browser ESM file, the split ESM, and the classic script (which also
 *   names a misspelt `window.kustomerServiceDeskOptions` key).
 *
 * Set `NPM_TEST_KEEP=1` to keep the temporary folder and print its path.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import * as esbuild from "esbuild";
import ts from "typescript";
import type { Browser } from "playwright-core";
import { build, type BuildResult } from "../../build.ts";
import {
  IGNORE,
  launch,
  MESSAGES,
  requireBrowser,
  send,
  transcript,
  waitForMessage,
  watchErrors,
} from "./_helpers.ts";

/** The Vite the app installs (8.3.8: 8.4.0's lock file is refused by some npm versions). */
const VITE = "vite@8.3.8";

/** Runs a command; throws with its output when it fails. Returns stdout and the time it took. */
async function run(cwd: string, command: string, ...args: string[]) {
  const t0 = performance.now();
  const output = await new Deno.Command(command, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", npm_config_update_notifier: "false", npm_config_fund: "false" },
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed in ${cwd}:\n${text(output.stdout)}${
        text(output.stderr)
      }`,
    );
  }
  return { stdout: text(output.stdout), ms: Math.round(performance.now() - t0) };
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".ts": "application/typescript; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
};

/**
 * A static file server for a folder, under a path prefix, with CORS as CDNs send it, and extra
 * pages. Returns its origin.
 */
function serveFolder(
  root: string,
  prefix = "/",
  pages: Record<string, string> = {},
): { url: string; server: Deno.HttpServer<Deno.NetAddr> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const headers = new Headers({ "access-control-allow-origin": "*" });
    if (path in pages) {
      headers.set("content-type", TYPES[path.slice(path.lastIndexOf("."))] ?? TYPES[".html"]);
      return new Response(pages[path], { headers });
    }
    const relative = path.endsWith("/") ? `${path}index.html` : path;
    if (!relative.startsWith(prefix) || relative.includes("..")) {
      return new Response("Not found", { status: 404, headers });
    }
    try {
      const body = await Deno.readFile(`${root}/${relative.slice(prefix.length)}`);
      const type = TYPES[relative.slice(relative.lastIndexOf("."))];
      if (type) headers.set("content-type", type);
      return new Response(body, { headers });
    } catch {
      return new Response("Not found", { status: 404, headers });
    }
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, server };
}

/**
 * Plays the chat host against a factory: start a chat, wait for the agent, send a message, get
 * the reply, end. Resolves to a result (never rejects).
 */
const HARNESS = `
export async function runEscalation(factory) {
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
  const callback = new Proxy({}, {
    get: (_, name) => (...args) =>
      note(name, name === "sendMessageToUser" ? text(args[0]) : args[0]),
  });
  try {
    const desk = await factory({ callback });
    await desk.startChat(
      { output: { generic: [{ response_type: "connect_to_agent", message_to_human_agent: "help me" }] } },
      {},
    );
    await until((n, d) => n === "agentJoined" && d.nickname === "Ada", "the agent");
    await desk.sendMessageToAgent({ id: "m-1", input: { text: "hello from the app", message_type: "text" } }, "m-1", {});
    await until((n, d) => n === "sendMessageToUser" && d.includes("You said: hello from the app"), "the reply");
    await desk.endChat({});
    return { ok: true, name: desk.getName() };
  } catch (error) {
    return { ok: false, error: String(error?.stack ?? error), events };
  }
}
`;

const FAST = "{ script: { joinDelayMs: 10, replyDelayMs: 10, typingMs: 10 } }";

const README = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

/** The code of the README snippet marked `<!-- snippet: name … -->` (the fenced block after it). */
function snippet(name: string): string {
  const marker = README.indexOf(`<!-- snippet: ${name} `);
  if (marker < 0) throw new Error(`README has no "${name}" snippet`);
  const fence = /```[^\n]*\n([\s\S]*?)\n```/.exec(README.slice(marker));
  if (!fence) throw new Error(`README's "${name}" snippet has no code block`);
  return fence[1];
}

/**
 * Stands in for Kustomer's server for README's Carbon snippet: a simulator as
 * `window.KustomerCore` (the desk uses it instead of loading core.js), its state kept in
 * `sessionStorage` across a reload as Kustomer keeps it on its servers.
 */
const CARBON_SIM = `
import { SimulatedKustomerCore } from "@kustomer-desk/web-chat/simulator";
const sim = new SimulatedKustomerCore(${FAST});
const saved = sessionStorage.getItem("test-sim");
if (saved) sim.importState(JSON.parse(saved));
const save = () => sessionStorage.setItem("test-sim", JSON.stringify(sim.exportState()));
addEventListener("pagehide", save);
setInterval(save, 100);
window.KustomerCore = sim;
`;

/** The throwaway app: imports the package by name, as an adopter's app does. */
const APP_MAIN = `
import { kustomerServiceDeskFactory } from "@kustomer-desk/web-chat";
import { SimulatedKustomerCore } from "@kustomer-desk/web-chat/simulator";
import { runEscalation } from "./harness.js";

window.start = () =>
  runEscalation(kustomerServiceDeskFactory({ core: new SimulatedKustomerCore(${FAST}) }));
window.ready = true;
`;

const APP_HTML = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<title>app</title><script type="module" src="./main.js"></script>`;

/** A TypeScript file of the app, type-checked against the package's types through its exports. */
const APP_TYPES = `
import {
  type HistoryItem,
  kustomerServiceDeskFactory,
  type KustomerServiceDeskOptions,
  loadChatHistory,
  type ServiceDesk,
} from "@kustomer-desk/web-chat";
import { SimulatedKustomerCore } from "@kustomer-desk/web-chat/simulator";

const options: KustomerServiceDeskOptions = { core: new SimulatedKustomerCore(), store: "memory" };
const desk: ServiceDesk = kustomerServiceDeskFactory(options)({ callback: {} as never });
const history: Promise<HistoryItem[]> = loadChatHistory();
// @ts-expect-error title must be a string
kustomerServiceDeskFactory({ title: 42 });
export { desk, history };
`;

type Result = { ok: boolean; error?: string; name?: string };

/** Opens a page, waits for `window.ready`, checks the engine is not loaded, runs `window.start`. */
async function escalate(browser: Browser, url: string, engine: RegExp) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForFunction(() => "ready" in globalThis, undefined, { timeout: 20_000 });
  const before = requests.filter((u) => engine.test(u));
  const result = await page.evaluate(() =>
    (globalThis as unknown as { start(): Promise<Result> }).start()
  );
  const after = requests.filter((u) => engine.test(u));
  await context.close();
  assert(result.ok, result.error);
  assertEquals(result.name, "kustomer");
  assertEquals(before, [], "the engine was fetched before a chat needed it");
  assertEquals(after.length, 1, `the engine was fetched once when the chat started: ${after}`);
  assertEquals(errors, []);
  return { requests, engine: after[0] };
}

Deno.test({
  name: "npm package: packed, installed, bundled with esbuild and Vite, and loaded from URLs",
  ignore: IGNORE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    requireBrowser();
    const tmp = await Deno.makeTempDir({ prefix: "kustomer-desk-npm-" });
    const times: Record<string, number> = {};
    const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        times[what] = Math.round(performance.now() - t0);
      }
    };
    const app = `${tmp}/app`;
    const servers: Deno.HttpServer[] = [];
    let browser: Browser | undefined;
    try {
      const built: BuildResult = await timed(
        "build",
        () => build({ outDir: `${tmp}/dist`, example: false, enforceBudget: false, log: () => {} }),
      );
      const npm = built.npm!;
      let tarball = "";
      let version = "";

      await t.step("npm pack: the files and package.json an adopter gets", async () => {
        const packed = await timed(
          "npm pack",
          () => run(npm.dir, "npm", "pack", "--json", "--pack-destination", tmp),
        );
        const [info] = JSON.parse(packed.stdout) as {
          filename: string;
          version: string;
          files: { path: string }[];
        }[];
        tarball = `${tmp}/${info.filename}`;
        version = info.version;
        const deno = JSON.parse(
          await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
        );
        assertEquals(version, deno.version);
        const files = info.files.map((f) => f.path);
        for (
          const file of [
            "package.json",
            "esm/index.js",
            "esm/simulator.js",
            npm.engine,
            "types/index.d.ts",
            "types/simulator.d.ts",
            "browser/kustomer-service-desk.js",
            "browser/kustomer-service-desk.iife.js",
            "browser/kustomer-service-desk-engine.js",
            "browser/simulator.js",
            "browser/kustomer-service-desk.d.ts",
          ]
        ) {
          assert(files.includes(file), `the tarball has ${file}: ${files}`);
        }
        assert(!files.some((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")), "no sources");
      });

      await t.step("installed from the tarball with no network; types resolve", async () => {
        await Deno.mkdir(app);
        await Deno.writeTextFile(
          `${app}/package.json`,
          JSON.stringify({ name: "throwaway-app", private: true, type: "module" }),
        );
        // --offline: the package has no dependencies, so nothing is fetched.
        await timed(
          "npm install (tarball, offline)",
          () => run(app, "npm", "install", "--offline", "--no-audit", tarball),
        );
        const installed = JSON.parse(
          await Deno.readTextFile(`${app}/node_modules/@kustomer-desk/web-chat/package.json`),
        );
        assertEquals(installed.name, "@kustomer-desk/web-chat");
        assertEquals(installed.type, "module");
        assertEquals(installed.license, "MIT");
        assertEquals(installed.dependencies, undefined);
        assertEquals(installed.exports["."], {
          types: "./types/index.d.ts",
          default: "./esm/index.js",
        });
        assertEquals(installed.exports["./simulator"], {
          types: "./types/simulator.d.ts",
          default: "./esm/simulator.js",
        });
        const lock = JSON.parse(await Deno.readTextFile(`${app}/package-lock.json`));
        assertEquals(Object.keys(lock.packages), ["", "node_modules/@kustomer-desk/web-chat"]);
        // The app's TypeScript sees the package's types through its exports.
        await Deno.writeTextFile(`${app}/types.ts`, APP_TYPES);
        const program = ts.createProgram([`${app}/types.ts`], {
          noEmit: true,
          strict: true,
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.ESNext,
          moduleResolution: ts.ModuleResolutionKind.Bundler,
          lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
          types: [],
        });
        const diagnostics = ts.getPreEmitDiagnostics(program).map((d) =>
          ts.flattenDiagnosticMessageText(d.messageText, "\n")
        );
        assertEquals(diagnostics, []);
        await Deno.writeTextFile(`${app}/harness.js`, HARNESS);
        await Deno.writeTextFile(`${app}/main.js`, APP_MAIN);
        await Deno.writeTextFile(`${app}/index.html`, APP_HTML);
      });

      browser = await launch();

      await t.step("bundled with esbuild: runs, and the engine is a lazy chunk", async () => {
        const out = `${app}/out-esbuild`;
        await timed("esbuild bundle", () =>
          esbuild.build({
            absWorkingDir: app,
            entryPoints: ["main.js"],
            bundle: true,
            splitting: true,
            format: "esm",
            minify: true,
            outdir: out,
            chunkNames: "[name]-[hash]",
            logLevel: "warning",
          }));
        await Deno.copyFile(`${app}/index.html`, `${out}/index.html`);
        const site = serveFolder(out);
        servers.push(site.server);
        const { engine } = await timed(
          "esbuild app in Chromium",
          () => escalate(browser!, `${site.url}/`, /\/engine-[\w-]+\.js$/),
        );
        assertMatch(engine, new RegExp(`^${site.url}/engine-[\\w-]+\\.js$`));
      });

      await t.step(
        "README's Carbon snippet, bundled with esbuild: history merged after a reload",
        async () => {
          await Deno.writeTextFile(`${app}/carbon-snippet.js`, snippet("carbon"));
          await Deno.writeTextFile(`${app}/carbon-sim.js`, CARBON_SIM);
          await Deno.writeTextFile(
            `${app}/carbon-main.js`,
            'import "./carbon-sim.js";\nimport "./carbon-snippet.js";\n',
          );
          const out = `${app}/out-carbon`;
          await timed("esbuild bundle (Carbon snippet)", () =>
            esbuild.build({
              absWorkingDir: app,
              entryPoints: ["carbon-main.js"],
              bundle: true,
              splitting: true,
              format: "esm",
              minify: true,
              outdir: out,
              define: { "process.env.NODE_ENV": '"production"' },
              // Carbon AI Chat comes from this repository's node_modules (the package from the
              // app's). Not a symlink in the app: npm would prune it, through the link.
              nodePaths: [new URL("../../node_modules", import.meta.url).pathname],
              logLevel: "error",
            }));
          await Deno.writeTextFile(
            `${out}/index.html`,
            `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>carbon</title>
<script type="module" src="./carbon-main.js"></script>`,
          );
          const site = serveFolder(out);
          servers.push(site.server);
          await timed("Carbon snippet in Chromium", async () => {
            const context = await browser!.newContext({ viewport: { width: 1000, height: 800 } });
            const page = await context.newPage();
            const errors = watchErrors(page);
            await page.goto(`${site.url}/`);
            const wait = (text: string) => waitForMessage(page, text, 60_000);
            await wait('Type "agent"');
            await send(page, "hi there");
            await page.locator(MESSAGES).filter({ hasText: 'Type "agent"' }).nth(1).waitFor();
            await send(page, "an agent please");
            await wait("Hi, I'm Ada");
            await send(page, "hello from the snippet");
            await wait("You said: hello from the snippet");
            await page.reload();
            await wait("You said: hello from the snippet");
            const after = await transcript(page);
            const at = (text: string) => {
              const found = after.filter((m) => m.includes(text));
              assertEquals(found.length, 1, `"${text}" shown once after the reload: ${after}`);
              return after.indexOf(found[0]);
            };
            // Bot and agent history, merged in time order. (Carbon labels each message with who
            // said it: "You said …", "The live agent said …".)
            const order = [
              at("You said hi there"),
              at("You said an agent please"),
              at("The live agent said Hi, I'm Ada"),
              at("You said hello from the snippet"),
              at("The live agent said You said: hello from the snippet"),
            ];
            for (let i = 1; i < order.length; i++) {
              assert(order[i - 1] < order[i], `in time order after the reload: ${after}`);
            }
            assert(
              after.findIndex((m) => m.includes('Type "agent"')) < order[0],
              `the bot's answer comes first: ${after}`,
            );
            assertEquals(errors, []);
            await context.close();
          });
        },
      );

      await t.step("bundled with Vite: runs, and the engine is a lazy chunk", async () => {
        await timed(
          `npm install ${VITE} (prefer offline)`,
          () => run(app, "npm", "install", "--prefer-offline", "--no-audit", "-D", "-E", VITE),
        );
        await timed(
          "vite build",
          () => run(app, "node", "node_modules/vite/bin/vite.js", "build", "--logLevel", "warn"),
        );
        const site = serveFolder(`${app}/dist`);
        servers.push(site.server);
        const { engine } = await timed(
          "vite app in Chromium",
          () => escalate(browser!, `${site.url}/`, /\/engine-[\w-]+\.js$/),
        );
        assertMatch(engine, new RegExp(`^${site.url}/assets/engine-[\\w-]+\\.js$`));
      });

      await t.step("the packed files by URL, as a CDN serves them from the tarball", async () => {
        // jsDelivr and unpkg serve the tarball's files under /npm/<name>@<version>/.
        const unpacked = `${tmp}/unpacked`;
        await Deno.mkdir(unpacked);
        await run(unpacked, "tar", "-xzf", tarball);
        const base = `/npm/@kustomer-desk/web-chat@${version}/`;
        const cdn = serveFolder(`${unpacked}/package`, base);
        servers.push(cdn.server);
        const at = `${cdn.url}${base}`;
        const module = (from: string) =>
          `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>cdn</title>
<script type="module">
  import { kustomerServiceDeskFactory } from "${at}${from}";
  import { SimulatedKustomerCore } from "${at}browser/simulator.js";
  import { runEscalation } from "/harness.js";
  window.start = () => runEscalation(kustomerServiceDeskFactory({ core: new SimulatedKustomerCore(${FAST}) }));
  window.ready = true;
</script>`;
        const classic = (options: string) =>
          `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>classic</title>
<script>window.kustomerServiceDeskOptions = ${options};</script>
<script src="${at}browser/kustomer-service-desk.iife.js"></script>
<script type="module">
  import { SimulatedKustomerCore } from "${at}browser/simulator.js";
  import { runEscalation } from "/harness.js";
  window.KustomerCore = new SimulatedKustomerCore(${FAST});
  window.start = () => runEscalation(window.WebChatServiceDeskFactory);
  window.ready = true;
</script>`;
        // The site: another origin.
        const site = serveFolder(tmp, "/nothing/", {
          "/harness.js": HARNESS,
          "/browser-esm.html": module("browser/kustomer-service-desk.js"),
          "/split-esm.html": module("esm/index.js"),
          "/classic.html": classic('{ title: "From the classic script" }'),
          "/classic-typo.html": classic('{ apikey: "public-chat-key" }'),
          "/watsonx.html": `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<title>watsonx</title>
${snippet("watsonx").replaceAll("https://cdn.jsdelivr.net/npm/", `${cdn.url}/npm/`)}`,
        });
        servers.push(site.server);
        await timed("CDN pages in Chromium", async () => {
          const browserEsm = await escalate(
            browser!,
            `${site.url}/browser-esm.html`,
            /kustomer-service-desk-engine\.js/,
          );
          assertMatch(
            browserEsm.engine,
            new RegExp(`^${at}browser/kustomer-service-desk-engine\\.js\\?v=\\w+&f=esm$`),
          );
          const split = await escalate(
            browser!,
            `${site.url}/split-esm.html`,
            /\/engine-[\w-]+\.js$/,
          );
          assertMatch(split.engine, new RegExp(`^${at}${npm.engine}$`));
          const iife = await escalate(
            browser!,
            `${site.url}/classic.html`,
            /kustomer-service-desk-engine\.js/,
          );
          assertMatch(
            iife.engine,
            new RegExp(`^${at}browser/kustomer-service-desk-engine\\.js\\?v=\\w+&f=iife$`),
          );
        });
        // README's watsonx snippet, with its jsDelivr URL pointing here and IBM's and Kustomer's
        // scripts stubbed at the network: core.js defines KustomerCore (the simulator); web chat
        // escalates through the serviceDeskFactory the snippet gives it.
        await timed("watsonx snippet in Chromium", async () => {
          const context = await browser!.newContext();
          await context.route(
            "https://cdn.kustomerapp.com/chat-web/core.js",
            (route) =>
              route.fulfill({
                contentType: "text/javascript",
                body: `import("${at}browser/simulator.js").then((m) => {
  window.KustomerCore = new m.SimulatedKustomerCore(${FAST});
  dispatchEvent(new Event("kustomerCoreLoaded"));
});`,
              }),
          );
          const ibm = "https://web-chat.global.assistant.watson.appdomain.cloud/versions/latest/" +
            "WatsonAssistantChatEntry.js";
          await context.route(ibm, (route) =>
            route.fulfill({
              contentType: "text/javascript",
              body: `(async () => {
  const options = window.watsonAssistantChatOptions;
  while (!window.KustomerCore) await new Promise((resolve) => setTimeout(resolve, 20));
  const { runEscalation } = await import("${site.url}/harness.js");
  window.result = { ...(await runEscalation(options.serviceDeskFactory)), onLoad: typeof options.onLoad };
})();`,
            }));
          const page = await context.newPage();
          const errors = watchErrors(page);
          const requests: string[] = [];
          page.on("request", (r) => requests.push(r.url()));
          await page.goto(`${site.url}/watsonx.html`);
          await page.waitForFunction(() => "result" in globalThis, undefined, { timeout: 30_000 });
          const result = await page.evaluate(() =>
            (globalThis as unknown as { result: Result & { onLoad: string } }).result
          );
          assert(result.ok, result.error);
          assertEquals(result.onLoad, "function");
          assert(requests.includes(ibm), "web chat was loaded");
          assert(
            requests.some((u) => u.startsWith(`${at}browser/kustomer-service-desk-engine.js`)),
            "the engine came from the CDN",
          );
          assertEquals(errors, []);
          await context.close();
        });

        // A misspelt key: said on load, and thrown when the host calls the factory.
        const context = await browser!.newContext();
        const page = await context.newPage();
        const errors = watchErrors(page);
        await page.goto(`${site.url}/classic-typo.html`);
        await page.waitForFunction(() => "ready" in globalThis);
        const thrown = await page.evaluate(() => {
          try {
            (globalThis as unknown as { WebChatServiceDeskFactory(p: unknown): unknown })
              .WebChatServiceDeskFactory({ callback: {} });
            return "nothing thrown";
          } catch (error) {
            return `${(error as Error).name}: ${(error as Error).message}`;
          }
        });
        const said = "window.kustomerServiceDeskOptions.apikey is not an option of the Kustomer " +
          "service desk; did you mean window.kustomerServiceDeskOptions.apiKey?";
        assertEquals(thrown, `TypeError: ${said}`);
        assertEquals(errors, [`console.error: Kustomer service desk: ${said}`]);
        await context.close();
      });
    } finally {
      await browser?.close();
      for (const server of servers) await server.shutdown();
      await esbuild.stop();
      console.log(
        `npm package test times (ms): ${
          Object.entries(times).map(([what, ms]) => `${what} ${ms}`).join(", ")
        }`,
      );
      if (Deno.env.get("NPM_TEST_KEEP") === "1") console.log(`kept ${tmp}`);
      else await Deno.remove(tmp, { recursive: true });
    }
  },
});
