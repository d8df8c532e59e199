/**
 * Where escalation logs live: one small interface, with an IndexedDB store and a memory store that
 * behaves the same.
 *
 * Layout: a head record per log at key `["h", logId]`, its snapshot at `["s", logId]`, and one
 * record per event at `["e", logId, seq]`, so one key range reads a log from any position.
 *
 * @module
 */

import type { StoredState } from "./events.ts";
import { loadEngine } from "./load_engine.ts";

/** A state snapshot: the control state after event `seq`; a resume reads only the events after it. */
export interface LogSnapshot {
  /** The last event the snapshot covers. */
  readonly seq: number;
  /** The state after it (control state only: no transcript). */
  readonly state: StoredState;
}

/** The head of a log: its last sequence number, times, and where its snapshot stands. */
export interface LogHead {
  /** Head format version. */
  readonly v: 1;
  /** The log (escalation) id. */
  readonly id: string;
  /**
   * The sequence number of the last event when the head was written (it is not rewritten with
   * every event: events after it may follow).
   */
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
  /**
   * The log's last sequence number: its last event's key, or the head's count when that is
   * later (the head is not written with every event). A store that cannot tell leaves it out,
   * and the last record's `seq` counts.
   */
  readonly end?: number;
}

/** A stored event record: what a store needs to know of it. */
export type LogRecord = { readonly seq: number };

/** One atomic write to a log: see {@linkcode LogStore.write}. */
export interface LogWrite {
  /** The log's last sequence number the writer expects to find (0 for a new log). */
  readonly expectedSeq: number;
  /** New events, after `expectedSeq`, in order. */
  readonly records: readonly LogRecord[];
  /** The new head, when it changes (a new log, a snapshot, the end, now and then). */
  readonly head?: LogHead;
  /** A new snapshot. */
  readonly snapshot?: LogSnapshot;
  /** Stored events to overwrite (to drop a secret from them). */
  readonly replace?: readonly LogRecord[];
  /** Delete every event the snapshot covers, the new records included: keep the snapshot only. */
  readonly prune?: boolean;
}

/** Storage of escalation logs. */
export interface LogStore {
  /**
   * Writes new events, and optionally the head, a snapshot, replaced events or a pruning, in one
   * atomic step, if the log's last sequence number (its last event's, or its head's) is still
   * `write.expectedSeq`. New events start right after it.
   *
   * @throws {LogConflictError} when another writer got there first.
   */
  write(logId: string, write: LogWrite): Promise<void>;
  /** Reads a log's head, its snapshot and the records after the snapshot. */
  load(logId: string): Promise<LoadedLog>;
  /** Reads a log's stored event records up to `toSeq` (all by default), in order. */
  events(logId: string, toSeq?: number): Promise<unknown[]>;
  /** Deletes a log. */
  remove(logId: string): Promise<void>;
  /** All heads, for retention. */
  heads(): Promise<LogHead[]>;
}

/** Thrown when an append's expected sequence number is stale: another writer (tab) appended first. */
export class LogConflictError extends Error {
  // Declared, not defined: the constructor sets them.
  /** The log. */
  declare readonly logId: string;
  /** What the writer expected. */
  declare readonly expectedSeq: number;
  /** What the store had. */
  declare readonly actualSeq: number;
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

/** Runs `fn` now; its result or throw as a promise. */
const task = <T>(fn: () => T | Promise<T>): Promise<T> => new Promise((resolve) => resolve(fn()));

/**
 * The engine, which holds the stores' reads and writes: a page that never has a chat needs only
 * {@linkcode LogStore.heads} (the closed-tab sweep) and never downloads them. Once it is loaded, a
 * call runs at once, as before it was split off. (The IndexedDB store reads a log itself, so that a
 * resume after a reload reads while the engine loads.)
 */
let engine: typeof import("./engine.ts") | undefined;
const withEngine = <T>(run: (io: typeof import("./engine.ts")) => T | Promise<T>): Promise<T> =>
  engine ? task(() => run(engine!)) : loadEngine().then((loaded) => run(engine = loaded));

/** A memory store's log. */
export interface MemoryLog {
  /** The head. */
  head: LogHead;
  /** The last snapshot written. */
  snapshot?: LogSnapshot;
  /** The events by sequence number. */
  events: Map<number, unknown>;
  /** The last event's sequence number. */
  last: number;
}

/** A log store in memory: for tests, and where IndexedDB is unavailable. Lost on reload. */
export class MemoryLogStore implements LogStore {
  #logs = new Map<string, MemoryLog>();

