/**
 * Where escalation logs live: one small interface, with an IndexedDB store (through idb-keyval's
 * `createStore`) and a memory store that behaves the same.
 *
 * Layout: a head record per log at key `["h", logId]` and one record per event at
 * `["e", logId, seq]`, so one key range reads a log from any position.
 *
 * @module
 */

import { createStore, promisifyRequest, type UseStore } from "idb-keyval";
import type { DeskState } from "./events.ts";

/** A state snapshot: the state after event `seq`; a resume reads only the events after it. */
export interface LogSnapshot {
  /** The last event the snapshot covers. */
  readonly seq: number;
  /** The state after it. */
  readonly state: DeskState;
}

/** The head of a log: its last sequence number, times, and where its snapshot stands. */
export interface LogHead {
  /** Head format version. */
  readonly v: 1;
  /** The log (escalation) id. */
  readonly id: string;
  /** The sequence number of the last event. */
  readonly seq: number;
  /** When the log was created (ms since the epoch). */
  readonly createdAt: number;
  /** When it was last written. */
  readonly updatedAt: number;
  /** When the chat ended, once it has. */
  readonly endedAt?: number;
  /** The `seq` of the log's snapshot, if it has one (kept in a record of its own). */
  readonly snapshotSeq?: number;
}

/** What a store hands back for one log. */
export interface LoadedLog {
  /** The head, or undefined when there is no such log. */
  readonly head?: LogHead;
  /** The snapshot the head names. */
  readonly snapshot?: LogSnapshot;
  /** Raw records after the snapshot (or all), in sequence order. */
  readonly records: readonly unknown[];
}

/** Storage of escalation logs. */
export interface LogStore {
  /**
   * Appends records and writes the head (and a new snapshot, when given) in one atomic step, if
   * the log's last sequence number is still `expectedSeq` (0 for a new log).
   *
   * @throws {LogConflictError} when another writer got there first.
   */
  append(
    logId: string,
    expectedSeq: number,
    records: readonly { readonly seq: number }[],
    head: LogHead,
    snapshot?: LogSnapshot,
  ): Promise<void>;
  /** Reads a log's head, its snapshot and the records after the snapshot. */
  load(logId: string): Promise<LoadedLog>;
  /** Writes `head` and `snapshot` and deletes the events the snapshot covers, atomically. */
  compact(logId: string, head: LogHead, snapshot: LogSnapshot): Promise<void>;
  /** Deletes a log. */
  remove(logId: string): Promise<void>;
  /** All heads, for retention. */
  heads(): Promise<LogHead[]>;
}

/** Thrown when an append's expected sequence number is stale: another writer (tab) appended first. */
export class LogConflictError extends Error {
  /** The log. */
  readonly logId: string;
  /** What the writer expected. */
  readonly expectedSeq: number;
  /** What the store had. */
  readonly actualSeq: number;
  /** Creates the error. */
  constructor(logId: string, expectedSeq: number, actualSeq: number) {
    super(
      `Log ${logId} was written by another writer: expected event ${expectedSeq}, found ${actualSeq}`,
    );
    this.name = "LogConflictError";
    this.logId = logId;
    this.expectedSeq = expectedSeq;
    this.actualSeq = actualSeq;
  }
}

/**
 * The stored snapshot, if it is the one the head names, within the head's events, and holds a
 * state (with a status); otherwise none, and the log is read from its first event.
 */
const named = (head: LogHead, stored?: LogSnapshot): LogSnapshot | undefined =>
  stored?.seq !== undefined && stored.seq === head.snapshotSeq && stored.seq <= head.seq &&
    typeof stored.state?.status === "string"
    ? stored
    : undefined;

const clone = structuredClone;

/** Runs `fn` now; its result or throw as a promise. */
const task = <T>(fn: () => T): Promise<T> => new Promise((resolve) => resolve(fn()));

/** A log store in memory: for tests, and where IndexedDB is unavailable. Lost on reload. */
export class MemoryLogStore implements LogStore {
  #logs = new Map<
    string,
    { head: LogHead; snapshot?: LogSnapshot; events: Map<number, unknown> }
  >();

