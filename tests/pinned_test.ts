/**
 * Behaviours no test pinned down before (hand mutation of the code went unnoticed): each of these
 * fails when the behaviour breaks.
 */

import { assert, assertEquals } from "@std/assert";
import { KustomerServiceDesk } from "../src/service_desk.ts";
import { fileProblems } from "../src/engine/files.ts";
import { SessionLog, sweepLogs } from "../src/session_log.ts";
import { MemoryLogStore } from "../src/log_store.ts";
import type { ServiceDeskErrorInfo } from "../src/host_types.ts";
import { makeTestJwt } from "../simulator.ts";
import { settle, until } from "./_helpers.ts";
import { connect, customerTexts, HISTORY_KEY, world } from "./_world.ts";

const MB = 1024 * 1024;
const failedIds = (errors: ServiceDeskErrorInfo[]) =>
  errors.filter((e) => e.type === 3).map((e) => (e as { messageID: string }).messageID);

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(`user messages across a reload over ${kind}`, async (t) => {
    await t.step("the same text twice, the second lost in a reload: each once", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      w.sim.agentSend(conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      await w.desk.sendMessageToAgent({ id: "u1", input: { text: "ok" } }, "u1");
      w.sim.faults.hang("sendMessage", { times: 1, applied: false });
      void w.desk.sendMessageToAgent({ id: "u2", input: { text: "ok" } }, "u2").catch(() => {});
      await settle();
      const { desk } = w.reload();
      assertEquals(await desk.reconnect(), true);
      await until(() => customerTexts(w.sim, conversationId).length === 3, "the resend");
      assertEquals(customerTexts(w.sim, conversationId).slice(1), ["ok", "ok"]);
      await w.dispose();
    });

    await t.step("a lost message queued before one that arrived: each once", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      w.sim.agentSend(conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      w.sim.faults.hang("sendMessage", { times: 1, applied: false });
      void w.desk.sendMessageToAgent({ id: "u1", input: { text: "first" } }, "u1").catch(() => {});
      await w.desk.sendMessageToAgent({ id: "u2", input: { text: "second" } }, "u2");
      const { desk } = w.reload();
      assertEquals(await desk.reconnect(), true);
      await until(() => customerTexts(w.sim, conversationId).length === 3, "the resend");
      assertEquals(customerTexts(w.sim, conversationId).slice(1), ["second", "first"]);
      await w.dispose();
    });

    await t.step("files lost in a reload are marked failed, with the reason", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      w.sim.agentSend(w.conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      w.sim.faults.hang("sendMessage", { times: 1, applied: false });
      const file = new File(["a receipt"], "receipt.txt", { type: "text/plain" });
      void w.desk.sendMessageToAgent({ id: "f1", input: { text: "" } }, "f1", {
        filesToUpload: [{ id: "file-1", file }],
      }).catch(() => {});
      await settle();
      const { desk, host } = w.reload();
      assertEquals(await desk.reconnect(), true);
      await until(() => failedIds(host.errors()).length === 1, "the failure");
      const [failure] = host.errors().filter((e) => e.type === 3) as { logInfo?: string }[];
      assert(failure.logInfo?.includes("receipt.txt"), failure.logInfo);
      assert(failure.logInfo?.includes("lost in a page reload"), failure.logInfo);
      await w.dispose();
    });

    await t.step("a Core without getConversations(): a reloaded chat still resumes", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      w.sim.agentSend(conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      // Whether the conversation ended meanwhile cannot be asked: it is taken as not ended.
      (w.sim as unknown as Record<string, unknown>).getConversations = undefined;
      const { desk, host } = w.reload();
      w.sim.agentSend(conversationId, "while away");
      assertEquals(await desk.reconnect(), true);
      await until(() => host.texts().includes("while away"), "the missed message");
      assertEquals(w.logger.lines.filter((line) => line.includes("could not reach")), []);
      await w.dispose();
    });
  });

  Deno.test(`logins, ends and timers over ${kind}`, async (t) => {
    await t.step(
      "the user ends with a message on its way: its send rejects, nothing shown failed",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        w.sim.agentSend(w.conversationId, "hi");
        await until(() => w.host.texts().length === 1, "first");
        w.sim.faults.hang("sendMessage", { times: 1, applied: false });
        const sending = w.desk.sendMessageToAgent({ id: "u1", input: { text: "wait" } }, "u1")
          .then(() => "resolved", (e) => String(e));
        await settle();
        await w.desk.endChat();
        assert((await sending).includes("the chat ended before the message could be sent"));
        await settle();
        assertEquals(failedIds(w.host.errors()), [], "the user ended it: no failure notice");
        await w.dispose();
      },
    );

    await t.step("a fresh JWT at every login in one page", async () => {
      let issued = 0;
      const w = world(kind, {
        getJwt: () => {
          issued++;
          return Promise.resolve(
            makeTestJwt({ email: "u@example.com", iat: Math.floor(w.clock.now() / 1000) }),
          );
        },
      });
      await w.desk.startChat(connect(), {});
      await w.desk.endChat();
      await w.clock.advance(16 * 60_000); // the first token is too old for Kustomer now
      await w.desk.startChat(connect(), {});
      assertEquals(issued, 2);
      assertEquals(w.sim.logins.length, 2);
      assertEquals(w.desk.state?.status, "waiting");
      await w.dispose();
    });

    await t.step(
      "endChat({ endedByHumanAgent: true }) on a live chat ends nothing in Kustomer",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        await w.desk.endChat({ endedByHumanAgent: true });
        assertEquals(w.sim.callLog.filter((c) => c.method === "endConversation"), []);
        assertEquals(w.sim.conversations[0].ended, false);
        assertEquals(w.desk.state?.status, "ended");
        assertEquals(w.host.named("agentEndedChat"), []);
        assertEquals(await w.store.heads(), []);
        await w.dispose();
      },
    );

    await t.step("ending while DISCONNECTED clears the banner", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      w.sim.dropConnection();
      const send = w.desk.sendMessageToAgent({ id: "d", input: { text: "hello?" } }, "d")
        .catch(() => {});
      await w.clock.advance(1_000);
      await send;
      const banner = () => w.host.errors().flatMap((e) => e.type === 2 ? [e.isDisconnected] : []);
      assertEquals(banner(), [true]);
      w.sim.restoreConnection();
      await w.desk.endChat();
      assertEquals(banner(), [true, false]);
      assertEquals(w.clock.pending, 0, "no retry left");
      await w.dispose();
    });

    await t.step("the heartbeat repeats", async () => {
      const w = world(kind, { heartbeatMs: 10_000 });
      await w.desk.startChat(connect(), {});
      // Each beat asks Kustomer for the latest messages (the whole chat only after a long gap).
      const fetches = () =>
        w.sim.callLog.filter((c) =>
          c.method === "getHistoricalMessages" || c.method === "getMessages"
        )
          .length;
      const before = fetches();
      await w.clock.advance(10_000);
      assertEquals(fetches(), before + 1);
      await w.clock.advance(10_000);
      assertEquals(fetches(), before + 2);
      await w.clock.advance(10_000);
      assertEquals(fetches(), before + 3);
      await w.desk.endChat();
      await w.dispose();
    });

    await t.step("orphanTimeoutMs: 0 leaves a chat queued by a reload open", async () => {
      const w = world(kind, { orphanTimeoutMs: 0 });
      await w.desk.startChat(connect(), {});
      w.reload();
      await w.clock.advance(60 * 60_000);
      assertEquals(w.sim.conversations[0].ended, false);
      await w.dispose();
    });

    await t.step("init.brandId reaches createConversation as brand", async () => {
      const w = world(kind, { init: { brandId: "brand-7" } });
      await w.desk.startChat(connect(), {});
      const create = w.sim.callLog.find((c) => c.method === "createConversation");
      assertEquals((create?.options as { brand?: string }).brand, "brand-7");
      await w.dispose();
    });

    await t.step("surveys of other conversations are ignored", async () => {
      const surveys: unknown[] = [];
      const w = world(kind, { onSatisfaction: (s) => surveys.push(s) });
      await w.desk.startChat(connect(), {});
      const other = await new Promise<string>((resolve) =>
        w.sim.createConversation({ title: "other" }, (r) => resolve(r!.conversationId))
      );
      await new Promise((resolve) =>
        w.sim.sendMessage({ conversationId: other, body: "x" }, resolve)
      );
      w.sim.agentSend(other, "not for you");
      w.sim.agentEnd(other);
      w.sim.sendSatisfaction(other);
      await settle();
      assertEquals(surveys, []);
      await w.dispose();
    });

    await t.step("the session-history key is never in a warning", async () => {
      const w = world(kind);
      w.sim.faults.fail("describeConversation", {
        error: { message: "rejected", status: 400 },
      });
      await w.desk.startChat(connect(), {});
      w.sim.agentSend(w.conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      const { desk } = w.reload();
      w.sim.faults.fail("describeConversation");
      assertEquals(await desk.reconnect(), true);
      assert(w.logger.lines.length >= 2, "the failures were warned about");
      for (const line of w.logger.lines) {
        assert(!line.includes(HISTORY_KEY) && !line.includes("AUTHCODE"), line);
      }
      await w.dispose();
    });
  });

  Deno.test(`old logs over ${kind}`, async (t) => {
    await t.step("old logs are swept when a chat starts", async () => {
      const w = world(kind, { retentionMs: 60_000 });
      const old = SessionLog.create(w.store, "old-chat", { now: w.clock.now });
      await old.append(
        { type: "escalation_started", data: { title: "T", context: "C", attribute: "a" } },
        { type: "chat_ended", data: { by: "user" } },
      );
      await w.clock.advance(61_000);
      await w.desk.startChat(connect(), {});
      await until(() => true, "a turn");
      await settle();
      const ids = (await w.store.heads()).map((h) => h.id);
      assert(!ids.includes("old-chat"), ids.join());
      assertEquals(ids.length, 1);
      await w.dispose();
    });
  });
}

