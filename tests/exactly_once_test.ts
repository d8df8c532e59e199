/**
 * Exactly once across reloads: the defects a reload storm found (issue 8), each pinned by a test
 * that reloads the page at the point where the desk used to lose or repeat something.
 */

import { assert, assertEquals } from "@std/assert";
import type { ServiceDeskErrorInfo } from "../src/host_types.ts";
import { loadChatHistory } from "../src/history.ts";
import { settle, until } from "./_helpers.ts";
import { ADA, connect, customerTexts, GRACE, world } from "./_world.ts";

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(`exactly once across a reload over ${kind}`, async (t) => {
    await t.step(
      "a reload during the user's endChat: the next page ends the Kustomer conversation",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        w.sim.agentSend(w.conversationId, "hi");
        await until(() => w.host.texts().length === 1, "first");
        // The request never reaches Kustomer: the page goes away first.
        w.sim.faults.hang("endConversation", { times: 1, applied: false });
        void w.desk.endChat().catch(() => {});
        await settle();
        const { desk, host } = w.reload();
        assertEquals(await desk.reconnect(), false);
        await until(() => w.sim.conversations[0].ended, "the conversation ended in Kustomer");
        assertEquals(host.record.escalationId, undefined);
        assertEquals(await w.store.heads(), []);
        await w.dispose();
      },
    );

    await t.step(
      "a reload during endChat with no reconnect: the orphan timer ends it in Kustomer",
      async () => {
        const w = world(kind, { orphanTimeoutMs: 60_000 });
        await w.desk.startChat(connect(), {});
        w.sim.faults.hang("endConversation", { times: 1, applied: false });
        void w.desk.endChat().catch(() => {});
        await settle();
        w.reload();
        await w.clock.advance(60_000);
        await until(() => w.sim.conversations[0].ended, "the conversation ended in Kustomer");
        await w.dispose();
      },
    );

    await t.step(
      "the opening message's answer lost in a reload: the resume does not send it again",
      async () => {
        const w = world(kind);
        // Kustomer gets the opening message, the page never hears back.
        w.sim.faults.hang("sendMessage", { times: 1, applied: true });
        void w.desk.startChat(connect(), {}).catch(() => {});
        await until(() => w.sim.conversations[0]?.isDraft === false, "the opening message");
        const conversationId = w.sim.conversations[0].conversationId;
        const { desk } = w.reload();
        await desk.startChat(connect(), {});
        assertEquals(w.sim.conversations.length, 1);
        assertEquals(customerTexts(w.sim, conversationId).length, 1, "one opening message");
        assertEquals(desk.state?.opened, true);
        await w.dispose();
      },
    );

    await t.step(
      "the opening message lost with the page: the resume sends it, once",
      async () => {
        const w = world(kind);
        w.sim.faults.hang("sendMessage", { times: 1, applied: false });
        void w.desk.startChat(connect(), {}).catch(() => {});
        await until(() => w.sim.callLog.some((c) => c.method === "sendMessage"), "the send");
        const conversationId = w.sim.conversations[0].conversationId;
        const { desk } = w.reload();
        await desk.startChat(connect(), {});
        assertEquals(customerTexts(w.sim, conversationId).length, 1, "one opening message");
        await w.dispose();
      },
    );

    await t.step(
      "the conversation's creation answered after the page went away: the resume takes up that draft",
      async () => {
        const w = world(kind);
        // Kustomer creates the conversation; the page never hears back.
        w.sim.faults.hang("createConversation", { times: 1, applied: true });
        void w.desk.startChat(connect(), {}).catch(() => {});
        await until(() => w.sim.conversations.length === 1, "the draft");
        const { desk } = w.reload();
        await desk.startChat(connect(), {});
        assertEquals(w.sim.conversations.map((c) => c.conversationId), [
          desk.state?.conversationId,
        ]);
        assertEquals(w.sim.conversations[0].isDraft, false, "opened");
        await desk.endChat();
        assertEquals(w.sim.conversations.filter((c) => !c.ended), [], "nothing left open");
        await w.dispose();
      },
    );

    await t.step("the agent's last words before ending during a reload are shown", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      w.sim.agentSend(conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      const { desk, host } = w.reload();
      w.sim.agentSend(conversationId, "goodbye, and thanks");
      w.sim.agentEnd(conversationId);
      assertEquals(await desk.reconnect(), false);
      assertEquals(host.texts(), ["goodbye, and thanks"]);
      await w.dispose();
    });

    await t.step(
      "user messages pending at a reload, when the agent ends before the resend: marked failed",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "hi");
        await until(() => w.host.texts().length === 1, "first");
        w.sim.faults.hang("sendMessage", { times: 1, applied: false });
        void w.desk.sendMessageToAgent({ id: "u1", input: { text: "still there?" } }, "u1")
          .catch(() => {});
        await settle();
        const { desk, host } = w.reload();
        w.sim.agentEnd(conversationId);
        assertEquals(await desk.reconnect(), false);
        const failed = host.errors().filter((e) => e.type === 3) as (ServiceDeskErrorInfo & {
          messageID: string;
        })[];
        assertEquals(failed.map((e) => e.messageID), ["u1"]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), []);
        await w.dispose();
      },
    );

    await t.step(
      "a user message pending at a reload is in the history the next page shows",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        w.sim.agentSend(w.conversationId, "hi");
        await until(() => w.host.texts().length === 1, "first");
        await w.desk.sendMessageToAgent({ id: "u1", input: { text: "sent" } }, "u1");
        w.sim.faults.hang("sendMessage", { times: 1, applied: false });
        void w.desk.sendMessageToAgent({ id: "u2", input: { text: "on its way" } }, "u2")
          .catch(() => {});
        await settle();
        const escalationId = w.host.record.escalationId as string;
        w.reload();
        const history = await loadChatHistory({ store: w.store, escalationId });
        assertEquals(
          history.map(({ message }) => {
            const { id, input } = message as { id?: string; input?: { text?: string } };
            return input ? `user ${id}: ${input.text}` : "agent";
          }),
          ["agent", "user u1: sent", "user u2: on its way"],
        );
        await w.dispose();
      },
    );

    await t.step(
      "the agent ends during a reload with a user message unsent: failed before reconnect() resolves",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "hi");
        await until(() => w.host.texts().length === 1, "first");
        w.sim.faults.hang("sendMessage", { times: 1, applied: false });
        void w.desk.sendMessageToAgent({ id: "u1", input: { text: "still there?" } }, "u1")
          .catch(() => {});
        await settle();
        const { desk, host } = w.reload();
        w.sim.agentSend(conversationId, "bye");
        w.sim.agentEnd(conversationId);
        assertEquals(await desk.reconnect(), false);
        // Carbon ends its chat once reconnect() says false: a later USER_MESSAGE error is dropped.
        const failedNow = host.errors().flatMap((e) => e.type === 3 ? [e.messageID] : []);
        assertEquals(failedNow, ["u1"]);
        assertEquals(host.texts(), ["bye"]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), []);
        await w.dispose();
      },
    );

    await t.step(
      "a user message that reached Kustomer unconfirmed, the agent ends during the reload: sent, not failed",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "hi");
        await until(() => w.host.texts().length === 1, "first");
        // Kustomer gets the message; the page never hears back.
        w.sim.faults.hang("sendMessage", { times: 1, applied: true });
        void w.desk.sendMessageToAgent({ id: "u1", input: { text: "still there?" } }, "u1")
          .catch(() => {});
        await until(() => customerTexts(w.sim, conversationId).length === 2, "on Kustomer");
        const { desk, host } = w.reload();
        w.sim.agentEnd(conversationId);
        assertEquals(await desk.reconnect(), false);
        await settle();
        assertEquals(host.errors().filter((e) => e.type === 3), [], "not marked failed");
        assertEquals(customerTexts(w.sim, conversationId).slice(1), ["still there?"]);
        await w.dispose();
      },
    );

    await t.step(
      "the agent ends while a user message's answer is on the way: it counts as sent",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "hi");
        await until(() => w.host.texts().length === 1, "first");
        w.sim.faults.hang("sendMessage", { times: 1, applied: true });
        const sending = w.desk.sendMessageToAgent({ id: "u1", input: { text: "one more" } }, "u1")
          .then(() => "resolved", (e) => String(e));
        await until(() => customerTexts(w.sim, conversationId).length === 2, "on Kustomer");
        w.sim.agentEnd(conversationId);
        await until(() => w.host.named("agentEndedChat").length === 1, "the end");
        assertEquals(await sending, "resolved");
        await w.clock.advance(1_000);
        await settle();
        assertEquals(w.host.errors().filter((e) => e.type === 3), [], "not marked failed");
        assertEquals(customerTexts(w.sim, conversationId).slice(1), ["one more"]);
        await w.dispose();
      },
    );

    await t.step(
      "the agent ends a resumed chat while startChat runs: no second, unwatched conversation",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        const { desk, host, page } = w.reload();
        // The resume's catch-up waits on Kustomer; meanwhile the agent ends the chat.
        w.sim.faults.hang("getMessages", { times: 1 });
        const starting = desk.startChat(connect(), {}).then(() => "resolved", (e) => String(e));
        await until(() => page.listenerCount === 4, "the new page listens");
        await settle();
        w.sim.agentEnd(conversationId);
        await w.clock.advance(1_000);
        await starting;
        await settle();
        assertEquals(host.named("agentEndedChat").length, 1);
        const open = w.sim.conversations.filter((c) => !c.ended).map((c) => c.conversationId);
        assertEquals(open, [], "nothing left open once the host was told the chat ended");
        await w.dispose();
      },
    );

    await t.step(
      "after a resume, agent messages show in Kustomer's order, with no false transfer",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "hi");
        await until(() => w.host.texts().length === 1, "first");
        const { desk, host, page } = w.reload();
        w.sim.agentSend(conversationId, "missed while away");
        w.sim.transfer(conversationId, GRACE);
        // The resume's catch-up is slow to answer (here: lost, and retried).
        w.sim.faults.hang("getMessages", { times: 1 });
        const reconnected = desk.reconnect();
        await until(() => page.listenerCount === 4, "the new page listens");
        // Grace writes while the resume is still catching up.
        w.sim.agentSend(conversationId, "Grace here");
        await w.clock.advance(1_000);
        assertEquals(await reconnected, true);
        await w.clock.advance(1_000);
        await until(() => host.texts().length === 2, "both messages");
        await settle();
        assertEquals(host.texts(), ["missed while away", "Grace here"]);
        assertEquals(host.named("beginTransferToAnotherAgent").length, 1, "one real transfer");
        assertEquals(
          host.named("agentJoined").map(([p]) => (p as { id: string }).id),
          [GRACE.id],
        );
        assert(ADA.id !== GRACE.id);
        await w.dispose();
      },
    );

    await t.step("live messages delivered newest-first are shown in time order", async () => {
      const w = world(kind, {}, { deliveryMode: "reverse" });
      await w.desk.startChat(connect(), {});
      for (const text of ["one", "two", "three"]) w.sim.agentSend(w.conversationId, text);
      await until(() => w.host.texts().length === 3, "three messages");
      await settle();
      assertEquals(w.host.texts(), ["one", "two", "three"]);
      await w.dispose();
    });
  });
}