  /** Appends atomically; see {@linkcode LogStore.append}. */
  append(
    logId: string,
    expectedSeq: number,
    records: readonly { readonly seq: number }[],
    head: LogHead,
    snapshot?: LogSnapshot,
  ): Promise<void> {
    return task(() => {
      const log = this.#logs.get(logId);
      const actual = log?.head.seq ?? 0;
      if (actual !== expectedSeq) throw new LogConflictError(logId, expectedSeq, actual);
      const events = log?.events ?? new Map<number, unknown>();
      for (const record of records) events.set(record.seq, clone(record));
      this.#logs.set(logId, {
        head: clone(head),
        snapshot: clone(snapshot) ?? log?.snapshot,
        events,
      });
    });
  }

  /** Reads a log; see {@linkcode LogStore.load}. */
  load(logId: string): Promise<LoadedLog> {
    return task(() => {
      const log = this.#logs.get(logId);
      if (!log) return { records: [] };
      const snapshot = named(log.head, log.snapshot);
      const from = snapshot?.seq ?? 0;
      const records = [...log.events].filter(([seq]) => seq > from).sort(([a], [b]) => a - b)
        .map(([, record]) => record);
      return clone({ head: log.head, snapshot, records });
    });
  }

  /** Compacts; see {@linkcode LogStore.compact}. */
  compact(logId: string, head: LogHead, snapshot: LogSnapshot): Promise<void> {
    return task(() => {
      const log = this.#logs.get(logId);
      if (!log) return;
      for (const seq of log.events.keys()) if (seq <= snapshot.seq) log.events.delete(seq);
      log.head = clone(head);
      log.snapshot = clone(snapshot);
    });
  }

  /** Deletes a log. */
  remove(logId: string): Promise<void> {
    return task(() => void this.#logs.delete(logId));
  }

  /** All heads. */
  heads(): Promise<LogHead[]> {
    return task(() => clone([...this.#logs.values()].map((log) => log.head)));
  }
}

/** Options of {@linkcode IndexedDbLogStore}. */
export interface IndexedDbLogStoreOptions {
  /**
   * The IndexedDB database name.
   * @default {"kustomer-service-desk"}
   */
  dbName?: string;
  /**
   * The object store name.
   * @default {"logs"}
   */
  storeName?: string;
}

const headKey = (logId: string): IDBValidKey => ["h", logId];
const snapshotKey = (logId: string): IDBValidKey => ["s", logId];
const eventRange = (logId: string, from: number, to = Infinity): IDBKeyRange =>
  IDBKeyRange.bound(["e", logId, from], ["e", logId, to]);

/**
 * A log store in IndexedDB through idb-keyval's `createStore` (opened lazily, on first use).
 * Records: the head at `["h", id]`, the snapshot at `["s", id]` (written only when taken) and each
 * event at `["e", id, seq]`. Every append is one read-write transaction: head check, event puts
 * and head put commit together or not at all.
 */
export class IndexedDbLogStore implements LogStore {
  #store?: UseStore;
  #dbName: string;
  #storeName: string;

  /** Creates the store; nothing is opened until the first call. */
  constructor(options: IndexedDbLogStoreOptions = {}) {
    this.#dbName = options.dbName ?? "kustomer-service-desk";
    this.#storeName = options.storeName ?? "logs";
  }

  #use(): UseStore {
    return this.#store ??= createStore(this.#dbName, this.#storeName);
  }

  /** Appends atomically; see {@linkcode LogStore.append}. */
  append(
    logId: string,
    expectedSeq: number,
    records: readonly { readonly seq: number }[],
    head: LogHead,
    snapshot?: LogSnapshot,
  ): Promise<void> {
    return this.#use()("readwrite", (store) =>
      new Promise<void>((resolve, reject) => {
        const tx = store.transaction;
        let conflict: LogConflictError | undefined;
        tx.oncomplete = () => resolve();
        tx.onabort = () =>
          reject(conflict ?? tx.error ?? new Error("IndexedDB transaction aborted"));
        const check = store.get(headKey(logId));
        check.onsuccess = () => {
          const actual = (check.result as LogHead | undefined)?.seq ?? 0;
          if (actual !== expectedSeq) {
            conflict = new LogConflictError(logId, expectedSeq, actual);
            tx.abort();
            return;
          }
          for (const record of records) store.put(record, ["e", logId, record.seq]);
          if (snapshot) store.put(snapshot, snapshotKey(logId));
          store.put(head, headKey(logId));
        };
      }));
  }

  /** Reads a log; see {@linkcode LogStore.load}. */
  load(logId: string): Promise<LoadedLog> {
    return this.#use()("readonly", async (store) => {
      const [head, stored] = await Promise.all([
        promisifyRequest(store.get(headKey(logId))) as Promise<LogHead | undefined>,
        promisifyRequest(store.get(snapshotKey(logId))) as Promise<LogSnapshot | undefined>,
      ]);
      if (!head) return { records: [] };
      const snapshot = named(head, stored);
      const records = await promisifyRequest(
        store.getAll(eventRange(logId, (snapshot?.seq ?? 0) + 1)),
      );
      return { head, snapshot, records };
    });
  }

  /** Compacts; see {@linkcode LogStore.compact}. */
  compact(logId: string, head: LogHead, snapshot: LogSnapshot): Promise<void> {
    return this.#use()("readwrite", (store) => {
      store.delete(eventRange(logId, 0, snapshot.seq));
      store.put(snapshot, snapshotKey(logId));
      store.put(head, headKey(logId));
      return promisifyRequest(store.transaction);
    });
  }

  /** Deletes a log. */
  remove(logId: string): Promise<void> {
    return this.#use()("readwrite", (store) => {
      store.delete(eventRange(logId, 0));
      store.delete(snapshotKey(logId));
      store.delete(headKey(logId));
      return promisifyRequest(store.transaction);
    });
  }

  /** All heads. */
  heads(): Promise<LogHead[]> {
    return this.#use()(
      "readonly",
      (store) =>
        promisifyRequest(store.getAll(IDBKeyRange.bound(["h"], ["h", []]))) as Promise<LogHead[]>,
    );
  }
}
