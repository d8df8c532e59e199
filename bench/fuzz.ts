/**
 * `deno task fuzz`: runs the Kustomer-side fuzzer (10,000 cases by default) and prints
 * `cases, crashes, invariant violations`, with the seed and how to replay a failing case.
 *
 * ```sh
 * deno task fuzz                      # 10,000 cases, a fixed seed
 * deno task fuzz --cases=500 --seed=7 # another run
 * deno task fuzz --case=123456789     # replays one case (its seed), printing its steps
 * ```
 *
 * @module
 */

import { runKustomerCase } from "../tests/fuzz/kustomer_fuzz.ts";
import { caseSeed } from "../tests/fuzz/rng.ts";

const args = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const seed = Number(args.seed ?? 20261201);
const cases = Number(args.cases ?? 10_000);

if (args.case !== undefined) {
  const result = await runKustomerCase(Number(args.case));
  console.log(result.steps.map((s, i) => `${i + 1}. ${s}`).join("\n"));
  console.log(`\nwarnings:\n${result.warnings.join("\n")}`);
  console.log(`\ncrashes: ${result.crashes.length}\n${result.crashes.join("\n")}`);
  console.log(`violations: ${result.violations.length}\n${result.violations.join("\n")}`);
  Deno.exit(result.crashes.length || result.violations.length ? 1 : 0);
}

let crashes = 0;
let violations = 0;
const failing: number[] = [];
const started = performance.now();
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
  if ((i + 1) % 1000 === 0) {
    console.error(`… ${i + 1} cases, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `cases ${cases}, crashes ${crashes}, invariant violations ${violations} ` +
    `(seed ${seed}, ${failing.length} failing cases, ${seconds} s)`,
);
if (failing.length) {
  console.log(`replay one: deno task fuzz --case=${failing[0]}`);
  Deno.exit(1);
}
