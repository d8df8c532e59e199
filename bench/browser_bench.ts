/**
 * Speed and disk use of the session log on a real browser's IndexedDB: `deno task bench:browser`.
 *
 * Bundles a small page that drives {@linkcode SessionLog} over {@linkcode IndexedDbLogStore},
 * serves it on 127.0.0.1, and runs it in headless Chromium (a persistent profile, so IndexedDB is
 * on disk). Prints a markdown table. Exits 1 when Chromium is missing (`CHROMIUM_PATH` overrides
 * `/usr/bin/chromium`); never downloads a browser.
 *
 * - `ROUNDS=n` sets the rounds of each timing (default 5).
 *
 * @module
 */

import * as esbuild from "esbuild";
import type { BrowserContext, Page } from "playwright-core";
import { serveFiles } from "../dev.ts";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../tests/browser/chromium.ts";

const BENCH_DIR = new URL(".", import.meta.url).pathname;
const MESSAGES = 500;

/** The in-page entry: bench functions on `window.bench`, each returning milliseconds or counts. */
const ENTRY = `
import { SessionLog } from "../src/session_log.ts";
import { IndexedDbLogStore } from "../src/log_store.ts";

const started = {
  type: "escalation_started",
  data: { title: "t", context: "c", attribute: "keyStr" },
};
// As bench/session_log_bench.ts.
const agent = (i) => ({
  type: "agent_message_received",
  data: {
    message: {
      messageId: "m" + i,
      text: ("agent message " + i + " ").repeat(5),
      createdAt: new Date(i).toISOString(),
      agent: { id: "ada", nickname: "Ada" },
      attachments: [],
      quickReplies: [],
    },
  },
});
const strict = { warn: (m) => { throw new Error(m); } };
const store = new IndexedDbLogStore({ dbName: "bench" });

window.bench = {
  /** 100 appends, each awaited: one transaction each. */
  async sequential(id) {
    const log = SessionLog.create(store, id, strict);
    await log.append(started);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) await log.append(agent(i));
    const ms = performance.now() - t0;
    if (log.unsaved !== 0 || log.seq !== 101) throw new Error("not all saved");
    return ms;
  },
  /** 100 appends made together: one transaction. */
  async together(id) {
    const log = SessionLog.create(store, id, strict);
    await log.append(started);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(agent(i))));
    const ms = performance.now() - t0;
    if (log.unsaved !== 0 || log.seq !== 101) throw new Error("not all saved");
    return ms;
  },
  /** Writes a chat of n agent messages, appended one by one. */
  async write(id, n, snapshotEvery) {
    const log = SessionLog.create(store, id, { ...strict, snapshotEvery });
    await log.append(started);
    for (let i = 0; i < n; i++) await log.append(agent(i));
    if (log.unsaved !== 0) throw new Error("not all saved");
  },
  /** Resumes a stored chat; checks it has n messages. */
  async resume(id, n) {
    const t0 = performance.now();
    const log = await SessionLog.open(store, id, strict);
    const ms = performance.now() - t0;
    if (log?.state.transcript.length !== n) throw new Error("resumed the wrong chat");
    return ms;
  },
  /** After a browser restart: opens the database first (a small read), then resumes. */
  async coldResume(id, n) {
    const t0 = performance.now();
    await store.heads();
    const t1 = performance.now();
    const log = await SessionLog.open(store, id, strict);
    const t2 = performance.now();
    if (log?.state.transcript.length !== n) throw new Error("resumed the wrong chat");
    return [t1 - t0, t2 - t1];
  },
  /** Opens the database (creating it when new). */
  async touch() {
    return (await store.heads()).length;
  },
  /** Deletes a stored chat. */
  async remove(id) {
    const log = await SessionLog.open(store, id, strict);
    if (!log) throw new Error("no such chat");
    await log.remove();
    return (await store.heads()).length;
  },
};
`;

interface Bench {
  sequential(id: string): Promise<number>;
  together(id: string): Promise<number>;
  write(id: string, n: number, snapshotEvery: number): Promise<void>;
  resume(id: string, n: number): Promise<number>;
  coldResume(id: string, n: number): Promise<[number, number]>;
  touch(): Promise<number>;
  remove(id: string): Promise<number>;
}
type Method = keyof Bench;
type Args<M extends Method> = Parameters<Bench[M]>;

