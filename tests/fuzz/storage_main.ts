/**
 * `deno task fuzz:storage`: runs the storage fuzzer (tests/fuzz/storage_fuzz.ts) over many seeded
 * cases and prints each failing case with its steps and how to replay it.
 *
 * ```sh
 * deno task fuzz:storage                          # 1,000 cases over memory, a fixed seed
 * deno task fuzz:storage --cases=500 --seed=7     # another run
 * deno task fuzz:storage --store=indexeddb        # over fake-indexeddb
 * deno task fuzz:storage --case=123456789         # replays one case, printing its steps
 * deno task fuzz:storage --case=123456789 --trace # and each SDK call each page made
 * ```
 *
 * @module
 */

import { runStorageCase, type StorageKind } from "./storage_fuzz.ts";
import { caseSeed } from "./rng.ts";

const args = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const seed = Number(args.seed ?? 20261201);
const cases = Number(args.cases ?? 1_000);
const kind = (args.store ?? "memory") as StorageKind;
if (kind !== "memory" && kind !== "indexeddb") {
  throw new RangeError(`--store must be memory or indexeddb, not ${kind}`);
}

// A case that never ends must not pass for a clean run.
let finished = false;
globalThis.addEventListener("unload", () => {
  if (!finished) {
    console.error("The fuzzer stopped before its end (a promise that never settled?)");
    Deno.exitCode = 2;
  }
});

const replay = (caseSeedValue: number) =>
  `deno task fuzz:storage --store=${kind} --case=${caseSeedValue}`;

if (args.case !== undefined) {
  const result = await runStorageCase(Number(args.case), { kind, trace: "trace" in args });
  finished = true;
  console.log(result.steps.map((s, i) => `${i + 1}. ${s}`).join("\n"));
  if (result.trace.length) console.log(`\nSDK calls:\n${result.trace.join("\n")}`);
  console.log(`\nnotes: ${result.notes.length}\n${result.notes.join("\n")}`);
  console.log(`\nviolations: ${result.violations.length}\n${result.violations.join("\n")}`);
  Deno.exit(result.violations.length ? 1 : 0);
}

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
let violations = 0;
const failing: number[] = [];
const notes = new Map<string, number>();
for (let i = 0; i < cases; i++) {
  const result = await runStorageCase(caseSeed(seed, i), { kind });
  violations += result.violations.length;
  for (const note of result.notes) {
    const what = note.split(":")[0];
    notes.set(what, (notes.get(what) ?? 0) + 1);
  }
  if (result.violations.length) {
    failing.push(result.seed);
    console.log(`case ${i} failed; replay: ${replay(result.seed)}`);
    for (const line of result.violations) console.log(`  ${line.split("\n")[0]}`);
    console.log(result.steps.map((s, n) => `    ${n + 1}. ${s}`).join("\n"));
  }
  if ((i + 1) % 100 === 0) console.error(`… ${i + 1} cases, ${elapsed()}`);
}
finished = true;
console.log(
  `Storage (${kind}): cases ${cases}, invariant violations ${violations} ` +
    `(seed ${seed}, ${failing.length} failing cases, ${elapsed()}); allowed outcomes: ${
      [...notes].map(([what, n]) => `${what} ${n}`).join(", ") || "none"
    }`,
);
if (failing.length) Deno.exit(1);
