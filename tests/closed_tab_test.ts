/**
 * The closed tab: pages of one browser share the log store and Web Locks. A live page holds its
 * escalation's lock; a chat whose tab was closed is taken up by the next page that asks for an
 * agent, or ended by one page once nobody took it up within `orphanTimeoutMs`.
 */

import { assertEquals, assertNotEquals } from "@std/assert";
import { loadChatHistory } from "../src/history.ts";
import { backWith } from "../src/engine/notices.ts";
import { settle, until } from "./_helpers.ts";
import { ADA, connect, customerTexts, type world } from "./_world.ts";
import { browser, type Tab, withAda } from "./_browser.ts";

const ADA_INFO = { id: ADA.id, nickname: ADA.displayName };

/** The tab closes with a user message on its way: Kustomer never gets it. */
async function closeSending(w: ReturnType<typeof world>, tab: Tab): Promise<void> {
  w.sim.faults.hang("sendMessage", { times: 1, applied: false });
  void tab.desk.sendMessageToAgent({ id: "u1", input: { text: "my order is 42" } }, "u1")
    .catch(() => {});
  await settle();
  tab.close();
}

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(`a closed tab over ${kind}`, async (t) => {
    await t.step(
      "with Carbon's insertHistory, the page that takes the chat up shows all of it, in order, once",
      async () => {
        const { w, tab, first, conversationId } = await withAda(kind);
        await first.desk.sendMessageToAgent({ id: "u0", input: { text: "I need help" } }, "u0");
        w.sim.agentSend(conversationId, "Still with me?");
        await until(() => first.host.texts().length === 2, "the agent's second message");
        await closeSending(w, first);
        w.sim.agentSend(conversationId, "Are you still there?");
        const second = tab(undefined, true);
        await second.desk.startChat(connect(), {});
        await until(() => second.host.texts().length === 2, "missed, back with");
        await until(
          () => customerTexts(w.sim, conversationId).includes("my order is 42"),
          "the pending message sent",
        );
        await settle();
        assertEquals(second.host.instance.lines, [
          "Ada: Hi, I'm Ada.",
          "You: I need help",
          "Ada: Still with me?",
          "You: my order is 42",
          "* Ada connected.",
          "Ada: Are you still there?",
          "* You're back with Ada.",
        ]);
        assertEquals(second.host.instance.inserted.length, 1, "inserted once");
        assertEquals(customerTexts(w.sim, conversationId).slice(1), [
          "I need help",
          "my order is 42",
        ]);
        assertEquals(w.sim.conversations.length, 1, "no second conversation");
        second.close();
        await w.dispose();
      },
    );

    await t.step(
      "a page that shows part of the chat already (a duplicated tab): each message once, in order",
      async () => {
        const { w, tab, first, conversationId, escalationId } = await withAda(kind);
        await first.desk.sendMessageToAgent({ id: "u0", input: { text: "I need help" } }, "u0");
        // The tab is duplicated: the copy has the same state and shows the chat's history at load.
        const copy = tab(first.host.state, true);
        copy.host.instance.load(await loadChatHistory({ store: w.store, escalationId }));
        assertEquals(await copy.desk.reconnect(), false, "the first tab has the chat");
        w.sim.agentSend(conversationId, "Still with me?");
        await until(() => first.host.texts().length === 2, "the agent's second message");
        first.close();
        w.sim.agentSend(conversationId, "Are you still there?");
        await copy.desk.startChat(connect(), {});
        await until(() => copy.host.texts().length === 2, "missed, back with");
        await settle();
        assertEquals(copy.host.instance.lines, [
          "Ada: Hi, I'm Ada.",
          "You: I need help",
          "Ada: Still with me?",
          "* Ada connected.",
          "Ada: Are you still there?",
          "* You're back with Ada.",
        ]);
        assertEquals(w.sim.conversations.length, 1, "no second conversation");
        copy.close();
        await w.dispose();
      },
    );

    await t.step(
      "a host without insertHistory (watsonx web chat) is shown the agent's messages again",
      async () => {
        const { w, tab, first, conversationId, escalationId } = await withAda(kind);
        await closeSending(w, first);
        w.sim.agentSend(conversationId, "Are you still there?");
        const second = tab();
        await second.desk.startChat(connect(), {});
        assertEquals(w.sim.conversations.length, 1, "no second conversation");
        await until(() => second.host.texts().length === 3, "transcript, missed, back with");
        await settle();
        assertEquals(second.host.texts(), [
          "Hi, I'm Ada.",
          "Are you still there?",
          "You're back with Ada.",
        ]);
        assertEquals(
          second.host.named("agentJoined").map(([p]) => (p as { id: string }).id),
          [ADA.id],
        );
        // "Back with Ada" is a status line (Carbon draws it as "Ada connected."), not Ada's words.
        const [back, agentId] = second.host.named("sendMessageToUser").at(-1)!;
        assertEquals(back, backWith(ADA_INFO));
        assertEquals(agentId, ADA.id);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), ["my order is 42"]);
        assertEquals(second.host.record.escalationId, escalationId, "the same escalation");
        w.sim.agentSend(conversationId, "Got it.");
        await until(() => second.host.texts().length === 4, "a live message");
        assertEquals(second.host.texts().at(-1), "Got it.");
        assertEquals(
          second.host.texts().filter((text) => text.startsWith("You're back")).length,
          1,
          "said once",
        );
        second.close();
        await w.dispose();
      },
    );

    await t.step("two live tabs never take up or write each other's chat", async () => {
      const { w, tab } = browser(kind);
      const first = tab();
      await first.desk.startChat(connect(), {});
      const conversationId = first.desk.state!.conversationId!;
      w.sim.agentSend(conversationId, "hello");
      await until(() => first.host.texts().length === 1, "first tab's message");
      // Another live tab asks for an agent: a chat of its own.
      const second = tab();
      await second.desk.startChat(connect(), {});
      assertEquals(w.sim.conversations.length, 2);
      assertNotEquals(second.desk.state?.conversationId, conversationId);
      assertEquals(second.host.texts(), [], "nothing of the first tab's chat");
      // A duplicate of the first tab (same persisted state) does not resume it either.
      const duplicate = tab(first.host.state);
      assertEquals(await duplicate.desk.reconnect(), false);
      const heads = await w.store.heads();
      assertEquals(heads.length, 2, "both tabs' logs remain");
      w.sim.agentSend(conversationId, "still with you");
      await until(() => first.host.texts().length === 2, "the first tab goes on");
      assertEquals(duplicate.host.texts(), []);
      assertEquals(w.sim.conversations.map((c) => c.ended), [false, false]);
      for (const each of [first, second, duplicate]) each.close();
      await w.dispose();
    });

    await t.step(
      "nobody takes it up within orphanTimeoutMs: exactly one page ends it in Kustomer",
      async () => {
        const { w, registry, tab } = browser(kind, { orphanTimeoutMs: 60_000 });
        const first = tab();
        await first.desk.startChat(connect(), {});
        first.close();
        const pages = [tab(), tab()];
        await w.clock.advance(59_000);
        assertEquals(w.sim.conversations[0].ended, false, "not before the time is up");
        // Both pages' sweeps fire together and race: each has seen the chat unheld before either
        // goes on, so only the lock keeps the second from ending it too.
        registry.lineUp(2);
        await w.clock.advance(1_000);
        assertEquals(registry.waiting, 0, "both sweeps asked which locks are held");
        await until(() => w.sim.conversations[0].ended, "the orphan ended");
        await w.clock.advance(1_000);
        const ends = w.sim.callLog.filter((c) => c.method === "endConversation");
        assertEquals(ends.length, 1, "one page ended it");
        assertEquals(
          w.logger.lines.filter((l) => l.includes("ended a chat left open by a closed tab")).length,
          1,
          w.logger.lines.join("\n"),
        );
        // A live chat is never ended this way.
        const live = tab();
        await live.desk.startChat(connect(), {});
        await w.clock.advance(130_000);
        assertEquals(w.sim.conversations.map((c) => c.ended), [true, false]);
        for (const each of [...pages, live]) each.close();
        await w.dispose();
      },
    );
    await t.step(
      "a tab closed while its end was on its way: another page ends it in Kustomer, once, and clears it",
      async () => {
        const { w, registry, tab } = browser(kind, { orphanTimeoutMs: 60_000 });
        const first = tab();
        await first.desk.startChat(connect(), {});
        w.sim.agentSend(first.desk.state!.conversationId!, "Hi, I'm Ada.");
        await until(() => first.host.texts().length === 1, "the agent's first message");
        // The user ends the chat; the request never reaches Kustomer: the tab closes first.
        w.sim.faults.hang("endConversation", { times: 1, applied: false });
        void first.desk.endChat().catch(() => {});
        await settle();
        const [head] = await w.store.heads();
        assertNotEquals(head?.endedAt, undefined, "the end is recorded");
        first.close();
        const asked = () => w.sim.callLog.filter((c) => c.method === "endConversation").length;
        assertEquals([w.sim.conversations[0].ended, asked()], [false, 1]);
        // Two pages of the site sweep together; one finishes the end.
        const pages = [tab(), tab()];
        registry.lineUp(2);
        await w.clock.advance(60_000);
        assertEquals(registry.waiting, 0, "both sweeps asked which locks are held");
        await until(() => w.sim.conversations[0].ended, "the conversation ended in Kustomer");
        await w.clock.advance(180_000);
        assertEquals(asked(), 2, "asked once more, by one page");
        assertEquals(await w.store.heads(), [], "the log is cleared");
        assertEquals(
          w.logger.lines.filter((l) => l.includes("finished ending a chat of a closed tab")).length,
          1,
          w.logger.lines.join("\n"),
        );
        for (const each of pages) each.close();
        await w.dispose();
      },
    );
    await t.step(
      "that end unanswered by Kustomer: the page's next sweep tries again",
      async () => {
        const { w, tab } = browser(kind, { orphanTimeoutMs: 60_000 });
        const first = tab();
        await first.desk.startChat(connect(), {});
        w.sim.agentSend(first.desk.state!.conversationId!, "Hi, I'm Ada.");
        await until(() => first.host.texts().length === 1, "the agent's first message");
        w.sim.faults.hang("endConversation", { times: 2, applied: false });
        void first.desk.endChat().catch(() => {});
        await settle();
        first.close();
        const asked = () => w.sim.callLog.filter((c) => c.method === "endConversation").length;
        const next = tab();
        // The first sweep asks, and Kustomer never answers (timeoutMs is 1 s).
        await w.clock.advance(60_000);
        await until(() => asked() === 2, "the first try");
        await w.clock.advance(1_000);
        assertEquals(w.sim.conversations[0].ended, false);
        assertEquals((await w.store.heads()).length, 1, "kept for another try");
        // The next sweep tries again, and Kustomer ends it.
        await w.clock.advance(60_000);
        await until(() => w.sim.conversations[0].ended, "the second try");
        await w.clock.advance(120_000);
        assertEquals(asked(), 3, "asked again once");
        assertEquals(await w.store.heads(), [], "the log is cleared");
        next.close();
        await w.dispose();
      },
    );
  });
}

Deno.test("backWith() names the agent in a status line, Markdown and HTML shown as typed", () => {
  assertEquals(backWith({ id: "a-1", nickname: "Ada" }), {
    output: {
      generic: [{
        response_type: "text",
        text: "You're back with Ada.",
        agent_message_type: "system",
      }],
    },
  });
  const text = (backWith({ id: "a-2", nickname: "*Eve* <b>x</b> [l](u) _y_" }).output
    .generic![0] as { text: string }).text;
  assertEquals(text, "You're back with \\*Eve\\* \\<b\\>x\\</b\\> \\[l\\]\\(u\\) \\_y\\_.");
});