/** Calls `window.bench[method](...args)` in the page. */
function call<M extends Method>(
  page: Page,
  method: M,
  ...args: Args<M>
): Promise<Awaited<ReturnType<Bench[M]>>> {
  return page.evaluate(
    ([m, a]) => {
      const bench = (window as unknown as { bench: Record<string, (...x: unknown[]) => unknown> })
        .bench;
      return bench[m](...a);
    },
    [method, args] as [string, unknown[]],
  ) as Promise<Awaited<ReturnType<Bench[M]>>>;
}

/** The summed size of every file under `dir` (0 when it does not exist). */
async function dirSize(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) total += await dirSize(path);
      else if (entry.isFile) total += (await Deno.stat(path)).size;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return total;
}

/** The files under `dir` with their sizes, for the report. */
async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) out.push(...await listFiles(path, `${prefix}${entry.name}/`));
      else if (entry.isFile) out.push(`${prefix}${entry.name} ${(await Deno.stat(path)).size}`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x: number): string => x < 10 ? x.toFixed(2) : x.toFixed(1);
const kb = (bytes: number): string => (bytes / 1024).toFixed(1);
const stats = (xs: number[]): [string, string] => [
  `${ms(median(xs))} ms`,
  `${ms(Math.min(...xs))} – ${ms(Math.max(...xs))}`,
];

// --- main -------------------------------------------------------------------------------------

