/**
 * The agent's last words when the fetch after the end fails (issue 8): an ended conversation still
 * answers, so the desk fetches its messages again (a bounded number of times) before recording the
 * end; when every try fails, the user is told in the chat, and the page warns once.
 */

import { assert, assertEquals } from "@std/assert";
import { settle, until } from "./_helpers.ts";
import { connect, world } from "./_world.ts";
import { loadChatHistory } from "../src/history.ts";

const LOST = "Some of Ada's last messages could not be loaded.";

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(`the agent's last words over ${kind}`, async (t) => {
    /** A chat in which Ada said "hi". */
    async function withAda() {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      w.sim.agentSend(w.conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      return w;
    }
    /** A chat with Ada; the page reloads, then she says goodbye and ends while it is away. */
    async function endedAway(failures: number) {
      const w = await withAda();
      const conversationId = w.conversationId;
      const next = w.reload();
      w.sim.agentSend(conversationId, "goodbye, and thanks");
      w.sim.agentEnd(conversationId);
      w.sim.faults.fail("getMessages", { times: failures });
      return { w, ...next };
    }

    /** A chat with Ada where her last message reaches Kustomer but not the page, then she ends. */
    async function lastWordsUnseen(fault: (w: ReturnType<typeof world>) => void) {
      const w = await withAda();
      const conversationId = w.conversationId;
      w.sim.dropConnection();
      w.sim.agentSend(conversationId, "one last thing");
      w.sim.restoreConnection();
      fault(w);
      w.sim.agentEnd(conversationId);
      return w;
    }
    const fetches = (w: ReturnType<typeof world>) =>
      w.sim.callLog.filter((c) => c.method === "getMessages").length;
    const ended = (w: ReturnType<typeof world>) =>
      w.host.calls.findIndex((c) => c.name === "agentEndedChat");

    await t.step("a refused fetch after the agent ends is tried again", async () => {
      const w = await lastWordsUnseen((w) => w.sim.faults.fail("getMessages", { times: 2 }));
      await until(() => ended(w) >= 0, "the end");
      assertEquals(w.host.texts(), ["hi", "one last thing"]);
      const shown = w.host.calls.findIndex((c) =>
        c.name === "sendMessageToUser" && c !== null &&
        JSON.stringify(c.args).includes("one last thing")
      );
      assert(shown < ended(w), "the last words come before the end");
      assertEquals(fetches(w), 3);
      assertEquals(w.logger.lines.filter((l) => l.includes("last messages")), []);
      await w.dispose();
    });

    await t.step(
      "a lost answer after the agent ends is tried again after the timeout",
      async () => {
        const w = await lastWordsUnseen((w) => w.sim.faults.hang("getMessages", { times: 1 }));
        await w.clock.advance(1_000);
        await until(() => ended(w) >= 0, "the end");
        assertEquals(w.host.texts(), ["hi", "one last thing"]);
        assertEquals(fetches(w), 2);
        await w.dispose();
      },
    );

    await t.step(
      "every fetch failing: the user is told, before the end, and the page warns once",
      async () => {
        const w = await lastWordsUnseen((w) => w.sim.faults.fail("getMessages", { times: 5 }));
        await until(() => ended(w) >= 0, "the end");
        assertEquals(w.host.texts(), ["hi", LOST]);
        assertEquals(w.host.named("sendMessageToUser").at(-1)?.[1], "agent-ada");
        assert(
          w.host.calls.findLastIndex((c) => c.name === "sendMessageToUser") < ended(w),
          "told before the end",
        );
        assertEquals(fetches(w), 3, "bounded");
        assertEquals(w.logger.lines.filter((l) => l.includes("last messages")).length, 1);
        assertEquals(w.host.named("agentEndedChat").length, 1);
        // The log goes once the host has taken the end.
        await until(() => !w.host.skipsWelcome, "the pointer cleared");
        for (let turn = 0; turn < 50 && (await w.store.heads()).length; turn++) await settle();
        assertEquals(await w.store.heads(), [], "the end recorded and the log cleared");
        await w.dispose();
      },
    );

    await t.step("ended while the page was away, a refused fetch is tried again", async () => {
      const { w, desk, host } = await endedAway(1);
      assertEquals(await desk.reconnect(), false);
      assertEquals(host.texts(), ["goodbye, and thanks"]);
      await w.dispose();
    });

    await t.step(
      "ended while the page was away, every fetch failing: the user is told",
      async () => {
        const { w, desk, host } = await endedAway(3);
        assertEquals(await desk.reconnect(), false);
        assertEquals(host.texts(), [LOST]);
        assertEquals(w.logger.lines.filter((l) => l.includes("last messages")).length, 1);
        await w.dispose();
      },
    );
  });
}

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(
    `over ${kind}: the page goes away while the host is still to show the agent's last words: the next page shows them`,
    async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      const escalationId = w.host.record.escalationId as string;
      w.sim.agentSend(conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      // The host is slow to render the next message; meanwhile the agent says goodbye and ends.
      let render = () => {};
      w.host.hold = new Promise((resolve) => render = resolve);
      w.sim.agentSend(conversationId, "one more");
      await until(() => w.host.texts().length === 2, "the slow one");
      w.sim.agentSend(conversationId, "bye");
      w.sim.agentEnd(conversationId);
      await until(() => w.desk.state?.status === "ended", "the end recorded");
      await settle();
      // The page goes away before the host has shown "bye".
      assertEquals(w.host.texts(), ["hi", "one more"]);
      assertEquals(w.host.record.escalationId, escalationId, "the chat is still findable");
      const old = w.host;
      const { desk, host } = w.reload();
      const history = await loadChatHistory({ store: w.store, escalationId });
      assertEquals(
        history.map((h) => JSON.stringify(h.message).match(/"text":"([^"]*)"/)?.[1]),
        ["hi", "one more", "bye"],
        "the last words are in the next page's history",
      );
      assertEquals(await desk.reconnect(), false, "the chat is over (Carbon then ends it)");
      assertEquals(host.skipsWelcome, false, "the pointer cleared");
      assertEquals(await loadChatHistory({ store: w.store, escalationId }), [], "then it is gone");
      render();
      await until(() => old.named("agentEndedChat").length === 1, "the old page finishes");
      await w.dispose();
    },
  );
}