  /** Writes atomically; see {@linkcode LogStore.write}. */
  write(logId: string, write: LogWrite): Promise<void> {
    return withEngine((io) => io.memoryWrite(this.#logs, logId, write));
  }

  /** Reads a log; see {@linkcode LogStore.load}. */
  load(logId: string): Promise<LoadedLog> {
    return withEngine((io) => io.memoryLoad(this.#logs, logId));
  }

  /** Reads events; see {@linkcode LogStore.events}. */
  events(logId: string, toSeq?: number): Promise<unknown[]> {
    return withEngine((io) => io.memoryEvents(this.#logs, logId, toSeq));
  }

  /** Deletes a log. */
  remove(logId: string): Promise<void> {
    return task(() => void this.#logs.delete(logId));
  }

  /** All heads. */
  heads(): Promise<LogHead[]> {
    return task(() => structuredClone([...this.#logs.values()].map((log) => log.head)));
  }
}

/** Runs `run` in a transaction of an IndexedDB store's object store (aborted when `run` throws). */
export type LogTransaction = <T>(
  mode: IDBTransactionMode,
  run: (store: IDBObjectStore, tx: IDBTransaction) => Promise<T>,
) => Promise<T>;

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
  /**
   * The durability of writes: `"strict"` flushes to disk at every commit, so a browser or OS crash
   * loses no stored event (a page reload loses none either way); slower.
   * @default {"default"}
   */
  durability?: IDBTransactionDurability;
}

/** How long an IndexedDB open may wait (behind another tab's blocked version change). */
const OPEN_TIMEOUT_MS = 3000;

/** A request's (or a transaction's) result as a promise. */
export const done = <T>(request: IDBRequest<T> | IDBTransaction): Promise<T> =>
  new Promise((resolve, reject) => {
    // deno-lint-ignore no-explicit-any
    const r = request as any;
    r.oncomplete = r.onsuccess = () => resolve(r.result);
    r.onabort = r.onerror = () => reject(r.error);
  });

/**
 * A log store in IndexedDB (opened lazily, on first use). Records: the head at `["h", id]`, the
 * snapshot at `["s", id]` and each event at `["e", id, seq]`. A write is one read-write
 * transaction with a single round trip: the head check is sent with the writes, and a stale head
 * aborts them all.
 */
export class IndexedDbLogStore implements LogStore {
  #db?: Promise<IDBDatabase>;
  /** Why the last open has not finished (it timed out and may still open). */
  #waiting?: Error;
  #dbName: string;
  #storeName: string;
  #durability: IDBTransactionDurability;

  /** Creates the store; nothing is opened until the first call. */
  constructor(options: IndexedDbLogStoreOptions = {}) {
    this.#dbName = options.dbName ?? "kustomer-service-desk";
    this.#storeName = options.storeName ?? "logs";
    this.#durability = options.durability ?? "default";
  }

  /** Takes an open database: closed and forgotten when another tab upgrades or deletes it. */
  #adopt(db: IDBDatabase): Promise<IDBDatabase> {
    const adopted = Promise.resolve(db);
    const forget = () => {
      if (this.#db === adopted) this.#db = undefined;
    };
    // A connection left open would block the other tab: let it go, and open again when needed.
    db.onversionchange = () => {
      db.close();
      forget();
    };
    db.onclose = forget;
    return adopted;
  }

  #transaction: LogTransaction = (mode, run) => this.#use(mode, run);

  async #use<T>(
    mode: IDBTransactionMode,
    run: (store: IDBObjectStore, tx: IDBTransaction) => Promise<T>,
  ): Promise<T> {
    if (!this.#db) {
      // An open still waiting behind another tab's version change: fail at once, not again late.
      if (this.#waiting) throw this.#waiting;
      const pending: Promise<IDBDatabase> = this.#db = new Promise((resolve, reject) => {
        const request = indexedDB.open(this.#dbName);
        request.onupgradeneeded = () => request.result.createObjectStore(this.#storeName);
        // An open waits behind another tab's version change that is itself blocked: give up
        // after a while (the write fails and is retried with the next one) rather than hang, and
        // take the database when it opens after all.
        const timer = setTimeout(() => {
          this.#waiting = new Error(
            `IndexedDB did not open within ${OPEN_TIMEOUT_MS} ms (blocked by another tab's version change?)`,
          );
          reject(this.#waiting);
        }, OPEN_TIMEOUT_MS);
        request.onsuccess = () => {
          clearTimeout(timer);
          this.#waiting = undefined;
          resolve(this.#db = this.#adopt(request.result));
        };
        request.onerror = () => {
          clearTimeout(timer);
          this.#waiting = undefined;
          reject(request.error);
        };
      });
      pending.catch(() => {
        if (this.#db === pending) this.#db = undefined;
      });
    }
    const tx = (await this.#db).transaction(this.#storeName, mode, {
      durability: this.#durability,
    });
    try {
      return await run(tx.objectStore(this.#storeName), tx);
    } catch (error) {
      // A request refused at once (a full disk, a value that cannot be stored): nothing of the
      // transaction may be written, or the log would hold events without their head.
      try {
        tx.abort();
      } catch {
        // Already finished or aborted.
      }
      throw error;
    }
  }

  /** Writes atomically, checking the log's end in the same transaction; see {@linkcode LogStore.write}. */
  write(logId: string, write: LogWrite): Promise<void> {
    return withEngine((io) => io.idbWrite(this.#transaction, logId, write));
  }

  /** Reads a log; see {@linkcode LogStore.load}. */
  load(logId: string): Promise<LoadedLog> {
    // Here, not with the engine: a resume after a reload reads the log while the engine loads.
    return this.#use("readonly", async (store) => {
      const [head, stored] = await Promise.all([
        done(store.get(["h", logId])) as Promise<LogHead | undefined>,
        done(store.get(["s", logId])) as Promise<LogSnapshot | undefined>,
      ]);
      if (!head) return { records: [] };
      // The snapshot the head names, if it is that one; the events after it (or all).
      const snapshot = stored?.seq === head.snapshotSeq ? stored : undefined;
      const from = ["e", logId, (snapshot?.seq ?? 0) + 1];
      const records = await done(store.getAll(IDBKeyRange.bound(from, ["e", logId, []])));
      return { head, snapshot, records };
    });
  }

  /** Reads events; see {@linkcode LogStore.events}. */
  events(logId: string, toSeq?: number): Promise<unknown[]> {
    return withEngine((io) => io.idbEvents(this.#transaction, logId, toSeq));
  }

  /** Deletes a log. */
  remove(logId: string): Promise<void> {
    return withEngine((io) => io.idbRemove(this.#transaction, logId));
  }

  /** All heads. */
  heads(): Promise<LogHead[]> {
    return this.#use(
      "readonly",
      (store) => done(store.getAll(IDBKeyRange.bound(["h"], ["h", []]))) as Promise<LogHead[]>,
    );
  }
}
