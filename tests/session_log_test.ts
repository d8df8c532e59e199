import "fake-indexeddb/auto";
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  IndexedDbLogStore,
  LogConflictError,
  type LogHead,
  type LogStore,
  MemoryLogStore,
} from "../src/log_store.ts";
import { SessionLog, sweepLogs } from "../src/session_log.ts";
import type { EventInput } from "../src/events.ts";
import { CapturingLogger } from "./_helpers.ts";

let dbCount = 0;
const STORES: [string, () => LogStore][] = [
  ["memory", () => new MemoryLogStore()],
  ["indexeddb", () => new IndexedDbLogStore({ dbName: `test-log-${++dbCount}` })],
];

const started: EventInput = {
  type: "escalation_started",
  data: { title: "t", context: "c", attribute: "keyStr", historyKey: "us-south::secret-auth" },
};
const queued = (id: string): EventInput => ({
  type: "user_message_queued",
  data: { id, text: `text ${id}`, files: [] },
});

/** Counts the store's atomic writes. */
function counting(store: LogStore): LogStore & { appends: number } {
  const wrapped = {
    appends: 0,
    append: (...args: Parameters<LogStore["append"]>) => {
      wrapped.appends++;
      return store.append(...args);
    },
    load: (id: string) => store.load(id),
    compact: (...args: Parameters<LogStore["compact"]>) => store.compact(...args),
    remove: (id: string) => store.remove(id),
    heads: () => store.heads(),
  };
  return wrapped;
}

for (const [kind, makeStore] of STORES) {
  Deno.test(`SessionLog over ${kind}`, async (t) => {
    await t.step("replays what was appended after a reopen", async () => {
      const store = makeStore();
      const log = SessionLog.create(store, "a");
      await log.append(started, {
        type: "conversation_created",
        data: { conversationId: "conv-1" },
      });
      await log.append(queued("m1"));
      const reopened = (await SessionLog.open(store, "a"))!;
      assertEquals(reopened.seq, 3);
      assertEquals(reopened.state, log.state);
      assertEquals(reopened.state.status, "waiting");
      assertEquals(reopened.state.pending.map((p) => p.id), ["m1"]);
    });

    await t.step("a log that does not exist opens as undefined", async () => {
      assertEquals(await SessionLog.open(makeStore(), "nope"), undefined);
    });

    await t.step("appends made together go in one write, in order", async () => {
      const store = counting(makeStore());
      const log = SessionLog.create(store, "b");
      await Promise.all([
        log.append(started),
        ...Array.from({ length: 20 }, (_, i) => log.append(queued(`m${i}`))),
      ]);
      assertEquals(store.appends, 1);
      const reopened = await SessionLog.open(store, "b");
      assertEquals(
        reopened!.state.pending.map((p) => p.id),
        Array.from({ length: 20 }, (_, i) => `m${i}`),
      );
    });

    await t.step("concurrent appends across turns keep their order", async () => {
      const store = makeStore();
      const log = SessionLog.create(store, "c");
      await log.append(started);
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 30; i++) {
        writes.push(log.append(queued(`m${i}`)));
        if (i % 7 === 0) await Promise.resolve();
      }
      await Promise.all(writes);
      const reopened = await SessionLog.open(store, "c");
      assertEquals(reopened!.seq, 31);
      assertEquals(
        reopened!.state.pending.map((p) => p.id),
        Array.from({ length: 30 }, (_, i) => `m${i}`),
      );
    });

    await t.step("the store refuses a stale expected sequence", async () => {
      const store = makeStore();
      const head = (seq: number): LogHead => ({ v: 1, id: "d", seq, createdAt: 0, updatedAt: 0 });
      await store.append("d", 0, [{ seq: 1 }], head(1));
      const error = await assertRejects(
        () => store.append("d", 0, [{ seq: 1 }], head(1)),
        LogConflictError,
      );
      assertEquals([error.expectedSeq, error.actualSeq], [0, 1]);
    });

    await t.step("a second writer is caught and its events merged, not interleaved", async () => {
      const store = makeStore();
      const logger = new CapturingLogger();
      const first = SessionLog.create(store, "e", { warn: logger.warn });
      await first.append(started);
      const second = await SessionLog.open(store, "e", { warn: logger.warn });
      await second!.append(queued("from-second"));
      await first.append(queued("from-first"));
      assert(logger.lines.some((l) => l.includes("another writer")), logger.lines.join("\n"));
      const reopened = await SessionLog.open(store, "e");
      assertEquals(reopened!.seq, 3);
      assertEquals(reopened!.state.pending.map((p) => p.id), ["from-second", "from-first"]);
      assertEquals(first.state.pending.map((p) => p.id), ["from-second", "from-first"]);
    });

    await t.step("a snapshot lets a reopen read only the events after it", async () => {
      const store = makeStore();
      const log = SessionLog.create(store, "f", { snapshotEvery: 10 });
      await log.append(started);
      for (let i = 0; i < 24; i++) await log.append(queued(`m${i}`));
      const loaded = await store.load("f");
      assertEquals(loaded.head!.snapshotSeq, 20);
      assertEquals(loaded.snapshot!.seq, 20);
      assertEquals(loaded.records.length, 5);
      const reopened = await SessionLog.open(store, "f");
      assertEquals(reopened!.state, log.state);
    });

    await t.step("corrupt or unknown records are skipped with one warning", async () => {
      const store = makeStore();
      const log = SessionLog.create(store, "g");
      await log.append(started, queued("m1"), queued("m2"));
      const loaded = await store.load("g");
      // Write the log again with a record of an unknown type and one of a future version.
      await store.remove("g");
      const head: LogHead = { v: 1, id: "g", seq: 4, createdAt: 0, updatedAt: 0 };
      await store.append("g", 0, [
        loaded.records[0] as { seq: number },
        { ...(loaded.records[1] as { seq: number }), type: "from_the_future" } as { seq: number },
        { seq: 3, v: 99 } as { seq: number },
        { ...(loaded.records[2] as { seq: number }), seq: 4 },
      ], head);
      const logger = new CapturingLogger();
      const reopened = await SessionLog.open(store, "g", { warn: logger.warn });
      assertEquals(reopened!.state.status, "starting");
      assertEquals(reopened!.state.pending.map((p) => p.id), ["m2"]);
      // One warning names both.
      assertEquals(logger.lines.length, 1);
      assert(logger.lines[0].includes('unknown type "from_the_future"'), logger.lines[0]);
      assert(logger.lines[0].includes("unsupported event version number 99"), logger.lines[0]);
    });

    await t.step(
      "compact drops the events (and the session-history key) but keeps the state",
      async () => {
        const store = makeStore();
        const log = SessionLog.create(store, "h");
        await log.append(started, { type: "chat_ended", data: { by: "user" } });
        await log.compact();
        const loaded = await store.load("h");
        assertEquals(loaded.records.length, 0);
        assert(!JSON.stringify(loaded).includes("secret-auth"));
        assert(loaded.head!.endedAt !== undefined);
        const reopened = await SessionLog.open(store, "h");
        assertEquals(reopened!.state.status, "ended");
      },
    );

    await t.step("remove deletes the log; later appends stay in memory", async () => {
      const store = makeStore();
      const log = SessionLog.create(store, "i");
      await log.append(started);
      await log.remove();
      await log.append(queued("late"));
      assertEquals(await store.load("i"), { records: [] });
      assertEquals(await store.heads(), []);
    });

    await t.step("sweep deletes ended logs past retention and abandoned ones", async () => {
      const store = makeStore();
      let now = 1_000;
      const clock = () => now;
      const ended = SessionLog.create(store, "ended", { now: clock });
      await ended.append(started, { type: "chat_ended", data: { by: "agent" } });
      const open = SessionLog.create(store, "open", { now: clock });
      await open.append(started);
      const current = SessionLog.create(store, "current", { now: clock });
      await current.append(started);
      now = 1_000 + 60_000;
      const opts = { now, retentionMs: 30_000, abandonedMs: 120_000, keep: "current" };
      assertEquals(await sweepLogs(store, opts), ["ended"]);
      now += 120_000;
      assertEquals(await sweepLogs(store, { ...opts, now }), ["open"]);
      assertEquals((await store.heads()).map((h) => h.id), ["current"]);
    });
  });
}

