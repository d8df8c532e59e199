/**
 * A fixed-seed sample of the reload storm, run by `deno task test`: 27 trials, three of each kind,
 * must lose, duplicate and orphan nothing, with nothing else amiss ("failed visibly" is allowed).
 * `deno task storm` runs the full storm (300 trials, any seed).
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { IGNORE, requireBrowser } from "./_helpers.ts";
import { figures, report, runStorm, TRIAL_KINDS } from "../storm/storm.ts";

/** The sample's seed: change it only with a note of why. */
const SEED = 2026;

Deno.test({
  name: "the reload storm (seed 2026, 27 trials) loses, duplicates and orphans nothing",
  ignore: IGNORE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    requireBrowser();
    const results = await runStorm({ seed: SEED, trials: 3 * TRIAL_KINDS.length, workers: 3 });
    const { trials, lost, duplicated, orphaned, other } = figures(results);
    assertEquals(
      { trials, lost, duplicated, orphaned, other },
      { trials: 27, lost: 0, duplicated: 0, orphaned: 0, other: 0 },
      report(results),
    );
  },
});
