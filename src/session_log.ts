/**
 * One escalation's append-only event log over a {@linkcode LogStore}, and its replayed state.
 *
 * Appends made in the same task are written together in one transaction; each write carries the
 * sequence number it expects, so a stale second writer is caught. A write that fails (a full disk,
 * a closed database) loses nothing: the events stay queued in memory and go with the next write.
 *
 * @module
 */

import {
  decodeEvent,
  type DeskState,
  EVENT_VERSION,
  EventDecodeError,
  type EventInput,
  evolve,
  initialState,
  repairState,
  type StoredEvent,
} from "./events.ts";
import { type LoadedLog, LogConflictError, type LogHead, type LogStore } from "./log_store.ts";
import { errorText } from "./common.ts";

/** Options of {@linkcode SessionLog}. */
export interface SessionLogOptions {
  /** The clock. @default {Date.now} */
  now?: () => number;
  /** Told about skipped records, failed writes and conflicts. @default {console.warn} */
  warn?: (message: string) => void;
  /** A snapshot of the state is stored every this many events. @default {64} */
  snapshotEvery?: number;
}

/** An escalation's log: the state is always the replay of its events. */
export class SessionLog {
  /** The log (escalation) id. */
  readonly id: string;
  #store: LogStore;
  #now: () => number;
  #warn: (message: string) => void;
  #snapshotEvery: number;
  #createdAt: number;
  #state!: DeskState;
  #seq!: number;
  #durableSeq!: number;
  #snapshotSeq!: number;
  #pending: StoredEvent[] = [];
  #scheduled?: Promise<void>;
  #chain: Promise<void> = Promise.resolve();
  #removed = false;
  #failing = false;

  private constructor(
    store: LogStore,
    id: string,
    options: SessionLogOptions,
    loaded: LoadedLog = { records: [] },
  ) {
    this.id = id;
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#warn = options.warn ?? ((message) => console.warn(message));
    this.#snapshotEvery = options.snapshotEvery ?? 64;
    this.#createdAt = loaded.head?.createdAt ?? this.#now();
    this.#load(loaded);
  }

  /** A new, empty log (nothing is written until the first append). */
  static create(store: LogStore, id: string, options: SessionLogOptions = {}): SessionLog {
    return new SessionLog(store, id, options);
  }

  /**
   * Opens a stored log and replays it; `undefined` when there is none. A record that does not
   * decode is skipped with a warning.
   */
  static async open(
    store: LogStore,
    id: string,
    options: SessionLogOptions = {},
  ): Promise<SessionLog | undefined> {
    const loaded = await store.load(id);
    return loaded.head && new SessionLog(store, id, options, loaded);
  }

