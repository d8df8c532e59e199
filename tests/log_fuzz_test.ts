/**
 * A damaged log under a chat: random bytes, truncated records, records from a future version, a
 * head ahead of its events, a snapshot that disagrees with the events. A fresh page resumes over
 * it through the public desk: one warning, and the chat goes on (`deno task fuzz` runs more).
 */

import { assert, assertEquals } from "@std/assert";
import { DAMAGES, runLogCase } from "./fuzz/log_fuzz.ts";
import { caseSeed } from "./fuzz/rng.ts";

const CASES = 30;

for (const kind of DAMAGES) {
  Deno.test(`damaged log (${kind}): ${CASES} seeded cases, each one warning and the chat goes on`, async () => {
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const result = await runLogCase(caseSeed(4242, i), kind);
      for (const problem of result.problems) failures.push(`seed ${result.seed}: ${problem}`);
      // The warning says what was wrong, not only that something was.
      const warning = result.warnings.find((w) => /chat log/i.test(w)) ?? "";
      assert(/cannot be (read|used)|missing/.test(warning), warning);
    }
    assertEquals(failures, []);
  });
}
