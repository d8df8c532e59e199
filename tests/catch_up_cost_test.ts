/**
 * A live agent message costs a catch-up whose Kustomer fetch does not grow with the chat: the
 * latest messages (`getHistoricalMessages`), and the whole chat only when a gap reaches further
 * back than those.
 */

import { assert, assertEquals } from "@std/assert";
import { settle, until } from "./_helpers.ts";
import { connect, world } from "./_world.ts";

/** Kustomer calls made from `from` on (an index into `callLog`), by method. */
const callsSince = (calls: readonly { method: string }[], from: number, method: string) =>
  calls.slice(from).filter((c) => c.method === method).length;

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(`a live catch-up's fetch over ${kind}`, async (t) => {
    await t.step("in a long chat, a live message fetches only the latest messages", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      for (let i = 1; i <= 120; i++) {
        w.sim.agentSend(conversationId, `m${i}`);
        await until(() => w.host.texts().length === i, `m${i} shown`);
      }
      const from = w.sim.callLog.length;
      w.sim.agentSend(conversationId, "one more");
      await until(() => w.host.texts().length === 121, "the live message shown");
      assertEquals(callsSince(w.sim.callLog, from, "getHistoricalMessages"), 1);
      assertEquals(callsSince(w.sim.callLog, from, "getMessages"), 0, "not the whole chat");
      assertEquals(w.host.texts().at(-1), "one more");
      await w.dispose();
    });

    await t.step("in a long chat, a resume after a reload fetches only the latest", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      for (let i = 1; i <= 120; i++) {
        w.sim.agentSend(conversationId, `m${i}`);
        await until(() => w.host.texts().length === i, `m${i} shown`);
      }
      const { desk, host } = w.reload();
      const from = w.sim.callLog.length;
      w.sim.agentSend(conversationId, "while away");
      assertEquals(await desk.reconnect(), true);
      await until(() => host.texts().includes("while away"), "the missed message shown");
      assertEquals(host.texts().filter((text) => text === "while away").length, 1);
      assertEquals(callsSince(w.sim.callLog, from, "getMessages"), 0, "not the whole chat");
      await w.dispose();
    });

    await t.step("a Core without getHistoricalMessages: the whole chat, as before", async () => {
      const w = world(kind);
      Object.defineProperty(w.sim, "getHistoricalMessages", { value: undefined });
      await w.desk.startChat(connect(), {});
      const from = w.sim.callLog.length;
      w.sim.agentSend(w.conversationId, "hi");
      await until(() => w.host.texts().length === 1, "hi shown");
      assertEquals(callsSince(w.sim.callLog, from, "getMessages"), 1);
      await w.dispose();
    });

    await t.step(
      "a gap longer than that (events lost): the whole chat is fetched, all shown in order",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "hi");
        await until(() => w.host.texts().length === 1, "hi shown");
        // Kustomer stores them, the page hears of none (its socket is gone), then one arrives live.
        w.sim.dropConnection();
        const missed = Array.from({ length: 60 }, (_, i) => `missed ${i + 1}`);
        for (const text of missed) w.sim.agentSend(conversationId, text);
        w.sim.restoreConnection();
        const from = w.sim.callLog.length;
        w.sim.agentSend(conversationId, "live again");
        await until(() => w.host.texts().length === 62, "the gap filled");
        assertEquals(w.host.texts(), ["hi", ...missed, "live again"]);
        assertEquals(callsSince(w.sim.callLog, from, "getMessages"), 1);
        await w.dispose();
      },
    );

    await t.step("a burst delivered together: shown in order, at most two fetches", async () => {
      const w = world(kind, {}, { deliveryMode: "reverse" });
      await w.desk.startChat(connect(), {});
      const from = w.sim.callLog.length;
      const burst = Array.from({ length: 30 }, (_, i) => `burst ${i + 1}`);
      for (const text of burst) w.sim.agentSend(w.conversationId, text);
      await until(() => w.host.texts().length === 30, "the burst shown");
      await settle();
      assertEquals(w.host.texts(), burst);
      // One fetch for the first message, one more for all that arrived while it was on its way.
      assert(callsSince(w.sim.callLog, from, "getHistoricalMessages") <= 2);
      assertEquals(callsSince(w.sim.callLog, from, "getMessages"), 0);
      await w.dispose();
    });
  });
}
