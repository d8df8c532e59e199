/**
 * Our own reload storm: the built ESM bundle in Chromium, a host double that behaves as Carbon AI
 * Chat 1.9 does, and the simulated Kustomer with seeded latency (0–300 ms on every call and event)
 * whose calls take effect part-way, so a reload loses either the request or only its answer. Each
 * trial chats with an agent and reloads at one point — during `startChat`, queued, right after a
 * user send, agent typing, an agent message in flight, during `endChat` from either side, twice in
 * a row — or closes the tab and opens a new one; then it carries on, ends the chat, and checks
 * what the user saw and what Kustomer has (see `check.ts`).
 *
 * ```sh
 * deno task storm                          # 300 trials, a random seed (printed)
 * deno task storm --seed=123               # the same trials again
 * deno task storm --seed=123 --trial=17    # one trial, with its log
 * deno task storm --trials=50 --workers=3
 * ```
 *
 * A trial replays the same steps, waits and network delays from its seed and index; the browser's
 * own timing (IndexedDB, rendering) is not seeded, so a race may need a few replays to show again.
 *
 * @module
 */

import type { Browser, BrowserContext, Page } from "playwright-core";
import * as esbuild from "esbuild";
import { build, FILES } from "../../build.ts";
import { serveFiles } from "../../dev.ts";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../browser/chromium.ts";
import { checkTrial, type Failure, type FailureKind } from "./check.ts";
import type { StormLogEntry } from "./page.ts";

/** Where the storm reloads (or closes the tab). */
export const TRIAL_KINDS = [
  "during startChat",
  "queued",
  "after a user send",
  "agent typing",
  "agent message in flight",
  "during the user's endChat",
  "during the agent's end",
  "twice in a row",
  "tab closed, new tab",
] as const;

/** One of {@linkcode TRIAL_KINDS}. */
export type TrialKind = typeof TRIAL_KINDS[number];

/** What one trial found. */
export interface TrialResult {
  /** The storm's seed. */
  readonly seed: number;
  /** The trial's index. */
  readonly index: number;
  /** Where it reloaded. */
  readonly kind: TrialKind;
  /** What went wrong (empty: passed). */
  readonly failures: readonly Failure[];
  /** The trial's log (what the user saw and did). */
  readonly log: readonly StormLogEntry[];
  /** Wall time, ms. */
  readonly ms: number;
}

/** A served build of the desk and the storm page. */
export interface StormSite {
  /** The storm page's URL (without query). */
  readonly url: string;
  /** Stops the server and removes the build. */
  close(): Promise<void>;
}

