/**
 * `deno task fuzz`: runs the Kustomer-side fuzzer (10,000 cases by default) and the log fuzzer
 * (1,000 damaged logs), and prints `cases, crashes, invariant violations` for each, with the seed
 * and how to replay a failing case.
 *
 * ```sh
 * deno task fuzz                      # 10,000 + 1,000 cases, a fixed seed
 * deno task fuzz --cases=500 --seed=7 # another run
 * deno task fuzz --case=123456789     # replays one Kustomer case (its seed), printing its steps
 * deno task fuzz --log-case=123456789 # replays one log case
 * ```
 *
 * @module
 */

import { runKustomerCase } from "../tests/fuzz/kustomer_fuzz.ts";
import { runLogCase } from "../tests/fuzz/log_fuzz.ts";
import { caseSeed } from "../tests/fuzz/rng.ts";

const args = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const seed = Number(args.seed ?? 20261201);
const cases = Number(args.cases ?? 10_000);
const logCases = Number(args["log-cases"] ?? Math.ceil(cases / 10));

// A crash in the harness itself must not pass for a clean run.
let finished = false;
globalThis.addEventListener("unload", () => {
  if (!finished) {
    console.error("The fuzzer stopped before its end (a promise that never settled?)");
    Deno.exitCode = 2;
  }
});

if (args.case !== undefined) {
  const result = await runKustomerCase(Number(args.case));
  finished = true;
  console.log(result.steps.map((s, i) => `${i + 1}. ${s}`).join("\n"));
  console.log(`\nwarnings:\n${result.warnings.join("\n")}`);
  console.log(`\ncrashes: ${result.crashes.length}\n${result.crashes.join("\n")}`);
  console.log(`violations: ${result.violations.length}\n${result.violations.join("\n")}`);
  Deno.exit(result.crashes.length || result.violations.length ? 1 : 0);
}
if (args["log-case"] !== undefined) {
  const result = await runLogCase(Number(args["log-case"]));
  finished = true;
  console.log(`damage: ${result.kind}\nwarnings:\n${result.warnings.join("\n")}`);
  console.log(`problems: ${result.problems.length}\n${result.problems.join("\n")}`);
  Deno.exit(result.problems.length ? 1 : 0);
}

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

let crashes = 0;
let violations = 0;
const failing: number[] = [];
for (let i = 0; i < cases; i++) {
  const result = await runKustomerCase(caseSeed(seed, i));
  crashes += result.crashes.length;
  violations += result.violations.length;
  if (result.crashes.length || result.violations.length) {
    failing.push(result.seed);
    if (failing.length <= 5) {
      console.log(`case ${i} (--case=${result.seed}):`);
      for (const line of [...result.crashes, ...result.violations].slice(0, 5)) {
        console.log(`  ${line.split("\n").slice(0, 3).join("\n  ")}`);
      }
    }
  }
  if ((i + 1) % 1000 === 0) console.error(`… ${i + 1} cases, ${elapsed()}`);
}
console.log(
  `Kustomer side: cases ${cases}, crashes ${crashes}, invariant violations ${violations} ` +
    `(seed ${seed}, ${failing.length} failing cases, ${elapsed()})`,
);

let logProblems = 0;
const logFailing: number[] = [];
for (let i = 0; i < logCases; i++) {
  const result = await runLogCase(caseSeed(seed + 1, i));
  logProblems += result.problems.length;
  if (result.problems.length) {
    logFailing.push(result.seed);
    if (logFailing.length <= 5) {
      console.log(`log case ${i} (--log-case=${result.seed}, ${result.kind}):`);
      for (const line of result.problems.slice(0, 5)) console.log(`  ${line.split("\n")[0]}`);
    }
  }
}
console.log(
  `Log: cases ${logCases}, crashes and invariant violations ${logProblems} ` +
    `(seed ${seed + 1}, ${logFailing.length} failing cases, ${elapsed()} in all)`,
);
finished = true;
if (failing.length) console.log(`replay one: deno task fuzz --case=${failing[0]}`);
if (logFailing.length) console.log(`replay one: deno task fuzz --log-case=${logFailing[0]}`);
if (failing.length || logFailing.length) Deno.exit(1);
