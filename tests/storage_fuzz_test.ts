/**
 * The storage fuzzer (tests/fuzz/storage_fuzz.ts) on a fixed sample of seeds, over memory and
 * fake-indexeddb, and one regression test per bug it found.
 */

import "fake-indexeddb/auto";
import { assertEquals } from "@std/assert";
import { settle } from "./_helpers.ts";
import { connect, customerTexts, world } from "./_world.ts";
import { runStorageCase, type StorageKind } from "./fuzz/storage_fuzz.ts";
import { caseSeed } from "./fuzz/rng.ts";

for (const [kind, seed, cases] of [["memory", 20261201, 150], ["indexeddb", 6, 30]] as const) {
  Deno.test(
    `storage fuzz over ${kind}: ${cases} cases of failing storage, Kustomer faults and reloads lose nothing`,
    async () => {
      const failures: string[] = [];
      let steps = 0;
      for (let i = 0; i < cases; i++) {
        const result = await runStorageCase(caseSeed(seed, i), { kind: kind as StorageKind });
        steps += result.steps.length;
        if (result.violations.length) {
          failures.push(
            `case ${i} (deno task fuzz:storage --store=${kind} --case=${result.seed}): ${
              result.violations.join("; ")
            }`,
          );
        }
      }
      assertEquals(failures, []);
      // The cases did run their steps (10 to 30 each, plus the start and the heal).
      assertEquals(steps >= cases * 12, true, `${steps} steps`);
    },
  );
}

Deno.test(
  "storage fuzz 3066106191: a message handed over while a reload resumes does not send again the ones Kustomer already took",
  async () => {
    const w = world("memory");
    await w.desk.startChat(connect(), {});
    const conversationId = w.conversationId;
    w.sim.agentSend(conversationId, "hi");
    await w.clock.advance(100);
    // Kustomer takes the message, but its answer is lost with the page.
    w.sim.faults.hang("sendMessage", { times: 1, applied: true });
    void w.desk.sendMessageToAgent({ id: "m1", input: { text: "first" } }, "m1").catch(() => {});
    await settle();
    assertEquals(customerTexts(w.sim, conversationId).slice(1), ["first"]);
    const { desk } = w.reload();
    const resumed = desk.reconnect();
    // The user types while the page is still catching up with Kustomer.
    const second = desk.sendMessageToAgent({ id: "m2", input: { text: "second" } }, "m2");
    assertEquals(await resumed, true);
    await second;
    await w.clock.advance(10_000);
    assertEquals(customerTexts(w.sim, conversationId).slice(1), ["first", "second"]);
    await w.dispose();
  },
);

Deno.test(
  "storage fuzz 2319643637: an agent message that arrives live while a reloaded page cannot yet fetch what it missed is shown after the missed ones, in Kustomer's order",
  async () => {
    const w = world("memory");
    await w.desk.startChat(connect(), {});
    const conversationId = w.conversationId;
    w.sim.agentSend(conversationId, "one");
    await w.clock.advance(100);
    const { desk, host } = w.reload();
    // Kustomer refuses the catch-up fetches for a while; the agent writes during the reload.
    w.sim.faults.fail("getHistoricalMessages", { times: 3 });
    w.sim.faults.fail("getMessages", { times: 3 });
    w.sim.agentSend(conversationId, "two");
    w.sim.agentSend(conversationId, "three");
    const resumed = desk.reconnect();
    await w.clock.advance(10);
    w.sim.agentSend(conversationId, "four");
    assertEquals(await resumed, true);
    await w.clock.advance(10_000);
    assertEquals(host.texts(), ["two", "three", "four"]);
    await w.dispose();
  },
);
