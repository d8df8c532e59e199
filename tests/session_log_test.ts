import "fake-indexeddb/auto";
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  IndexedDbLogStore,
  LogConflictError,
  type LogHead,
  type LogSnapshot,
  type LogStore,
  MemoryLogStore,
} from "../src/log_store.ts";
import { SessionLog, sweepLogs } from "../src/session_log.ts";
import type { EventInput } from "../src/events.ts";
import { CapturingLogger } from "./_helpers.ts";
import { resolveStore } from "../src/options.ts";

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

/** Counts the store's atomic writes (and lets a test hold them). */
function counting(store: LogStore): LogStore & { writes: number; hold?: Promise<void> } {
  const wrapped: LogStore & { writes: number; hold?: Promise<void> } = {
    writes: 0,
    write: async (...args) => {
      wrapped.writes++;
      const done = store.write(...args);
      await wrapped.hold;
      return done;
    },
    load: (id) => store.load(id),
    events: (...args) => store.events(...args),
    remove: (id) => store.remove(id),
    heads: () => store.heads(),
  };
  return wrapped;
}

const agent = (id: string): EventInput => ({
  type: "agent_message_received",
  data: {
    message: {
      messageId: id,
      text: `hello ${id}`,
      createdAt: "2026-12-01T00:00:00.000Z",
      agent: { id: "ada", nickname: "Ada" },
      attachments: [],
      quickReplies: [],
    },
  },
});
const created: EventInput = { type: "conversation_created", data: { conversationId: "conv-1" } };
const opened: EventInput = { type: "conversation_opened", data: { messageId: "k0" } };

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
      assertEquals(store.writes, 1);
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
      const write = { expectedSeq: 0, records: [{ seq: 1 }], head: head(1) };
      await store.write("d", write);
      const error = await assertRejects(() => store.write("d", write), LogConflictError);
      assertEquals([error.expectedSeq, error.actualSeq], [0, 1]);
      // The refused write changed nothing: its other events and its head are not there.
      const stale = {
        expectedSeq: 0,
        records: [{ seq: 1, stale: true }, { seq: 2 }],
        head: head(2),
      };
      await assertRejects(() => store.write("d", stale), LogConflictError);
      // A write of no events (a compaction) with a stale expectation is refused too.
      const snapshot = { seq: 0, state: {} as LogSnapshot["state"] };
      await assertRejects(
        () => store.write("d", { expectedSeq: 0, records: [], head: head(0), snapshot }),
        LogConflictError,
      );
      assertEquals(await store.events("d"), [{ seq: 1 }]);
      assertEquals((await store.load("d")).head?.seq, 1);
      // A write without a head: the last event says where the log ends.
      await store.write("d", { expectedSeq: 1, records: [{ seq: 2 }] });
      const again = await assertRejects(
        () => store.write("d", { expectedSeq: 1, records: [{ seq: 2 }] }),
        LogConflictError,
      );
      assertEquals(again.actualSeq, 2);
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
      await store.write("g", {
        expectedSeq: 0,
        records: [
          loaded.records[0] as { seq: number },
          { ...(loaded.records[1] as { seq: number }), type: "from_the_future" } as { seq: number },
          { seq: 3, v: 99 } as { seq: number },
          { ...(loaded.records[2] as { seq: number }), seq: 4 },
        ],
        head,
      });
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
        assertEquals(await store.events("h"), [], "no event left");
        assert(!JSON.stringify(loaded).includes("secret-auth"));
        assert(loaded.head!.endedAt !== undefined);
        const reopened = await SessionLog.open(store, "h");
        assertEquals(reopened!.state.status, "ended");
      },
    );

    await t.step("compacting while messages arrive keeps the live chat", async () => {
      // Issue 8, defect 6: the compaction's head and a concurrent write's head disagreed on the
      // snapshot, and the log reopened as idle.
      const store = counting(makeStore());
      const log = SessionLog.create(store, "race");
      await log.append({ ...started }, created, opened);
      let release!: () => void;
      store.hold = new Promise((resolve) => release = resolve);
      const compacting = log.compact();
      const arriving = [log.append(agent("a1")), log.append(agent("a2"))];
      await Promise.resolve();
      const arrivingLater = log.append(agent("a3"));
      release();
      await Promise.all([compacting, ...arriving, arrivingLater]);
      const reopened = await SessionLog.open(store, "race");
      assertEquals(reopened!.state.status, "connected");
      assertEquals(reopened!.state, log.state);
      assertEquals(
        (await reopened!.readTranscript()).map((line) => line.id),
        ["a1", "a2", "a3"],
      );
    });

    await t.step("a burst that arrives while a write is in flight is one more write", async () => {
      const store = counting(makeStore());
      const log = SessionLog.create(store, "burst");
      let release!: () => void;
      store.hold = new Promise((resolve) => release = resolve);
      const first = log.append(started, created);
      await Promise.resolve();
      const burst: Promise<void>[] = [];
      for (let i = 0; i < 1_000; i++) {
        burst.push(log.append(agent(`a${i}`)));
        if (i % 100 === 0) await Promise.resolve();
      }
      release();
      await Promise.all([first, ...burst]);
      assertEquals(store.writes, 2);
      assertEquals(log.unsaved, 0);
      const reopened = await SessionLog.open(store, "burst");
      assertEquals(reopened!.seq, 1_002);
      assertEquals((await reopened!.readTranscript()).length, 1_000);
    });

    await t.step(
      "snapshots hold the control state, not the chat; resume reads the tail",
      async () => {
        const store = makeStore();
        const log = SessionLog.create(store, "small", { snapshotEvery: 16 });
        await log.append(started, created, opened);
        for (let i = 0; i < 200; i++) await log.append(agent(`a${i}`));
        const loaded = await store.load("small");
        assert(loaded.snapshot, "a snapshot was taken");
        assert(!JSON.stringify(loaded.snapshot).includes("hello a"), "no message text in it");
        const { seq, state } = loaded.snapshot!;
        assertEquals(state.seen.length, seq - 2, "the ids seen, for dedupe");
        assertEquals(loaded.records.length, 203 - seq);
        assert(loaded.records.length <= 25, `${loaded.records.length} events after the snapshot`);
        const reopened = (await SessionLog.open(store, "small"))!;
        assertEquals(reopened.state, log.state);
        assertEquals(reopened.transcript.length, loaded.records.length, "the tail's lines only");
        const lines = await reopened.readTranscript();
        assertEquals(lines.map((line) => line.id), log.transcript.map((line) => line.id));
        assertEquals(lines.length, 200);
      },
    );

    await t.step(
      "compacting after the key is attached drops it from storage, keeping the events",
      async () => {
        const store = makeStore();
        const log = SessionLog.create(store, "key", { snapshotEvery: 2 });
        await log.append(started, created, opened, agent("a1"));
        await log.append({ type: "history_key_attached", data: {} });
        assert(JSON.stringify(await store.events("key")).includes("secret-auth"));
        await log.compact();
        const all = [await store.events("key"), await store.load("key")];
        assert(!JSON.stringify(all).includes("secret-auth"), "the key left storage");
        const reopened = (await SessionLog.open(store, "key"))!;
        assertEquals(reopened.state, log.state);
        assertEquals((await reopened.readTranscript()).map((line) => line.id), ["a1"]);
      },
    );

    await t.step("an append writes its events alone; the head goes now and then", async () => {
      const inner = makeStore();
      const heads: (number | undefined)[] = [];
      const store: LogStore = {
        ...counting(inner),
        write: (id, write) => {
          heads.push(write.head?.seq);
          return inner.write(id, write);
        },
      };
      let now = 0;
      const log = SessionLog.create(store, "lean", { now: () => now });
      await log.append(started, created);
      for (let i = 0; i < 5; i++) await log.append(agent(`a${i}`));
      now += 60_000;
      await log.append(agent("later"));
      await log.append({ type: "chat_ended", data: { by: "user" } });
      await log.append({ type: "error_recorded", data: { where: "x", message: "y" } });
      assertEquals(heads, [
        2,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        8,
        9,
        undefined,
      ]);
      const reopened = (await SessionLog.open(inner, "lean"))!;
      assertEquals(reopened.seq, 10, "the last event says where the log ends");
      assertEquals(reopened.state, log.state);
      assert((await inner.heads())[0].endedAt !== undefined, "the head says the chat ended");
    });

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
  const write = failing.write;
  failing.write = (...args) =>
    full
      ? Promise.reject(new DOMException("The quota has been exceeded.", "QuotaExceededError"))
      : write(...args);
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