Deno.test("sweepLogs() times abandonment from the last update, not the start", async () => {
  const store = new MemoryLogStore();
  let now = 0;
  const log = SessionLog.create(store, "quiet", { now: () => now });
  await log.append({
    type: "escalation_started",
    data: { title: "T", context: "C", attribute: "a" },
  });
  now = 90_000;
  await log.append({ type: "conversation_created", data: { conversationId: "c" } });
  now = 150_000; // 150 s after the start, 60 s after the last update
  const options = { now, retentionMs: 0, abandonedMs: 100_000 };
  assertEquals(await sweepLogs(store, options), []);
  assertEquals(await sweepLogs(store, { ...options, now: 190_000 }), ["quiet"]);
});

Deno.test("fileProblems(): extension or MIME type, 5 MB a file, 9.5 MB a message", async (t) => {
  const file = (name: string, size: number, type: string) => ({ file: { name, size, type } });
  await t.step("a known extension or a known MIME type is enough", () => {
    assertEquals(
      fileProblems([
        file("scan", 10, "application/pdf"),
        file("notes.txt", 10, "application/x-unknown"),
      ]),
      [undefined, undefined],
    );
  });
  await t.step("neither: refused, naming the accepted types", () => {
    const [problem] = fileProblems([file("setup.exe", 10, "application/x-msdownload")]);
    assert(problem?.includes("setup.exe") && problem.includes("PDF"), problem);
  });
  await t.step("over 5 MB a file", () => {
    const [problem] = fileProblems([file("big.pdf", 5 * MB + 1, "application/pdf")]);
    assert(problem?.includes("5 MB"), problem);
  });
  await t.step("over 9.5 MB together: the file that passes the total is refused", () => {
    const problems = fileProblems([
      file("a.pdf", 4 * MB, "application/pdf"),
      file("b.pdf", 4 * MB, "application/pdf"),
      file("c.pdf", 2 * MB, "application/pdf"),
      file("d.pdf", 1 * MB, "application/pdf"),
    ]);
    assertEquals(problems.map((p) => p !== undefined), [false, false, true, false]);
    assert(problems[2]!.includes("9.5 MB"), problems[2]);
  });
});

Deno.test("KustomerServiceDesk checks timeoutMs and heartbeatMs", () => {
  const host = { callback: {} as never };
  for (
    const [options, says] of [[{ timeoutMs: 0 }, "timeoutMs"], [
      { heartbeatMs: -1 },
      "heartbeatMs",
    ]] as const
  ) {
    let message = "";
    try {
      new KustomerServiceDesk(host, options);
    } catch (error) {
      message = String(error);
    }
    assert(message.includes(says), message);
  }
});