/** Runs the benchmark (only as a script: `deno bench bench/` also loads this file). */
async function main(): Promise<void> {
  const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
  try {
    Deno.statSync(CHROMIUM_PATH);
  } catch {
    console.error(
      `bench:browser: Chromium was not found at ${CHROMIUM_PATH}. Install it ` +
        "(apt-get install chromium) or set CHROMIUM_PATH; no browser is downloaded.",
    );
    Deno.exit(1);
  }

  const { chromium } = await import("playwright-core");
  const tmp = await Deno.makeTempDir({ prefix: "kustomer-desk-browser-bench-" });
  const distDir = `${tmp}/dist`;
  await esbuild.build({
    stdin: { contents: ENTRY, resolveDir: BENCH_DIR, sourcefile: "bench_entry.ts", loader: "ts" },
    bundle: true,
    format: "esm",
    target: "es2022",
    outfile: `${distDir}/bench.js`,
    logLevel: "warning",
  });
  await esbuild.stop();
  const server = serveFiles({
    distDir,
    pages: {
      "/bench.html":
        `<!doctype html><meta charset="utf-8"><title>bench</title><script type="module" src="/dist/bench.js"></script>`,
    },
  });
  const url = `http://127.0.0.1:${server.addr.port}/bench.html`;

  /** A persistent Chromium profile in `dir`, with the bench page open. */
  async function open(dir: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS],
      headless: true,
    });
    const page = context.pages()[0] ?? await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => "bench" in window, undefined, { timeout: 10_000 })
      .catch(() => {
        throw new Error(`the bench page did not load: ${errors.join("; ") || "no error shown"}`);
      });
    return { context, page };
  }

  const rows: string[][] = [];
  const notes: string[] = [];
  const started = performance.now();
  try {
    // --- Timings: one profile, warm page -------------------------------------------------------
    const timingDir = `${tmp}/profile-timing`;
    let { context, page } = await open(timingDir);
    await call(page, "touch");
    // Warm-up (JIT, first transactions), not counted.
    await call(page, "sequential", "warm-s");
    await call(page, "together", "warm-t");
    const sequential: number[] = [];
    const together: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      sequential.push(await call(page, "sequential", `seq-${r}`));
      together.push(await call(page, "together", `tog-${r}`));
    }
    rows.push(["100 appends, awaited one by one (100 transactions)", ...stats(sequential)]);
    rows.push(["100 appends made together (`Promise.all`, 1 transaction)", ...stats(together)]);

    const kinds = [["with snapshots (every 64)", 64], ["no snapshot", 100_000]] as const;
    for (const [, every] of kinds) await call(page, "write", `resume-${every}`, MESSAGES, every);
    const warm = new Map<number, number[]>(kinds.map(([, every]) => [every, []]));
    for (const [, every] of kinds) await call(page, "resume", `resume-${every}`, MESSAGES); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const [, every] of kinds) {
        warm.get(every)!.push(await call(page, "resume", `resume-${every}`, MESSAGES));
      }
    }
    // Cold: after a browser restart, the first use of the database, then the resume.
    const openDb: number[] = [];
    const cold = new Map<number, number[]>(kinds.map(([, every]) => [every, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const [, every] of kinds) {
        await context.close();
        ({ context, page } = await open(timingDir));
        const [openMs, resumeMs] = await call(page, "coldResume", `resume-${every}`, MESSAGES);
        openDb.push(openMs);
        cold.get(every)!.push(resumeMs);
      }
    }
    await context.close();
    for (const [label, every] of kinds) {
      rows.push([
        `resume a ${MESSAGES}-message chat, ${label}, page open`,
        ...stats(warm.get(every)!),
      ]);
    }
    rows.push([
      `after a browser restart: first read (opens the database; profile holds ${
        2 + 2 * ROUNDS
      } × 100-event and 2 × ${MESSAGES}-event logs)`,
      ...stats(openDb),
    ]);
    for (const [label, every] of kinds) {
      rows.push([
        `after a browser restart: then resume a ${MESSAGES}-message chat, ${label}`,
        ...stats(cold.get(every)!),
      ]);
    }

    // --- Disk: fresh profiles, the IndexedDB folder measured with the browser closed -----------
    const size = async (
      profile: string,
      what: string,
      act: (page: Page) => Promise<unknown>,
      idleMs = 0,
    ) => {
      const { context, page } = await open(`${tmp}/${profile}`);
      await act(page);
      if (idleMs) {
        // Let the database go idle with no connection (Chromium may sweep/compact then).
        await page.goto("about:blank");
        await new Promise((resolve) => setTimeout(resolve, idleMs));
      }
      await context.close();
      const idbDir = `${tmp}/${profile}/Default/IndexedDB`;
      const files = (await listFiles(idbDir)).map((f) => f.replace(/^[^/]*\.leveldb\//, ""));
      notes.push(`${what}: ${files.join(", ")}`);
      return await dirSize(idbDir);
    };
    const empty = await size("disk", "empty database", (page) => call(page, "touch"));
    const written = await size(
      "disk",
      `${MESSAGES}-message chat, snapshots every 64`,
      (page) => call(page, "write", "disk", MESSAGES, 64),
    );
    const removed = await size("disk", "after remove()", (page) => call(page, "remove", "disk"));
    const idled = await size(
      "disk",
      "reopened, 5 s idle, closed",
      (page) => call(page, "touch"),
      5_000,
    );
    const plain = await size(
      "disk-no-snapshot",
      `${MESSAGES}-message chat, no snapshot`,
      (page) => call(page, "write", "disk", MESSAGES, 100_000),
    );
    const perMessage = (bytes: number) =>
      `≈ ${Math.round((bytes - empty) / MESSAGES)} bytes/message over empty`;
    rows.push(["IndexedDB folder, empty database (store created)", `${kb(empty)} KB`, ""]);
    rows.push([
      `IndexedDB folder, ${MESSAGES}-message chat, snapshots every 64`,
      `${kb(written)} KB`,
      perMessage(written),
    ]);
    rows.push([
      `IndexedDB folder, ${MESSAGES}-message chat, no snapshot (fresh profile)`,
      `${kb(plain)} KB`,
      perMessage(plain),
    ]);
    rows.push([
      "IndexedDB folder, after `remove()` of the snapshotted chat",
      `${kb(removed)} KB`,
      "",
    ]);
    rows.push(["IndexedDB folder, then reopened, 5 s idle, closed", `${kb(idled)} KB`, ""]);
  } finally {
    await server.shutdown();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  const version = await new Deno.Command(CHROMIUM_PATH, { args: ["--version"], stderr: "null" })
    .output().then((o) => new TextDecoder().decode(o.stdout).trim()).catch(() => "Chromium");
  console.log(
    `\n### Session log on a real IndexedDB (${version}, headless, ${ROUNDS} rounds)\n`,
  );
  console.log("| measure | median / size | min – max / note |");
  console.log("| --- | --- | --- |");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  console.log("\nFiles of the origin's `*.indexeddb.leveldb` folder (name bytes), browser closed:");
  for (const note of notes) console.log(`- ${note}`);
  console.log(`\nTook ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  Deno.exit(0);
}

if (import.meta.main) await main();