Deno.test("a finished chat's storage is freed: counted records in IndexedDB", async () => {
  const dbName = "freed-test";
  const store = new IndexedDbLogStore({ dbName });
  /** Every record of the database's object store. */
  const count = async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const request = db.transaction("logs").objectStore("logs").count();
    const n = await new Promise<number>((resolve) =>
      request.onsuccess = () => resolve(request.result)
    );
    db.close();
    return n;
  };
  const kept = SessionLog.create(store, "kept", { snapshotEvery: 16 });
  const removed = SessionLog.create(store, "removed");
  for (const log of [kept, removed]) {
    await log.append(started, created, opened);
    for (let i = 0; i < 100; i++) await log.append(agent(`a${i}`));
    await log.append({ type: "chat_ended", data: { by: "user" } });
  }
  const live = await count();
  assert(live >= 2 * 104 + 2, `${live} records while the chats are open`);
  await kept.compact();
  assertEquals(await count(), (104 + 2) + 2, "the ended chat keeps its head and snapshot only");
  await removed.remove();
  assertEquals(await count(), 2);
  assertEquals((await SessionLog.open(store, "kept"))!.state.status, "ended");
});

Deno.test('durability: "strict" reaches every IndexedDB transaction of the log', async () => {
  const seen: (string | undefined)[] = [];
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args) {
    // The database's upgrade transaction (fake-indexeddb makes it through this method) aside.
    if (args[1] !== "versionchange") seen.push(args[2]?.durability);
    return transaction.apply(this, args);
  };
  try {
    for (const durability of ["strict", undefined] as const) {
      seen.length = 0;
      const store = resolveStore("indexeddb", console, durability);
      const log = SessionLog.create(store, `durable-${durability}`);
      await log.append(started);
      await SessionLog.open(store, `durable-${durability}`);
      await log.remove();
      assertEquals(seen.length, 3, "append, open, remove");
      assertEquals(new Set(seen), new Set([durability ?? "default"]));
    }
  } finally {
    IDBDatabase.prototype.transaction = transaction;
  }
});

