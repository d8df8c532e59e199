/**
 * The outbox (issue 8): a user message handed over just before the page goes away — before its
 * `user_message_queued` write lands in the log — is kept in Web Storage at once, and the next page
 * (a reload, or the page that takes up a closed tab's chat) sends it, once.
 */

import "fake-indexeddb/auto";
import { assert, assertEquals } from "@std/assert";
import type { KustomerServiceDesk } from "../src/service_desk.ts";
import { type HistoryItem, loadChatHistory } from "../src/history.ts";
import {
  IndexedDbLogStore,
  type LoadedLog,
  type LogHead,
  type LogStore,
  type LogWrite,
  MemoryLogStore,
} from "../src/log_store.ts";
import { OUTBOX_MAX_CHARS, OUTBOX_PREFIX, type OutboxStorage } from "../src/outbox.ts";
import { FakeScheduler, settle, until } from "./_helpers.ts";
import { browser as browserOf, withAda } from "./_browser.ts";
import { connect, customerTexts, world } from "./_world.ts";
import type { KustomerServiceDeskOptions } from "../src/options.ts";
import { makeTestJwt, type SimulatedKustomerCore } from "../simulator.ts";

/** Web Storage in memory; it can refuse every access, or ignore removals (a page gone first). */
class FakeStorage implements OutboxStorage {
  #items = new Map<string, string>();
  /** Every access throws (storage disabled, or full). */
  throws = false;
  /** Removals do nothing: the page went away before it could remove. */
  keepOnRemove = false;
  #check() {
    if (this.throws) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
  }
  get length(): number {
    this.#check();
    return this.#items.size;
  }
  key(index: number): string | null {
    this.#check();
    return [...this.#items.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    this.#check();
    return this.#items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.#check();
    this.#items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.#check();
    if (!this.keepOnRemove) this.#items.delete(key);
  }
  get keys(): string[] {
    return [...this.#items.keys()];
  }
}

/**
 * A log store whose writes, while held, never land (the page goes away with them in flight), and,
 * while failing, are refused (IndexedDB failing under a live page).
 */
class GatedStore implements LogStore {
  held = false;
  failing = false;
  /** The events passed on to the inner store, each as "type id" (the user message's id, if any). */
  readonly written: string[] = [];
  constructor(readonly inner: LogStore) {}
  write(logId: string, write: LogWrite): Promise<void> {
    if (this.failing) return Promise.reject(new DOMException("the disk is full", "UnknownError"));
    if (this.held) return new Promise(() => {});
    for (const record of write.records) {
      const { type, data } = record as unknown as { type: string; data: { id?: string } };
      this.written.push(data.id ? `${type} ${data.id}` : type);
    }
    return this.inner.write(logId, write);
  }
  load(logId: string): Promise<LoadedLog> {
    return this.inner.load(logId);
  }
  events(logId: string, toSeq?: number): Promise<unknown[]> {
    return this.inner.events(logId, toSeq);
  }
  remove(logId: string): Promise<void> {
    return this.inner.remove(logId);
  }
  heads(): Promise<LogHead[]> {
    return this.inner.heads();
  }
}

let dbCount = 0;
const storeOf = (kind: "memory" | "indexeddb"): LogStore =>
  kind === "memory"
    ? new MemoryLogStore()
    : new IndexedDbLogStore({ dbName: `outbox-test-${++dbCount}` });

const send = (desk: KustomerServiceDesk, id: string, text: string) =>
  desk.sendMessageToAgent({ id, input: { text } }, id);

const count = (texts: string[], text: string) => texts.filter((t) => t === text).length;

/** A history item as a line: the text, and "(failed)" when the host is to show it failed. */
function summary({ message }: HistoryItem): string {
  const request = message as { input?: { text?: string }; history?: { error_state?: number } };
  if (request.input) {
    return `${request.input.text}${request.history?.error_state === 2 ? " (failed)" : ""}`;
  }
  const generic = (message as { output: { generic?: { text?: string }[] } }).output.generic;
  return generic?.map((item) => item.text).join(" ") ?? "";
}

/**
 * What reached conversation `conversationId`, in order: "send <text>" for each message sent to it
 * (taken or refused), "end" for each request to end it, "create" for every conversation created.
 */
function callsTo(sim: SimulatedKustomerCore, conversationId: string): string[] {
  return sim.callLog.flatMap(({ method, options }) => {
    const { conversationId: id, body } = (options ?? {}) as {
      conversationId?: string;
      body?: string;
    };
    if (method === "createConversation") return ["create"];
    if (id !== conversationId) return [];
    return method === "sendMessage"
      ? [`send ${body}`]
      : method === "endConversation"
      ? ["end"]
      : [];
  });
}

/** The warnings that say user messages were not sent. */
const notSent = (lines: string[]) => lines.filter((l) => l.includes("were not sent"));

/** One browser (see `tests/_browser.ts`) over a gated store and a fake Web Storage. */
function browser(kind: "memory" | "indexeddb", options: KustomerServiceDeskOptions = {}) {
  const storage = new FakeStorage();
  const store = new GatedStore(storeOf(kind));
  return { ...browserOf(kind, { outbox: storage, store, ...options }), storage, store };
}

/**
 * A browser whose tab chatted with Ada and was closed right after the user typed "my order is 42":
 * `how` the message went: its log write never landed ("unwritten"), or the log's writes failed
 * and Kustomer took it from memory ("sent, unwritten"), or it was written and Kustomer took it but
 * the answer was lost ("sent, unanswered").
 */
async function closedTab(
  kind: "memory" | "indexeddb",
  how: "unwritten" | "sent, unwritten" | "sent, unanswered",
  options: KustomerServiceDeskOptions = {},
) {
  const storage = new FakeStorage();
  const store = new GatedStore(storeOf(kind));
  const ada = await withAda(kind, { orphanTimeoutMs: 60_000, outbox: storage, store, ...options });
  const b = { ...ada, storage, store };
  const { first, conversationId, escalationId } = ada;
  if (how === "unwritten") b.store.held = true;
  else if (how === "sent, unwritten") b.store.failing = true;
  else b.w.sim.faults.hang("sendMessage", { times: 1, applied: true });
  const sent = send(first.desk, "u1", "my order is 42");
  if (how === "sent, unwritten") await sent;
  else {
    sent.catch(() => {});
    await settle();
  }
  first.close();
  b.store.held = b.store.failing = false;
  return { ...b, conversationId, escalationId };
}

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(`the outbox over ${kind}`, async (t) => {
    /** A chat with Ada joined, over a gated store and a fake Web Storage. */
    async function chat() {
      const storage = new FakeStorage();
      const store = new GatedStore(storeOf(kind));
      const w = world(kind, { outbox: storage, store });
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      const escalationId = w.host.record.escalationId as string;
      w.sim.agentSend(conversationId, "hi");
      await until(() => w.host.texts().length === 1, "the agent's first message");
      return { w, storage, store, conversationId, escalationId };
    }

    await t.step(
      "the page goes away before the message's log write lands: the next page sends it once",
      async () => {
        const { w, storage, store, conversationId, escalationId } = await chat();
        store.held = true;
        void send(w.desk, "m1", "are you there?").catch(() => {});
        assertEquals(storage.keys, [`${OUTBOX_PREFIX}${escalationId}:m1`], "kept at once");
        await settle();
        const { desk } = w.reload();
        store.held = false;
        // The host's history (read before the desk resumes) shows what the user typed.
        const history = await loadChatHistory({ store, escalationId, outbox: storage });
        assertEquals(
          history.map((item) => (item.message as { input?: { text?: string } }).input?.text),
          [undefined, "are you there?"],
        );
        assertEquals(await desk.reconnect(), true);
        await until(
          () => customerTexts(w.sim, conversationId).includes("are you there?"),
          "the message on Kustomer",
        );
        await w.clock.advance(10_000);
        assertEquals(count(customerTexts(w.sim, conversationId), "are you there?"), 1);
        assertEquals(storage.keys, [], "the outbox let it go");
        assertEquals(w.host.errors().filter((e) => e.type === 3), [], "nothing failed");
        await w.dispose();
      },
    );

    await t.step(
      "the log's writes fail, the message is sent, the page goes: the next page shows it, sent once",
      async () => {
        const { w, storage, store, conversationId, escalationId } = await chat();
        store.failing = true;
        await send(w.desk, "m1", "sent while the disk was full");
        assertEquals(customerTexts(w.sim, conversationId).slice(1), [
          "sent while the disk was full",
        ]);
        assertEquals(
          storage.keys,
          [`${OUTBOX_PREFIX}${escalationId}:m1`],
          "kept: the log lacks it",
        );
        // The next page's writes land; the old page's never do (it is gone).
        w.options.store = store.inner;
        const { desk } = w.reload();
        const history = await loadChatHistory({
          store: store.inner,
          escalationId,
          outbox: storage,
        });
        assertEquals(history.map(summary), ["hi", "sent while the disk was full"]);
        assertEquals(await desk.reconnect(), true);
        await w.clock.advance(10_000);
        await settle();
        assertEquals(customerTexts(w.sim, conversationId).slice(1), [
          "sent while the disk was full",
        ]);
        assertEquals(w.host.errors().filter((e) => e.type === 3), [], "nothing failed");
        assertEquals(storage.keys, [], "the outbox let it go once the log had it");
        const again = await loadChatHistory({ store: store.inner, escalationId, outbox: storage });
        assertEquals(again.map(summary), ["hi", "sent while the disk was full"], "in the log now");
        await w.dispose();
      },
    );

    await t.step(
      "the log gone too (rebuilt from Kustomer): the message in the outbox is sent once",
      async () => {
        const { w, storage, store, conversationId, escalationId } = await chat();
        store.held = true;
        void send(w.desk, "m1", "still there?").catch(() => {});
        await settle();
        await store.inner.remove(escalationId);
        const { desk } = w.reload();
        store.held = false;
        assertEquals(await desk.reconnect(), true);
        await until(
          () => customerTexts(w.sim, conversationId).includes("still there?"),
          "the message on Kustomer",
        );
        await w.clock.advance(10_000);
        assertEquals(count(customerTexts(w.sim, conversationId), "still there?"), 1);
        assertEquals(storage.keys, []);
        assert(w.logger.lines.some((l) => l.includes("rebuilding the chat")), "rebuilt");
        await w.dispose();
      },
    );

    await t.step(
      "the write landed but the page went before the outbox let go: sent once, not again",
      async () => {
        const { w, storage, conversationId } = await chat();
        storage.keepOnRemove = true;
        await send(w.desk, "m1", "sent before the reload");
        // Queued for good, its send's answer lost with the page.
        w.sim.faults.hang("sendMessage", { times: 1, applied: false });
        void send(w.desk, "m2", "queued before the reload").catch(() => {});
        await until(() => w.sim.faults.remaining("sendMessage") === 0, "the hung send");
        assertEquals(storage.keys.length, 2, "both entries left behind");
        const { desk } = w.reload();
        storage.keepOnRemove = false;
        assertEquals(await desk.reconnect(), true);
        await until(
          () => customerTexts(w.sim, conversationId).includes("queued before the reload"),
          "the pending message sent",
        );
        await w.clock.advance(10_000);
        const texts = customerTexts(w.sim, conversationId);
        assertEquals(count(texts, "sent before the reload"), 1);
        assertEquals(count(texts, "queued before the reload"), 1);
        assertEquals(storage.keys, []);
        assertEquals(w.logger.lines.filter((l) => l.includes("the log lacked")), []);
        await w.dispose();
      },
    );

    await t.step(
      "files alone, lost with the page before the log write: the next page marks them failed",
      async () => {
        const { w, store } = await chat();
        store.held = true;
        const file = new File(["%PDF"], "receipt.pdf", { type: "application/pdf" });
        void w.desk.sendMessageToAgent({ id: "m1", input: { text: "" } }, "m1", {
          filesToUpload: [{ id: "f1", file }],
        }).catch(() => {});
        await settle();
        const { desk, host } = w.reload();
        store.held = false;
        assertEquals(await desk.reconnect(), true);
        await until(() => host.errors().some((e) => e.type === 3), "the failure shown");
        const [failure] = host.errors().filter((e) => e.type === 3);
        assertEquals((failure as { messageID?: string }).messageID, "m1");
        assert(String((failure as { logInfo?: string }).logInfo).includes("receipt.pdf"));
        assert(String((failure as { logInfo?: string }).logInfo).includes("lost in a page reload"));
        await w.dispose();
      },
    );

    /**
     * The agent ends while the host is still drawing (the log stays, ended, until it has drawn),
     * and the page goes away: the next page finds the chat ended. `sendFirst`: the user's message
     * was sent before the end; else it is handed over as the chat ends.
     */
    async function endedAway(sendFirst: boolean) {
      const { w, storage, store, conversationId, escalationId } = await chat();
      // The page goes before it can let the message go from the outbox.
      storage.keepOnRemove = true;
      if (sendFirst) await send(w.desk, "m1", "one more thing");
      let render = () => {};
      w.host.hold = new Promise((resolve) => render = resolve);
      w.sim.agentSend(conversationId, "bye");
      await until(() => w.host.texts().length === 2, "the agent's last words, drawing");
      w.sim.agentEnd(conversationId);
      await until(() => w.desk.state?.status === "ended", "the end recorded");
      if (!sendFirst) void send(w.desk, "m1", "one more thing").catch(() => {});
      await settle();
      assert(storage.keys.length === 1, "the message is in the outbox");
      const old = w.host;
      const { desk } = w.reload();
      storage.keepOnRemove = false;
      // Carbon loads the history first, then reconnects (an agent had joined).
      const history = await loadChatHistory({ store, escalationId, outbox: storage });
      assertEquals(await desk.reconnect(), false, "the chat is over");
      render();
      await until(() => old.named("agentEndedChat").length === 1, "the old page finishes");
      await w.clock.advance(10_000);
      return { w, storage, conversationId, history };
    }

    await t.step(
      "handed over as the agent ended, before the page went: the next page's history shows it failed",
      async () => {
        const { w, storage, conversationId, history } = await endedAway(false);
        assertEquals(history.map(summary), ["hi", "bye", "one more thing (failed)"]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), [], "never sent");
        assertEquals(storage.keys, [], "not kept for ever");
        assertEquals(
          w.logger.lines.filter((l) => l.includes("were not sent")),
          [
            "Kustomer service desk: 1 user message(s) were not sent: the chat ended before the message could be sent",
          ],
        );
        await w.dispose();
      },
    );

    await t.step(
      "sent before the agent ended, the outbox entry left behind: shown sent, not failed",
      async () => {
        const { w, storage, conversationId, history } = await endedAway(true);
        assertEquals(history.map(summary), ["hi", "one more thing", "bye"]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), ["one more thing"]);
        assertEquals(storage.keys, []);
        assertEquals(w.logger.lines.filter((l) => l.includes("were not sent")), []);
        await w.dispose();
      },
    );

    await t.step("a corrupt or oversized entry is skipped with a warning", async () => {
      const { w, storage, store, conversationId, escalationId } = await chat();
      const prefix = `${OUTBOX_PREFIX}${escalationId}:`;
      storage.setItem(`${prefix}bad`, "{not json");
      storage.setItem(`${prefix}big`, "x".repeat(OUTBOX_MAX_CHARS + 1));
      storage.setItem(
        `${prefix}other`,
        JSON.stringify({ escalationId: "someone-else", id: "other", text: "no", at: 1 }),
      );
      store.held = true;
      void send(w.desk, "m1", "the good one").catch(() => {});
      await settle();
      const { desk } = w.reload();
      store.held = false;
      assertEquals(await desk.reconnect(), true);
      await until(
        () => customerTexts(w.sim, conversationId).includes("the good one"),
        "the good message sent",
      );
      await w.clock.advance(10_000);
      assertEquals(customerTexts(w.sim, conversationId).slice(1), ["the good one"]);
      const skipped = w.logger.lines.filter((l) => l.includes("skipped a message"));
      assertEquals(skipped.length, 3);
      assert(skipped.some((l) => l.includes("not JSON")));
      assert(skipped.some((l) => l.includes("too long")));
      assertEquals(storage.keys, []);
      await w.dispose();
    });

    await t.step("Web Storage that throws never breaks sending: one warning", async () => {
      const { w, storage, conversationId } = await chat();
      storage.throws = true;
      await send(w.desk, "m1", "one");
      await send(w.desk, "m2", "two");
      assertEquals(customerTexts(w.sim, conversationId).slice(1), ["one", "two"]);
      const warned = w.logger.lines.filter((l) => l.includes("could not keep the message"));
      assertEquals(warned.length, 1);
      assert(warned[0].includes("QuotaExceededError"));
      await w.dispose();
    });

    await t.step("a message too long to keep is sent as before, with a warning", async () => {
      const { w, storage, conversationId } = await chat();
      const long = "y".repeat(OUTBOX_MAX_CHARS);
      await send(w.desk, "m1", long);
      assertEquals(customerTexts(w.sim, conversationId).slice(1), [long]);
      assertEquals(storage.keys, []);
      assertEquals(
        w.logger.lines.filter((l) => l.includes("could not keep the message")).length,
        1,
      );
      await w.dispose();
    });

    await t.step("a message the log has leaves the outbox, even before it is sent", async () => {
      const { w, storage } = await chat();
      w.sim.faults.hang("sendMessage", { times: 1, applied: false });
      void send(w.desk, "m1", "on its way").catch(() => {});
      await until(() => w.sim.faults.remaining("sendMessage") === 0, "the hung send");
      assertEquals(storage.keys, []);
      await w.dispose();
    });

    await t.step("a refused message leaves the outbox", async () => {
      const { w, storage } = await chat();
      const file = new File(["MZ"], "setup.exe", { type: "application/x-msdownload" });
      let refused: unknown;
      await w.desk.sendMessageToAgent({ id: "m1", input: { text: "see the file" } }, "m1", {
        filesToUpload: [{ id: "f1", file }],
      }).catch((error) => refused = error);
      assert(refused instanceof RangeError, "refused");
      assertEquals(storage.keys, []);
      await w.dispose();
    });

    await t.step(
      "a closed tab's message whose write never landed: the page that takes the chat up sends it",
      async () => {
        const { w, storage, store, tab } = browser(kind);
        const first = tab();
        await first.desk.startChat(connect(), {});
        const conversationId = first.desk.state!.conversationId!;
        w.sim.agentSend(conversationId, "Hi, I'm Ada.");
        await until(() => first.host.texts().length === 1, "the agent's first message");
        store.held = true;
        void send(first.desk, "u1", "my order is 42").catch(() => {});
        await settle();
        first.close();
        store.held = false;
        const second = tab();
        await second.desk.startChat(connect(), {});
        await until(
          () => customerTexts(w.sim, conversationId).includes("my order is 42"),
          "the closed tab's message on Kustomer",
        );
        await w.clock.advance(10_000);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), ["my order is 42"]);
        assertEquals(w.sim.conversations.length, 1);
        assertEquals(storage.keys, []);
        second.close();
        await w.dispose();
      },
    );
  });
}

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(`a chat the desk ends itself over ${kind}: the user's last messages go first`, async (t) => {
    await t.step(
      "a closed tab's message whose write never landed, nobody takes the chat up: sent once, then the end",
      async () => {
        const { w, storage, tab, conversationId } = await closedTab(kind, "unwritten");
        const other = tab();
        await w.clock.advance(60_000);
        await until(() => w.sim.conversations[0].ended, "the chat ended");
        await w.clock.advance(10_000);
        assertEquals(callsTo(w.sim, conversationId).slice(2), ["send my order is 42", "end"]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), ["my order is 42"]);
        assertEquals(storage.keys, [], "the outbox let it go");
        assertEquals(await w.store.heads(), [], "the log is cleared");
        assertEquals(notSent(w.logger.lines), []);
        other.close();
        await w.dispose();
      },
    );

    await t.step(
      "a page that has not logged in logs in before it looks for the message on Kustomer",
      async () => {
        // Issued at the tests' clock's start: good for the 15 minutes the test's clock covers.
        const iat = Math.floor(new FakeScheduler().now() / 1000);
        const getJwt = () => Promise.resolve(makeTestJwt({ externalId: "u-7", iat }));
        const { w, tab } = await closedTab(kind, "unwritten", { getJwt });
        const before = w.sim.callLog.length;
        const other = tab();
        await w.clock.advance(60_000);
        await until(() => w.sim.conversations[0].ended, "the chat ended");
        await w.clock.advance(10_000);
        assertEquals(w.sim.callLog.slice(before).map((c) => c.method), [
          "init",
          "login",
          "getMessages",
          "sendMessage",
          "endConversation",
        ]);
        other.close();
        await w.dispose();
      },
    );

    await t.step(
      "nothing to send: nothing is fetched, the chat is only ended",
      async () => {
        const { w, tab } = browser(kind, { orphanTimeoutMs: 60_000 });
        const first = tab();
        await first.desk.startChat(connect(), {});
        first.close();
        const before = w.sim.callLog.length;
        const other = tab();
        await w.clock.advance(60_000);
        await until(() => w.sim.conversations[0].ended, "the chat ended");
        await w.clock.advance(10_000);
        assertEquals(w.sim.callLog.slice(before).map((c) => c.method), ["init", "endConversation"]);
        assertEquals(notSent(w.logger.lines), []);
        other.close();
        await w.dispose();
      },
    );

    await t.step(
      "Kustomer refuses it: recorded failed, one warning",
      async () => {
        const { w, storage, store, tab, conversationId } = await closedTab(kind, "unwritten");
        const other = tab();
        w.sim.faults.fail("sendMessage", { times: 1 });
        await w.clock.advance(60_000);
        await until(() => w.sim.conversations[0].ended, "the chat ended");
        await w.clock.advance(10_000);
        assertEquals(callsTo(w.sim, conversationId).slice(2), ["send my order is 42", "end"]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), [], "refused");
        assertEquals(notSent(w.logger.lines), [
          "Kustomer service desk: 1 user message(s) were not sent: KustomerError: Kustomer rejected sendMessage(): Simulated failure of sendMessage (status 500)",
        ]);
        assertEquals(storage.keys, []);
        assertEquals(
          store.written.filter((event) => event.endsWith(" u1")),
          ["user_message_queued u1", "user_message_requested u1", "user_message_failed u1"],
        );
        other.close();
        await w.dispose();
      },
    );

    await t.step(
      "Kustomer does not answer: the sends stop at the first timeout, the rest fail with it; this page's own chat is not marked lost",
      async () => {
        const { w, store, storage, tab } = browser(kind, { orphanTimeoutMs: 60_000 });
        const first = tab();
        await first.desk.startChat(connect(), {});
        const conversationId = first.desk.state!.conversationId!;
        // Another live tab, with a chat of its own.
        const other = tab();
        await other.desk.startChat(connect(), {});
        store.held = true;
        void send(first.desk, "u1", "one").catch(() => {});
        void send(first.desk, "u2", "two").catch(() => {});
        await settle();
        first.close();
        store.held = false;
        w.sim.faults.hang("sendMessage", { times: 1 });
        await w.clock.advance(60_000);
        await until(() => w.sim.faults.remaining("sendMessage") === 0, "the send that hangs");
        await w.clock.advance(1_000); // timeoutMs
        await until(() => w.sim.conversations[0].ended, "the chat ended");
        await w.clock.advance(10_000);
        assertEquals(callsTo(w.sim, conversationId).slice(3), ["send one", "end"]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), []);
        assertEquals(notSent(w.logger.lines), [
          "Kustomer service desk: 2 user message(s) were not sent: KustomerError: Kustomer did not answer sendMessage() within 1000 ms",
        ]);
        assertEquals(store.written.filter((event) => / u[12]$/.test(event)), [
          "user_message_queued u1",
          "user_message_queued u2",
          "user_message_requested u1",
          "user_message_failed u1",
          "user_message_failed u2",
        ]);
        assertEquals(storage.keys, []);
        assertEquals(other.host.errors(), [], "the other tab's chat is not disconnected");
        assertEquals(w.logger.lines.filter((l) => l.includes("lost Kustomer")), []);
        other.close();
        await w.dispose();
      },
    );

    for (const refused of [false, true]) {
      await t.step(
        `the page goes before Kustomer confirms the end: the ended log's history shows the message ${
          refused ? "failed" : "sent"
        }`,
        async () => {
          const { w, storage, store, tab, escalationId } = await closedTab(kind, "unwritten");
          const other = tab();
          if (refused) w.sim.faults.fail("sendMessage", { times: 1 });
          w.sim.faults.hang("endConversation", { times: 1 });
          await w.clock.advance(60_000);
          await until(() => w.sim.faults.remaining("endConversation") === 0, "the end asked");
          other.close();
          const history = await loadChatHistory({ store, escalationId, outbox: storage });
          assertEquals(history.map(summary), [
            "Hi, I'm Ada.",
            `my order is 42${refused ? " (failed)" : ""}`,
          ]);
          await w.dispose();
        },
      );
    }

    for (const how of ["sent, unwritten", "sent, unanswered"] as const) {
      await t.step(
        `a closed tab's message Kustomer has (${how}): found there, not sent twice`,
        async () => {
          const { w, storage, store, tab, conversationId } = await closedTab(kind, how);
          assertEquals(customerTexts(w.sim, conversationId).slice(1), ["my order is 42"]);
          const other = tab();
          await w.clock.advance(60_000);
          await until(() => w.sim.conversations[0].ended, "the chat ended");
          await w.clock.advance(10_000);
          assertEquals(callsTo(w.sim, conversationId).slice(2), ["send my order is 42", "end"]);
          assertEquals(customerTexts(w.sim, conversationId).slice(1), ["my order is 42"]);
          assertEquals(
            store.written.filter((event) => event.endsWith(" u1")).at(-1),
            "user_message_sent u1",
          );
          assertEquals(notSent(w.logger.lines), []);
          assertEquals(storage.keys, []);
          other.close();
          await w.dispose();
        },
      );
    }

    /** A page with a chat, and a message whose log write never landed when the page reloaded. */
    async function reloaded(options: KustomerServiceDeskOptions, agent = true) {
      const storage = new FakeStorage();
      const store = new GatedStore(storeOf(kind));
      const w = world(kind, { outbox: storage, store, ...options });
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      if (agent) {
        w.sim.agentSend(conversationId, "hi");
        await until(() => w.host.texts().length === 1, "the agent's first message");
      }
      store.held = true;
      void send(w.desk, "m1", "are you there?").catch(() => {});
      await settle();
      const page = w.reload();
      store.held = false;
      return { w, storage, store, conversationId, ...page };
    }

    await t.step(
      'a reload with orphanedChat "end": the message reaches Kustomer once, then the old chat ends and the new one starts',
      async () => {
        const { w, storage, conversationId, desk } = await reloaded({ orphanedChat: "end" });
        await desk.startChat(connect(), {});
        await w.clock.advance(10_000);
        assertEquals(callsTo(w.sim, conversationId).slice(2), [
          "send are you there?",
          "end",
          "create",
        ]);
        assertEquals(w.sim.conversations.map((c) => c.ended), [true, false]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), ["are you there?"]);
        assertEquals(notSent(w.logger.lines), []);
        assertEquals(storage.keys, []);
        await w.dispose();
      },
    );

    await t.step(
      "left waiting by a reload, nobody takes it up (endOrphan): the message reaches Kustomer, then the end",
      async () => {
        const { w, storage, conversationId } = await reloaded({ orphanTimeoutMs: 60_000 }, false);
        await w.clock.advance(60_000);
        await until(() => w.sim.conversations[0].ended, "the orphan ended");
        await w.clock.advance(10_000);
        assertEquals(callsTo(w.sim, conversationId).slice(2), ["send are you there?", "end"]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), ["are you there?"]);
        assertEquals(notSent(w.logger.lines), []);
        assertEquals(storage.keys, []);
        await w.dispose();
      },
    );

    await t.step(
      "the resume fails: nothing more is tried, the message is failed with one warning and the host told",
      async () => {
        const { w, storage, store, conversationId, desk, host } = await reloaded({});
        w.sim.faults.fail("getHistoricalMessages", { times: 1 });
        await desk.startChat(connect(), {});
        await w.clock.advance(10_000);
        assertEquals(callsTo(w.sim, conversationId).slice(2), ["end", "create"]);
        assertEquals(w.sim.conversations.map((c) => c.ended), [true, false]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), []);
        assertEquals(notSent(w.logger.lines), [
          "Kustomer service desk: 1 user message(s) were not sent: KustomerError: Kustomer rejected getHistoricalMessages(): Simulated failure of getHistoricalMessages (status 500)",
        ]);
        assertEquals(
          store.written.filter((event) => event.endsWith(" m1")),
          ["user_message_queued m1", "user_message_failed m1"],
        );
        assertEquals(
          host.errors().filter((e) => e.type === 3).map((e) =>
            (e as { messageID?: string }).messageID
          ),
          ["m1"],
        );
        assertEquals(storage.keys, []);
        await w.dispose();
      },
    );

    await t.step(
      "taking up a closed tab's chat fails: nothing more is tried, the message is failed with one warning",
      async () => {
        const { w, storage, store, tab, conversationId } = await closedTab(kind, "unwritten");
        w.sim.faults.fail("getHistoricalMessages", { times: 1 });
        const other = tab();
        await other.desk.startChat(connect(), {});
        await w.clock.advance(10_000);
        assertEquals(callsTo(w.sim, conversationId).slice(2), ["end", "create"]);
        assertEquals(w.sim.conversations.map((c) => c.ended), [true, false]);
        assertEquals(customerTexts(w.sim, conversationId).slice(1), []);
        assertEquals(notSent(w.logger.lines).length, 1);
        assert(
          notSent(w.logger.lines)[0].includes("1 user message(s) were not sent: KustomerError"),
        );
        assertEquals(
          store.written.filter((event) => event.endsWith(" u1")),
          ["user_message_queued u1", "user_message_failed u1"],
        );
        assertEquals(storage.keys, []);
        other.close();
        await w.dispose();
      },
    );
  });
}