Deno.test("SessionLog: a failed write (full disk) loses nothing and is retried", async () => {
  const store = new MemoryLogStore();
  let full = true;
  const failing = counting(store);
  const append = failing.append;
  failing.append = (...args) =>
    full
      ? Promise.reject(new DOMException("The quota has been exceeded.", "QuotaExceededError"))
      : append(...args);
  const logger = new CapturingLogger();
  const log = SessionLog.create(failing, "q", { warn: logger.warn });
  await log.append(started);
  await log.append(queued("m1"));
  assertEquals(log.unsaved, 2);
  assertEquals(log.state.pending.length, 1, "the chat state goes on");
  assertEquals(logger.lines.length, 1, "one warning, not one per event");
  assert(logger.lines[0].includes("QuotaExceededError"), logger.lines[0]);
  full = false;
  await log.append(queued("m2"));
  assertEquals(log.unsaved, 0);
  assert(logger.lines[1].includes("saved again"));
  const reopened = await SessionLog.open(store, "q");
  assertEquals(reopened!.state.pending.map((p) => p.id), ["m1", "m2"]);
});

Deno.test("IndexedDbLogStore keeps logs apart and lists heads", async () => {
  const store = new IndexedDbLogStore({ dbName: "heads-test" });
  for (const id of ["x", "y", "z"]) {
    await SessionLog.create(store, id).append(started, queued(`${id}1`));
  }
  assertEquals((await store.heads()).map((h) => h.id).sort(), ["x", "y", "z"]);
  const y = await SessionLog.open(store, "y");
  assertEquals(y!.state.pending.map((p) => p.id), ["y1"]);
  await store.remove("y");
  assertEquals((await store.heads()).map((h) => h.id).sort(), ["x", "z"]);
  assertEquals((await store.load("x")).records.length, 2);
});