  /**
   * Takes the stored state: the snapshot, then the records after it. What does not read is left
   * out — records that do not decode or are out of sequence, a snapshot that is not a state (or
   * its fields of the wrong type), events the head counts but the log lacks — and said in one
   * warning: the chat goes on with the rest.
   */
  #load({ head, snapshot, records }: LoadedLog): void {
    const problems: string[] = [];
    const headSeq = head?.seq ?? 0;
    let state = initialState();
    let last = 0;
    if (head?.snapshotSeq && !snapshot) {
      problems.push(`its snapshot (event ${head.snapshotSeq}) cannot be read`);
    }
    if (snapshot) {
      const repaired = snapshot.seq <= headSeq ? repairState(snapshot.state) : undefined;
      if (!repaired) problems.push(`its snapshot (event ${snapshot.seq}) cannot be read`);
      else {
        if (repaired.dropped.length) {
          problems.push(`its snapshot had unreadable ${repaired.dropped.join(", ")}`);
        }
        state = repaired.state;
        last = snapshot.seq;
      }
    }
    const skipped: string[] = [];
    for (const record of records) {
      try {
        const event = decodeEvent(record);
        if (event.seq <= last || event.seq > headSeq) {
          throw new EventDecodeError(`event ${event.seq} is out of sequence`);
        }
        state = evolve(state, event);
        last = event.seq;
      } catch (error) {
        skipped.push(errorText(error));
      }
    }
    if (skipped.length) {
      problems.push(
        `skipped ${
          skipped.length === 1 ? "a record" : `${skipped.length} records`
        } that cannot be read (${skipped.slice(0, 3).join("; ")}${
          skipped.length > 3 ? "; …" : ""
        })`,
      );
    }
    if (last < headSeq && !skipped.length) {
      problems.push(`events ${last + 1}–${headSeq} are missing`);
    }
    if (problems.length) {
      this.#warn(`Chat log ${this.id}: ${problems.join("; ")}. The chat goes on without them.`);
    }
    this.#state = state;
    this.#seq = this.#durableSeq = headSeq;
    this.#snapshotSeq = snapshot?.seq ?? 0;
  }

  /** The replayed state. */
  get state(): DeskState {
    return this.#state;
  }

  /** The sequence number of the last event appended. */
  get seq(): number {
    return this.#seq;
  }

  /** How many appended events are not yet in storage. */
  get unsaved(): number {
    return this.#seq - this.#durableSeq;
  }

  /** Numbers, times and applies an event, and queues it for the next write. */
  #add(input: EventInput & { at?: number }): void {
    const event = {
      ...input,
      v: EVENT_VERSION,
      seq: ++this.#seq,
      at: input.at ?? this.#now(),
    } as StoredEvent;
    this.#state = evolve(this.#state, event);
    this.#pending.push(event);
  }

  /**
   * Records events: the state advances at once; the promise settles once they are stored, or once
   * storing them failed (reported through `warn`, and retried with the next append). It never rejects.
   */
  append(...events: EventInput[]): Promise<void> {
    events.forEach((event) => this.#add(event));
    if (this.#removed) {
      this.#pending = [];
      return Promise.resolve();
    }
    return this.#scheduled ??= this.#chain = this.#chain.then(() => {
      this.#scheduled = undefined;
      return this.#flush();
    });
  }

  /** Waits until every write started so far has settled. */
  settled(): Promise<void> {
    return this.#chain;
  }

  async #flush(retried?: boolean): Promise<void> {
    const batch = this.#pending;
    if (!batch.length || this.#removed) return;
    this.#pending = [];
    const last = batch[batch.length - 1].seq;
    const snapshot = last - this.#snapshotSeq >= this.#snapshotEvery
      ? { seq: last, state: this.#state }
      : undefined;
    try {
      await this.#store.append(
        this.id,
        this.#durableSeq,
        batch,
        this.#head(last, snapshot?.seq ?? this.#snapshotSeq),
        snapshot,
      );
      this.#durableSeq = last;
      if (snapshot) this.#snapshotSeq = last;
      if (this.#failing) {
        this.#failing = false;
        this.#warn(`Chat log ${this.id}: saved again; nothing was lost.`);
      }
    } catch (error) {
      if (error instanceof LogConflictError && !retried) {
        // Another writer appended: take its events, then put ours after them.
        this.#warn(`Chat log ${this.id}: ${error.message}. Merging and writing again.`);
        const loaded = await this.#store.load(this.id);
        const mine = [...batch, ...this.#pending];
        this.#pending = [];
        this.#load(loaded);
        mine.forEach((event) => this.#add(event));
        return this.#flush(true);
      }
      this.#pending = [...batch, ...this.#pending];
      if (!this.#failing) {
        this.#failing = true;
        this.#warn(
          `Chat log ${this.id}: could not save ${this.unsaved} event(s) (${errorText(error)}); ` +
            "retrying with the next event (a reload now would lose them).",
        );
      }
    }
  }

  #head(seq: number, snapshotSeq: number): LogHead {
    const now = this.#now();
    return {
      v: 1,
      id: this.id,
      seq,
      createdAt: this.#createdAt,
      updatedAt: now,
      ...(this.#state.status === "ended" ? { endedAt: now } : {}),
      ...(snapshotSeq > 0 ? { snapshotSeq } : {}),
    };
  }

  /**
   * Keeps only a snapshot of the current state (which holds no secret once the chat ended) and
   * deletes the events, so the session-history key leaves storage.
   */
  async compact(): Promise<void> {
    await this.settled();
    if (this.#removed || this.unsaved > 0) return;
    const seq = this.#seq;
    await this.#store.compact(this.id, this.#head(seq, seq), { seq, state: this.#state });
    this.#snapshotSeq = seq;
  }

  /** Deletes the log from storage; later appends only change the state in memory. */
  async remove(): Promise<void> {
    await this.settled();
    this.#removed = true;
    this.#pending = [];
    await this.#store.remove(this.id);
  }
}

/**
 * Deletes the logs of chats that ended more than `retentionMs` ago, and of chats left untouched
 * for `abandonedMs` (a closed tab). Returns the ids deleted.
 */
export async function sweepLogs(
  store: LogStore,
  options: { now: number; retentionMs: number; abandonedMs: number; keep?: string },
): Promise<string[]> {
  const removed: string[] = [];
  for (const head of await store.heads()) {
    if (head.id === options.keep) continue;
    const expired = head.endedAt !== undefined
      ? options.now - head.endedAt >= options.retentionMs
      : options.now - head.updatedAt >= options.abandonedMs;
    if (expired) {
      await store.remove(head.id);
      removed.push(head.id);
    }
  }
  return removed;
}
