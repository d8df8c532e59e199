/**
 * The log stores' reads and writes (`MemoryLogStore` and `IndexedDbLogStore`
 * keep their data and their IndexedDB connection; these functions do the work). They come with the
 * engine: a page that never has a chat only lists heads (the closed-tab sweep) and never downloads
 * them. (`IndexedDbLogStore.load` is the entry's own: a resume after a reload reads the log while
 * the engine loads.)
 *
 * @module
 */

import {
  done,
  type LoadedLog,
  LogConflictError,
  type LogHead,
  type LogTransaction,
  type LogWrite,
  type MemoryLog,
} from "../log_store.ts";

/** Where a log's head is stored. */
const headKey = (logId: string): IDBValidKey => ["h", logId];
/** Where a log's snapshot is stored. */
const snapshotKey = (logId: string): IDBValidKey => ["s", logId];
/** The keys of a log's events `from`…`to`. */
const eventRange = (logId: string, from: number, to = Infinity): IDBKeyRange =>
  IDBKeyRange.bound(["e", logId, from], ["e", logId, to]);

const clone = structuredClone;

/** The events of a memory log after `after`, up to `to`, in order. */
function range(logs: Map<string, MemoryLog>, logId: string, after: number, to = Infinity) {
  return [...logs.get(logId)?.events ?? []]
    .filter(([seq]) => seq > after && seq <= to)
    .sort(([a], [b]) => a - b)
    .map(([, record]) => record);
}

/** `MemoryLogStore.write`: atomic, refused when `expectedSeq` is not the log's end. */
export function memoryWrite(logs: Map<string, MemoryLog>, logId: string, write: LogWrite): void {
  const { expectedSeq, records, head, snapshot, replace = [], prune } = write;
  const log = logs.get(logId);
  const actual = log ? Math.max(log.head.seq, log.last) : 0;
  if (actual !== expectedSeq) throw new LogConflictError(logId, expectedSeq, actual);
  if (!log && !head) throw new TypeError(`The first write of log ${logId} needs a head`);
  const events = log?.events ?? new Map<number, unknown>();
  for (const record of [...records, ...replace]) events.set(record.seq, clone(record));
  if (prune && snapshot) {
    for (const seq of events.keys()) seq <= snapshot.seq && events.delete(seq);
  }
  logs.set(logId, {
    head: head ? clone(head) : log!.head,
    snapshot: clone(snapshot) ?? log?.snapshot,
    events,
    last: records.at(-1)?.seq ?? actual,
  });
}

/** `MemoryLogStore.load`. */
export function memoryLoad(logs: Map<string, MemoryLog>, logId: string): LoadedLog {
  const log = logs.get(logId);
  if (!log) return { records: [] };
  // The stored snapshot, if it is the one the head names.
  const snapshot = log.snapshot?.seq === log.head.snapshotSeq ? log.snapshot : undefined;
  const records = range(logs, logId, snapshot?.seq ?? 0);
  return clone({ head: log.head, snapshot, records, end: Math.max(log.head.seq, log.last) });
}

/** `MemoryLogStore.events`. */
export function memoryEvents(
  logs: Map<string, MemoryLog>,
  logId: string,
  toSeq = Infinity,
): unknown[] {
  return clone(range(logs, logId, 0, toSeq));
}

/**
 * Commits a transaction whose requests are all made, without waiting for their answers to come
 * back to the page first: one round trip less per write. A request that fails later (an `add()`
 * on a taken key) still aborts it. Where `commit()` is missing or the transaction is no longer
 * active, it commits on its own.
 */
const commit = (tx: IDBTransaction): void => {
  try {
    tx.commit?.();
  } catch {
    // Not active any more: it commits by itself.
  }
};

/**
 * The logs whose head each database connection has checked: a connection opened since (the
 * database deleted and made again, site data cleared) checks again.
 */
const checked = new WeakMap<IDBDatabase, Set<string>>();

/** `IndexedDbLogStore.write`: one read-write transaction, the check sent with the writes. */
export function idbWrite(use: LogTransaction, logId: string, write: LogWrite): Promise<void> {
  const { expectedSeq, records, head, snapshot, replace = [], prune } = write;
  return use("readwrite", (store, tx) => {
    let conflict: LogConflictError | undefined;
    let taken = false;
    const logs = checked.get(tx.db) ?? new Set<string>();
    checked.set(tx.db, logs);
    // The check travels with the writes (one round trip) and aborts them all when it fails:
    // with no events to add(), the log's end; else the head (a log deleted under this page,
    // another writer's head ahead). add() catches a sequence number another writer took: events
    // alone (the common case), on a connection that has checked the head, commit at once.
    const check = !records.length || prune
      ? end(store, logId)
      : head || snapshot || replace.length || !logs.has(logId)
      ? (done(store.get(headKey(logId))) as Promise<LogHead | undefined>).then((found) =>
        found ? found.seq > expectedSeq ? found.seq : expectedSeq : 0
      )
      : undefined;
    check?.then((actual) => {
      if (actual !== expectedSeq) {
        conflict = new LogConflictError(logId, expectedSeq, actual);
        tx.abort();
      } else commit(tx);
    }, () => {/* the transaction failed: its error is the write's */});
    // add() fails on a sequence number another writer took, and aborts the whole write: its error
    // reaches the transaction (one listener, not one per record).
    tx.addEventListener("error", (event) => {
      taken ||= (event.target as IDBRequest).error?.name === "ConstraintError";
    });
    if (prune && snapshot) store.delete(eventRange(logId, 0, snapshot.seq));
    else for (const record of records) store.add(record, ["e", logId, record.seq]);
    for (const record of prune ? [] : replace) store.put(record, ["e", logId, record.seq]);
    if (snapshot) store.put(snapshot, snapshotKey(logId));
    if (head) store.put(head, headKey(logId));
    if (!check) commit(tx);
    return done(tx).then(() => void logs.add(logId), async (error) => {
      logs.delete(logId);
      if (conflict) throw conflict;
      if (!taken) throw error ?? new Error("IndexedDB transaction aborted");
      const actual = await use("readonly", (store) => end(store, logId));
      throw new LogConflictError(logId, expectedSeq, actual);
    });
  });
}

/** A log's last sequence number: its last event's, or its head's when that is later. */
function end(store: IDBObjectStore, logId: string): Promise<number> {
  const head = done(store.get(headKey(logId))) as Promise<LogHead | undefined>;
  const last = done(store.openKeyCursor(eventRange(logId, 0), "prev"));
  return Promise.all([head, last]).then(([head, cursor]) =>
    Math.floor(
      Math.max(head?.seq ?? 0, Number((cursor?.key as unknown[] | undefined)?.[2]) || 0),
    )
  );
}

/** `IndexedDbLogStore.events`. */
export function idbEvents(use: LogTransaction, logId: string, toSeq?: number): Promise<unknown[]> {
  return use("readonly", (store) => done(store.getAll(eventRange(logId, 0, toSeq))));
}

/** `IndexedDbLogStore.remove`: the log's events, snapshot and head, in one transaction. */
export function idbRemove(use: LogTransaction, logId: string): Promise<void> {
  return use("readwrite", (store, tx) => {
    store.delete(eventRange(logId, 0));
    store.delete(snapshotKey(logId));
    store.delete(headKey(logId));
    return done(tx).then(() => {});
  });
}