/** Builds the bundles (as `deno task build` does) and the storm page, and serves them. */
export async function serveStorm(): Promise<StormSite> {
  const outDir = await Deno.makeTempDir({ prefix: "kustomer-desk-storm-" });
  await build({ outDir, example: false, types: false, enforceBudget: false, log: () => {} });
  const root = new URL("../../", import.meta.url).pathname;
  await esbuild.build({
    entryPoints: [new URL("./page.ts", import.meta.url).pathname],
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    outfile: `${outDir}/storm-page.js`,
    absWorkingDir: root,
    logLevel: "warning",
    plugins: [{
      name: "storm-externals",
      setup(b) {
        const map: Record<string, string> = {
          "../../mod.ts": `./${FILES.esm}`,
          "../../simulator.ts": `./${FILES.simulator}`,
        };
        b.onResolve({ filter: /^\.\.\/\.\.\/(mod|simulator)\.ts$/ }, (args) => ({
          path: map[args.path],
          external: true,
        }));
      },
    }],
  });
  const server = serveFiles({
    distDir: outDir,
    pages: {
      "/blank": `<!doctype html><title>blank</title>`,
      "/storm.html": `<!doctype html><meta charset="utf-8"><title>storm</title>` +
        `<script type="module" src="/dist/storm-page.js"></script>`,
    },
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/storm.html`,
    async close() {
      await server.shutdown();
      await Deno.remove(outDir, { recursive: true }).catch(() => {});
    },
  };
}

/** Launches headless Chromium (never downloads one). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
}

/** mulberry32: a small seeded generator in [0, 1). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Snapshot = {
  server: unknown;
  log: StormLogEntry[];
  tokens: string[];
  chatStarted: boolean;
  isConnected: boolean;
  deskPointer: boolean;
};

type StormApi = {
  ready: boolean;
  requestAgent(): void;
  userSend(text: string): void;
  userEnd(): void;
  agentSend(text: string): string | undefined;
  agentTyping(typing: boolean): void;
  agentEnd(): string | undefined;
  snapshot(): Snapshot;
  indexedDbText(): Promise<string>;
};

/** How long a trial waits for a step it expects (an answer, a message) before moving on. */
const STEP_MS = 5_000;
/** How long a trial waits, after the end, for everything to settle before it judges. */
const SETTLE_MS = 8_000;

/**
 * A browser context that runs trials one after another (a new tab costs seconds on a busy
 * machine; clearing the origin's storage between trials costs milliseconds).
 */
export interface Lane {
  /** The context. */
  readonly context: BrowserContext;
  /** Its tab, once a trial has opened one. */
  page?: Page;
}

/** Opens a lane. */
export async function openLane(browser: Browser): Promise<Lane> {
  return { context: await browser.newContext() };
}

/**
 * Runs one trial in a lane: clears the origin's storage (local, session, IndexedDB), then chats.
 *
 * @param lane The browser context (and tab) to use.
 * @param url The storm page.
 * @param seed The storm's seed.
 * @param index The trial's index (its kind is `TRIAL_KINDS[index % TRIAL_KINDS.length]`).
 * @returns What it found.
 */
export async function runTrial(
  lane: Lane,
  url: string,
  seed: number,
  index: number,
): Promise<TrialResult> {
  const t0 = performance.now();
  const kind = TRIAL_KINDS[index % TRIAL_KINDS.length];
  const random = generator(Math.imul(seed, 0x9e3779b1) ^ (index * 0x85ebca6b));
  // Skewed towards `min`: the narrow windows right after a step are where the races are.
  const between = (min: number, max: number) => Math.round(min + random() ** 2 * (max - min));
  const historyKey = `storm-key-${seed}-${index}-${Math.floor(random() * 1e9)}`;
  const context = lane.context;
  const pageErrors: string[] = [];
  let pageNo = -1;
  let page!: Page;
  let agentCount = 0;
  let userCount = 0;

  const open = async (fresh: boolean) => {
    pageNo++;
    if (fresh) {
      page = lane.page = await context.newPage();
      page.on("pageerror", (e) => pageErrors.push(`pageerror on page ${pageNo}: ${e.message}`));
    }
    const query = `?page=${pageNo}&seed=${(seed * 7919 + index * 104729 + pageNo) >>> 0}` +
      `&key=${encodeURIComponent(historyKey)}`;
    await page.goto(url + query);
    await page.waitForFunction(
      () => (globalThis as unknown as { storm?: StormApi }).storm?.ready === true,
      undefined,
      { timeout: 20_000 },
    );
  };
  const reload = () => open(false);
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const snapshot = async (): Promise<Snapshot | undefined> => {
    try {
      return await page.evaluate(() =>
        (globalThis as unknown as { storm: StormApi }).storm.snapshot()
      );
    } catch {
      return undefined; // navigating
    }
  };
  /** Waits until `check` holds on the page's snapshot, or `ms` passed; says which. */
  const until = async (check: (s: Snapshot) => boolean, ms = STEP_MS): Promise<boolean> => {
    const end = performance.now() + ms;
    for (;;) {
      const s = await snapshot();
      if (s && check(s)) return true;
      if (performance.now() > end) return false;
      await pause(50);
    }
  };
  const here = (s: Snapshot) => s.log.filter((e) => e.page === pageNo);
  const started = (s: Snapshot) =>
    here(s).some((e) => e.kind === "startResolved" || e.kind === "startRejected");
  const shownHere = (text: string) => (s: Snapshot) =>
    here(s).some((e) => e.kind === "shown" && e.text === text);
  const settled = (id: string) => (s: Snapshot) =>
    s.log.some((e) => (e.kind === "sendResolved" || e.kind === "sendRejected") && e.id === id);

  const agentSend = async (): Promise<string> => {
    const text = `agent ${index}.${++agentCount}`;
    await page.evaluate(
      (t) => (globalThis as unknown as { storm: StormApi }).storm.agentSend(t),
      text,
    );
    return text;
  };
  const userSend = async (): Promise<string> => {
    const text = `user ${index}.${++userCount}`;
    await page.evaluate(
      (t) => (globalThis as unknown as { storm: StormApi }).storm.userSend(t),
      text,
    );
    return text;
  };
  const userSendAndWait = async () => {
    const text = await userSend();
    await until((s) => {
      const handed = s.log.find((e) => e.kind === "handed" && e.text === text);
      return !handed || settled(handed.id!)(s);
    });
  };
  const requestAgent = async () => {
    await page.evaluate(() => (globalThis as unknown as { storm: StormApi }).storm.requestAgent());
  };
  const agentJoins = async () => {
    const text = await agentSend();
    await until(shownHere(text));
  };

  let ended = false;
  try {
    if (lane.page) {
      // Leave the previous trial's page (its timers die with it), then clear the origin.
      page = lane.page;
      page.removeAllListeners("pageerror");
      page.on("pageerror", (e) => pageErrors.push(`pageerror on page ${pageNo}: ${e.message}`));
      await page.goto("about:blank");
      await page.goto(new URL("/blank", url).href);
      await page.evaluate(async () => {
        localStorage.clear();
        sessionStorage.clear();
        for (const { name } of await indexedDB.databases()) {
          if (!name) continue;
          await new Promise((resolve, reject) => {
            const request = indexedDB.deleteDatabase(name);
            request.onsuccess = resolve;
            request.onerror = reject;
            request.onblocked = () => reject(new Error(`deleting ${name} is blocked`));
          });
        }
      });
      await open(false);
    } else await open(true);
    await requestAgent();
    if (kind === "during startChat") {
      await pause(between(0, 1500));
      await reload();
    } else {
      await until(started);
      if (kind === "queued") {
        await pause(between(0, 300));
        await reload();
        if (random() < 1 / 3) {
          // The agent ends the waiting chat while the new page is resuming it (defect 5's race).
          const s = await snapshot();
          if (!s?.chatStarted && !s?.deskPointer) await requestAgent();
          await until((x) => x.chatStarted, 2_500);
          await pause(between(0, 300));
          await page.evaluate(() =>
            (globalThis as unknown as { storm: StormApi }).storm.agentEnd()
          );
          ended = true;
        }
      } else {
        await agentJoins();
        await userSendAndWait();
        switch (kind) {
          case "after a user send":
            await userSend();
            await pause(between(0, 250));
            await reload();
            break;
          case "agent typing":
            await page.evaluate(() =>
              (globalThis as unknown as { storm: StormApi }).storm.agentTyping(true)
            );
            await pause(between(0, 150));
            await reload();
            break;
          case "agent message in flight":
            // One to three at once: each event has its own delay, so they may arrive out of order.
            for (let i = 1 + Math.floor(random() * 3); i > 0; i--) await agentSend();
            await pause(between(0, 300));
            await reload();
            break;
          case "during the user's endChat":
            await page.evaluate(() =>
              (globalThis as unknown as { storm: StormApi }).storm.userEnd()
            );
            await pause(between(0, 400));
            await reload();
            ended = true;
            break;
          case "during the agent's end":
            // Sometimes a user message is still on its way (defect 4: dropped without a failure).
            if (random() < 0.5) await userSend();
            await agentSend();
            await page.evaluate(() =>
              (globalThis as unknown as { storm: StormApi }).storm.agentEnd()
            );
            await pause(between(0, 300));
            await reload();
            ended = true;
            break;
          case "twice in a row":
            if (random() < 0.5) await userSend();
            else await agentSend();
            await pause(between(0, 250));
            await reload();
            await pause(between(0, 400));
            await reload();
            break;
          case "tab closed, new tab":
            if (random() < 0.5) await userSend();
            await pause(between(0, 250));
            await page.close();
            await open(true);
            break;
        }
      }
    }
    if (!ended) {
      // Carry on: ask again if the host is not in a chat, chat both ways, end from a side.
      const s = await snapshot();
      if (!s?.chatStarted) {
        // A desk may put a user whom the reload left waiting back in the queue itself (on
        // `chat:ready`, through `messaging.addMessage`); give it the time of a few calls.
        const requeued = s?.deskPointer && await until((x) => x.chatStarted, 2_500);
        if (!requeued) await requestAgent();
      }
      if (!s?.isConnected) await until(started);
      await agentJoins();
      await userSendAndWait();
      if (random() < 0.5) {
        await page.evaluate(() => (globalThis as unknown as { storm: StormApi }).storm.userEnd());
      } else {
        await agentSend();
        await page.evaluate(() => (globalThis as unknown as { storm: StormApi }).storm.agentEnd());
      }
    }
    // Settle: until nothing is left to happen, or SETTLE_MS.
    const end = performance.now() + SETTLE_MS;
    let last: Failure[] = [];
    for (;;) {
      const s = await snapshot();
      if (s) {
        last = checkTrial({
          server: s.server as never,
          log: s.log,
          tokens: s.tokens,
          historyKey,
          indexedDb: "",
          chatStarted: s.chatStarted,
          pageErrors: [],
        });
        // Waiting cannot undo a duplicate or an overlap; it can still deliver, end or clean up.
        const pending = last.some((f) =>
          f.kind === "lost" || f.kind === "orphaned" ||
          f.detail === "the host still shows a chat after the end"
        );
        if (!pending) break;
      }
      if (performance.now() > end) break;
      await pause(100);
    }
    const s = (await snapshot())!;
    const indexedDb = await page.evaluate(() =>
      (globalThis as unknown as { storm: StormApi }).storm.indexedDbText()
    );
    const failures = checkTrial({
      server: s.server as never,
      log: s.log,
      tokens: s.tokens,
      historyKey,
      indexedDb,
      chatStarted: s.chatStarted,
      pageErrors,
    });
    return { seed, index, kind, failures, log: s.log, ms: Math.round(performance.now() - t0) };
  } catch (error) {
    const s = await snapshot();
    return {
      seed,
      index,
      kind,
      failures: [{ kind: "other", detail: `the trial broke: ${(error as Error).message}` }],
      log: s?.log ?? [],
      ms: Math.round(performance.now() - t0),
    };
  }
}

/** Options of {@linkcode runStorm}. */
export interface StormOptions {
  /** The seed. */
  seed: number;
  /** How many trials (indexes 0..trials-1). @default {300} */
  trials?: number;
  /** Only these trial indexes. */
  only?: readonly number[];
  /** Browser contexts run in parallel. @default {4} */
  workers?: number;
  /** Called after each trial. */
  onTrial?: (result: TrialResult) => void;
}

/**
 * Runs the storm: builds, serves, launches Chromium, runs the trials in parallel contexts.
 *
 * @param options Seed, trials, parallelism.
 * @returns Each trial's result, by index.
 */
export async function runStorm(options: StormOptions): Promise<TrialResult[]> {
  const indexes = options.only ?? [...Array(options.trials ?? 300).keys()];
  const site = await serveStorm();
  const browser = await launchChromium();
  const results: TrialResult[] = [];
  try {
    let next = 0;
    const worker = async () => {
      let lane = await openLane(browser);
      while (next < indexes.length) {
        const index = indexes[next++];
        const result = await runTrial(lane, site.url, options.seed, index);
        results.push(result);
        options.onTrial?.(result);
        if (result.failures.some((f) => f.detail.startsWith("the trial broke"))) {
          // A broken trial may leave its tab in any state: start the next one in a new context.
          await lane.context.close().catch(() => {});
          lane = await openLane(browser);
        }
      }
      await lane.context.close().catch(() => {});
    };
    await Promise.all(
      [...Array(Math.min(options.workers ?? 4, indexes.length))].map(() => worker()),
    );
  } finally {
    await browser.close();
    await site.close();
    await esbuild.stop();
  }
  return results.sort((a, b) => a.index - b.index);
}

/** The storm's figures: trials, and failures of each kind. */
export type StormFigures = { trials: number } & Record<FailureKind, number>;

/** Counts failures by kind. */
export function figures(results: readonly TrialResult[]): StormFigures {
  const counts: StormFigures = {
    trials: results.length,
    lost: 0,
    duplicated: 0,
    "failed-visibly": 0,
    orphaned: 0,
    other: 0,
  };
  for (const r of results) for (const f of r.failures) counts[f.kind]++;
  return counts;
}

/** The report: figures, a table by trial kind, and one replay line per failure. */
export function report(results: readonly TrialResult[]): string {
  const lines: string[] = [];
  const kinds: FailureKind[] = ["lost", "duplicated", "failed-visibly", "orphaned", "other"];
  const all = figures(results);
  lines.push(`trials, ${kinds.join(", ")}`);
  lines.push([all.trials, ...kinds.map((k) => all[k])].join(", "));
  lines.push("");
  lines.push(
    `${"where it reloaded".padEnd(28)} trials ${kinds.map((k) => k.padStart(8)).join(" ")}`,
  );
  for (const kind of TRIAL_KINDS) {
    const of = figures(results.filter((r) => r.kind === kind));
    lines.push(
      `${kind.padEnd(28)} ${String(of.trials).padStart(6)} ${
        kinds.map((k) => String(of[k]).padStart(8)).join(" ")
      }`,
    );
  }
  const failing = results.filter((r) => r.failures.length > 0);
  if (failing.length) lines.push("");
  for (const r of failing) {
    for (const f of r.failures) {
      lines.push(
        `${f.kind}: ${f.detail} [${r.kind}] deno task storm --seed=${r.seed} --trial=${r.index}`,
      );
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const arg = (name: string) =>
    Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const seed = arg("seed") !== undefined
    ? Number(arg("seed"))
    : Math.floor(Math.random() * 1_000_000);
  if (!Number.isInteger(seed)) throw new TypeError(`--seed must be an integer, got ${arg("seed")}`);
  const trial = arg("trial");
  const trials = Number(arg("trials") ?? 300);
  const workers = Number(arg("workers") ?? 4);
  console.log(
    `storm: seed ${seed}, ${trial !== undefined ? `trial ${trial}` : `${trials} trials`}`,
  );
  const t0 = performance.now();
  let done = 0;
  const results = await runStorm({
    seed,
    trials,
    workers,
    ...(trial !== undefined ? { only: [Number(trial)] } : {}),
    onTrial: () => {
      done++;
      if (trial === undefined && done % 25 === 0) console.log(`  ${done} trials done`);
    },
  });
  if (trial !== undefined) {
    for (const e of results[0].log) console.log(JSON.stringify(e));
    console.log(`trial took ${results[0].ms} ms`);
  }
  console.log(report(results));
  console.log(`(${((performance.now() - t0) / 1000).toFixed(0)} s, ${workers} workers)`);
}
