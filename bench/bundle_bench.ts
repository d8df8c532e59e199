/**
 * What the split desk costs and saves, in headless Chromium on an emulated slow network:
 * `deno task bench:bundle`.
 *
 * Builds the bundles, plus the desk as one ESM file (no splitting) to compare with, serves them
 * gzipped (as a CDN would), and for each, in a fresh browser context per round:
 * - the time from navigation until the page has a desk (the factory called), and the desk's bytes
 *   on the wire by then;
 * - the first `startChat` against the simulator (instant), which for the split bundle includes
 *   fetching the engine.
 *
 * The network: 150 ms round trip, 1.6 Mbit/s down (Chrome's "Fast 3G"), cache off. Prints a
 * markdown table of medians. Exits 1 when Chromium is missing; never downloads a browser.
 *
 * - `ROUNDS=n` sets the rounds (default 7).
 *
 * @module
 */

import * as esbuild from "esbuild";
import { build, FILES } from "../build.ts";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../tests/browser/chromium.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 7);
const ONE_FILE = "one-file.js";

/** A page that makes a desk as soon as the bundle is in, and can escalate. */
const page = (bundle: string) =>
  `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>bench</title>
<script type="module">
  import { SimulatedKustomerCore } from "/dist/simulator.js";
  const { kustomerServiceDeskFactory } = await import("/dist/${bundle}");
  const core = new SimulatedKustomerCore({ script: false });
  const desk = kustomerServiceDeskFactory({ core, store: "memory" })({
    callback: new Proxy({}, { get: () => () => {} }),
  });
  window.deskReadyMs = performance.now();
  window.escalate = async () => {
    const t0 = performance.now();
    await desk.startChat({ output: { generic: [{ response_type: "connect_to_agent" }] } });
    return performance.now() - t0;
  };
</script>`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (import.meta.main) {
  try {
    Deno.statSync(CHROMIUM_PATH);
  } catch {
    console.error(`Chromium not found at ${CHROMIUM_PATH} (install it, or set CHROMIUM_PATH)`);
    Deno.exit(1);
  }
  const { chromium } = await import("playwright-core");
  const outDir = await Deno.makeTempDir({ prefix: "kustomer-desk-bundle-bench-" });
  await build({ outDir, example: false, types: false, enforceBudget: false, log: () => {} });
  await esbuild.build({
    entryPoints: ["mod.ts"],
    absWorkingDir: new URL("..", import.meta.url).pathname,
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    outfile: `${outDir}/${ONE_FILE}`,
    logLevel: "warning",
  });
  await esbuild.stop();
  // Gzipped, as a CDN serves them.
  const pages: Record<string, string> = {
    "/split.html": page(FILES.esm),
    "/one.html": page(ONE_FILE),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    const file = /^\/dist\/[\w.-]+\.js$/.test(path) ? `${outDir}/${path.slice(6)}` : undefined;
    const body = pages[path] ??
      (file ? await Deno.readFile(file).catch(() => undefined) : undefined);
    if (body === undefined) return new Response("Not found", { status: 404 });
    const gzip = request.headers.get("accept-encoding")?.includes("gzip");
    return new Response(
      gzip ? new Blob([body]).stream().pipeThrough(new CompressionStream("gzip")) : body,
      {
        headers: {
          "content-type": path.endsWith(".js") ? "text/javascript" : "text/html; charset=utf-8",
          "cache-control": "no-store",
          ...(gzip ? { "content-encoding": "gzip" } : {}),
        },
      },
    );
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS],
  });
  const rows: string[][] = [];
  try {
    for (
      const [label, path] of [
        ["split (entry up front, engine when a chat starts)", "/split.html"],
        [
          "one file",
          "/one.html",
        ],
      ] as const
    ) {
      const ready: number[] = [];
      const upFront: number[] = [];
      const escalate: number[] = [];
      const later: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const context = await browser.newContext();
        const tab = await context.newPage();
        const cdp = await context.newCDPSession(tab);
        await cdp.send("Network.enable");
        await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
        await cdp.send("Network.emulateNetworkConditions", {
          offline: false,
          latency: 150,
          downloadThroughput: 1.6e6 / 8,
          uploadThroughput: 0.75e6 / 8,
        });
        // Bytes on the wire (compressed) of the desk's files, as each finishes.
        const wire = new Map<string, number>();
        cdp.on("Network.loadingFinished", (e: { requestId: string; encodedDataLength: number }) => {
          wire.set(e.requestId, e.encodedDataLength);
        });
        const urls = new Map<string, string>();
        cdp.on(
          "Network.requestWillBeSent",
          (e: { requestId: string; request: { url: string } }) =>
            urls.set(e.requestId, e.request.url),
        );
        const deskBytes = () =>
          [...wire].filter(([id]) => /kustomer-service-desk|one-file/.test(urls.get(id) ?? ""))
            .reduce((n, [, bytes]) => n + bytes, 0);
        await tab.goto(`${base}${path}`);
        await tab.waitForFunction(() => "escalate" in globalThis, undefined, { timeout: 30_000 });
        ready.push(await tab.evaluate(() => (globalThis as { deskReadyMs?: number }).deskReadyMs!));
        upFront.push(deskBytes());
        escalate.push(
          await tab.evaluate(() =>
            (globalThis as unknown as { escalate(): Promise<number> }).escalate()
          ),
        );
        later.push(deskBytes());
        await context.close();
      }
      rows.push([
        label,
        `${median(ready).toFixed(0)} ms`,
        `${(median(upFront) / 1024).toFixed(1)} KB`,
        `${median(escalate).toFixed(0)} ms`,
        `${(median(later) / 1024).toFixed(1)} KB`,
      ]);
    }
  } finally {
    await browser.close();
    await server.shutdown();
    await Deno.remove(outDir, { recursive: true });
  }
  console.log(
    `Chromium, 150 ms RTT, 1.6 Mbit/s, cache off; medians of ${ROUNDS} rounds (the simulator's` +
      ` bundle is loaded too, in both)\n`,
  );
  console.log(
    "| bundle | page has a desk (from navigation) | desk bytes on the wire then | first startChat | desk bytes after it |",
  );
  console.log("| --- | --- | --- | --- | --- |");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
}