Deno.test("IndexedDbLogStore: a write commits once its check passes, and a taken number still aborts it", async () => {
  let commits = 0;
  const commit = IDBTransaction.prototype.commit;
  IDBTransaction.prototype.commit = function (this: IDBTransaction) {
    commits++;
    return commit.call(this);
  };
  try {
    const store = new IndexedDbLogStore({ dbName: "commit-test" });
    const head = (seq: number): LogHead => ({ v: 1, id: "c", seq, createdAt: 0, updatedAt: 0 });
    await store.write("c", { expectedSeq: 0, records: [{ seq: 1 }], head: head(1) });
    assertEquals(commits, 1, "committed without waiting for the add's answer");
    await store.write("c", { expectedSeq: 1, records: [{ seq: 2 }] });
    assertEquals(commits, 2);
    // A stale writer: the head still says 1, so its check passes and it commits; the add of 2
    // then fails, and nothing of its write is kept.
    const stale = [{ seq: 2, stale: true }, { seq: 3 }];
    const error = await assertRejects(
      () => store.write("c", { expectedSeq: 1, records: stale }),
      LogConflictError,
    );
    assertEquals([error.expectedSeq, error.actualSeq, commits], [1, 2, 3]);
    assertEquals(await store.events("c"), [{ seq: 1 }, { seq: 2 }]);
    // A check that fails aborts the write: no commit.
    await assertRejects(
      () => store.write("c", { expectedSeq: 0, records: [{ seq: 1 }], head: head(1) }),
      LogConflictError,
    );
    assertEquals(commits, 3);
    // A compaction (no events to add) commits once its end check passes.
    await store.write("c", { expectedSeq: 2, records: [], head: head(2) });
    assertEquals(commits, 4);
    assertEquals((await store.load("c")).head?.seq, 2);
  } finally {
    IDBTransaction.prototype.commit = commit;
  }
});

Deno.test("IndexedDbLogStore: events alone are written with no read, once the head was checked", async () => {
  const store = new IndexedDbLogStore({ dbName: `test-log-${++dbCount}` });
  const log = SessionLog.create(store, "r");
  await log.append(started, created, opened);
  const get = IDBObjectStore.prototype.get;
  let reads = 0;
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
    reads++;
    return get.call(this, key);
  };
  try {
    for (let i = 0; i < 5; i++) await log.append(queued(`m${i}`));
  } finally {
    IDBObjectStore.prototype.get = get;
  }
  assertEquals(reads, 0, "a write of events alone reads nothing");
  // Another writer took the next number: add() still catches it.
  const other = (await SessionLog.open(store, "r"))!;
  await other.append(queued("theirs"));
  await log.append(queued("mine"));
  const reopened = (await SessionLog.open(store, "r"))!;
  assertEquals(reopened.state.pending.map((p) => p.id), [
    "m0",
    "m1",
    "m2",
    "m3",
    "m4",
    "theirs",
    "mine",
  ]);
});

Deno.test("IndexedDbLogStore: a last event that cannot be read still counts: the next append goes after it", async () => {
  const dbName = "unreadable-last";
  const store = new IndexedDbLogStore({ dbName });
  const log = SessionLog.create(store, "u");
  await log.append(started, queued("m1"), queued("m2"));
  const head = (await store.heads())[0];
  // The last event's record is damaged in place: its key stands, its value says nothing.
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(dbName);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const tx = db.transaction("logs", "readwrite");
  tx.objectStore("logs").put({ damaged: true }, ["e", "u", 4]);
  await new Promise((resolve) => tx.oncomplete = resolve);
  db.close();
  assert(head.seq < 4, "the head does not count it");
  const logger = new CapturingLogger();
  const reopened = await SessionLog.open(store, "u", { warn: logger.warn });
  await reopened!.append(queued("m3"));
  assertEquals(reopened!.unsaved, 0, logger.lines.join("\n"));
  const seqs = (await store.events("u")).map((r) => (r as { seq?: number }).seq);
  assertEquals(seqs, [1, 2, 3, undefined, 5]);
  assertEquals((await SessionLog.open(store, "u"))!.state.pending.map((p) => p.id), [
    "m1",
    "m2",
    "m3",
  ]);
});
