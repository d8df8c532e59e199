/**
 * One escalation's append-only event log over a {@linkcode LogStore}, and its replayed state.
 *
 * Group commit: appends made while a write is in flight wait together and go in the next write,
 * one transaction however many they are. Each write carries the sequence number it expects, so a
 * stale second writer is caught. A write that fails (a full disk, a closed database) loses
 * nothing: the events stay queued in memory and go with the next write.
 *
 * Each event costs O(1): `evolve` copies no chat. Snapshots hold the control state (no
 * transcript), so a resume reads the head, the snapshot and the events after it; the transcript is
 * read from the stored message events when it is asked for.
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
  fromStored,
  initialState,
  type StoredEvent,
  storedStateProblem,
  toStored,
  type TranscriptEntry,
  transcriptEntry,
} from "./events.ts";
import {
  type LoadedLog,
  LogConflictError,
  type LogHead,
  type LogRecord,
  type LogStore,
} from "./log_store.ts";
import { errorText } from "./common.ts";

/** The head is written at least this often while events are appended (ms). */
const HEAD_EVERY_MS = 60_000;

/** Says which records were skipped (the first three reasons). */
const skippedText = (reasons: string[]): string =>
  `skipped ${reasons.length === 1 ? "a record" : `${reasons.length} records`} that cannot be ` +
  `read (${reasons.slice(0, 3).join("; ")}${reasons.length > 3 ? "; …" : ""})`;

/**
 * Loads a log. A snapshot that is not this log's state (missing, ahead of the head, or not a
 * state) is passed over, and the log is read from its events; `problem` says why.
 */
async function read(
  store: LogStore,
  id: string,
  early?: Promise<LoadedLog>,
): Promise<{ loaded: LoadedLog; problem?: string }> {
  const loaded = await (early ?? store.load(id));
  const { head, snapshot } = loaded;
  const problem = !head?.snapshotSeq
    ? undefined
    : !snapshot
    ? "is missing"
    : snapshot.seq > head.seq
    ? `is ahead of the log's last event, ${head.seq}`
    : storedStateProblem(snapshot.state);
  if (!problem) return { loaded };
  return {
    loaded: { head, records: snapshot ? await store.events(id) : loaded.records },
    problem: `its snapshot (event ${head!.snapshotSeq}) cannot be used (it ${problem}); ` +
      "read from the events instead",
  };
}

/** Options of {@linkcode SessionLog}. */
export interface SessionLogOptions {
  /** The clock. @default {Date.now} */
  now?: () => number;
  /** Told about skipped records, failed writes and conflicts. @default {console.warn} */
  warn?: (message: string) => void;
  /**
   * A snapshot of the control state is stored every this many events at least (and every
   * eighth of the chat's length in a long chat, so that its cost per event stays constant).
   * @default {64}
   */
  snapshotEvery?: number;
  /** `store.load(id)` begun already (by the desk's entry, while the engine loaded): used once. */
  loaded?: Promise<LoadedLog>;
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
  /** The transcript lines of the events after `#linesAfter` (all, when it is 0). */
  #lines!: TranscriptEntry[];
  #linesAfter!: number;
  /** The first event, while it is in memory (it may hold the session-history key). */
  #first?: StoredEvent;
  #pending: StoredEvent[] = [];
  #compact = false;
  /** When the head was last written, and whether it says the chat ended. */
  #headAt = -Infinity;
  #headEnded = false;
  #scheduled?: Promise<void>;
  #chain: Promise<void> = Promise.resolve();
  #removed = false;
  #failing = false;

  private constructor(
    store: LogStore,
    id: string,
    options: SessionLogOptions,
    loaded: LoadedLog = { records: [] },
    snapshotProblem?: string,
  ) {
    this.id = id;
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#warn = options.warn ?? ((message) => console.warn(message));
    this.#snapshotEvery = options.snapshotEvery ?? 64;
    this.#createdAt = loaded.head?.createdAt ?? this.#now();
    this.#load(loaded, snapshotProblem);
  }

  /** A new, empty log (nothing is written until the first append). */
  static create(store: LogStore, id: string, options: SessionLogOptions = {}): SessionLog {
    return new SessionLog(store, id, options);
  }

  /**
   * Opens a stored log and replays it from its snapshot; `undefined` when there is none. A record
   * that does not decode is skipped with a warning.
   */
  static async open(
    store: LogStore,
    id: string,
    options: SessionLogOptions = {},
  ): Promise<SessionLog | undefined> {
    const { loaded, problem } = await read(store, id, options.loaded);
    return loaded.head && new SessionLog(store, id, options, loaded, problem);
  }

  /**
   * Takes the stored state: the snapshot, then the records after it. What does not read — a
   * snapshot (see {@linkcode SessionLog.open}), records that do not decode or are out of sequence,
   * events the head counts that are not there — is left out, and said in one warning: the chat
   * goes on with the rest. Events after the head's count are the log's newest (the head is not
   * written with every event).
   */
  #load({ head, snapshot, records, end: stored }: LoadedLog, snapshotProblem?: string): void {
    const problems = snapshotProblem ? [snapshotProblem] : [];
    const headSeq = head?.seq ?? 0;
    this.#state = snapshot ? fromStored(snapshot.state) : initialState();
    this.#lines = [];
    // The head is written now and then, not with every event: the last record says where the
    // log ends.
    const end = stored ?? (records.at(-1) as { seq?: unknown } | undefined)?.seq;
    this.#seq = this.#durableSeq = Math.floor(Math.max(headSeq, typeof end === "number" ? end : 0));
    this.#headAt = head?.updatedAt ?? -Infinity;
    this.#headEnded = head?.endedAt !== undefined;
    this.#snapshotSeq = this.#linesAfter = snapshot?.seq ?? 0;
    let last = this.#snapshotSeq;
    const skipped: string[] = [];
    for (const record of records) {
      try {
        const event = decodeEvent(record);
        if (event.seq <= last) {
          throw new EventDecodeError(`event ${event.seq} is out of sequence`);
        }
        this.#apply(event);
        last = event.seq;
      } catch (error) {
        skipped.push(errorText(error));
      }
    }
    if (skipped.length) problems.push(skippedText(skipped));
    else if (last < headSeq) problems.push(`events ${last + 1}–${headSeq} are missing`);
    if (problems.length) {
      this.#warn(`Chat log ${this.id}: ${problems.join("; ")}. The chat goes on without them.`);
    }
  }

  /** The records that decode, as events; the others skipped with one warning. */
  #decode(records: readonly unknown[]): StoredEvent[] {
    const skipped: string[] = [];
    const events = records.flatMap((record) => {
      try {
        return [decodeEvent(record)];
      } catch (error) {
        skipped.push(errorText(error));
        return [];
      }
    });
    if (skipped.length) this.#warn(`Chat log ${this.id}: ${skippedText(skipped)}.`);
    return events;
  }

  /** Applies an event to the state (and the transcript). */
  #apply(event: StoredEvent): void {
    const line = transcriptEntry(this.#state, event);
    if (line) this.#lines.push(line);
    if (event.seq === 1) this.#first = event;
    this.#state = evolve(this.#state, event);
  }

  /** The replayed state. */
  get state(): DeskState {
    return this.#state;
  }

  /**
   * The agent chat this log has replayed or recorded in this page: the whole chat for a new log,
   * the part after the snapshot for an opened one (see {@linkcode SessionLog.readTranscript}).
   */
  get transcript(): readonly TranscriptEntry[] {
    return this.#lines;
  }

  /** The whole agent chat: reads the stored events the snapshot covers, once, when needed. */
  async readTranscript(): Promise<readonly TranscriptEntry[]> {
    const after = this.#linesAfter;
    if (after > 0) {
      const records = await this.#store.events(this.id, after);
      if (this.#linesAfter === after) {
        const lines: TranscriptEntry[] = [];
        let state = initialState();
        for (const event of this.#decode(records)) {
          const line = transcriptEntry(state, event);
          if (line) lines.push(line);
          state = evolve(state, event);
        }
        this.#lines.unshift(...lines);
        this.#linesAfter = 0;
      }
    }
    return this.#lines;
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
    this.#apply(event);
    this.#pending.push(event);
  }

  /**
   * Records events: the state advances at once; the promise settles once they are stored, or once
   * storing them failed (reported through `warn`, and retried with the next append). It never
   * rejects. Appends made while a write is in flight go together in the next one.
   */
  append(...events: EventInput[]): Promise<void> {
    events.forEach((event) => this.#add(event));
    if (this.#removed) {
      this.#pending = [];
      return Promise.resolve();
    }
    return this.#schedule();
  }

  /** The next write: the one waiting to start, or a new one after the one in flight. */
  #schedule(): Promise<void> {
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
    const compact = this.#compact;
    if ((!batch.length && !compact) || this.#removed) return;
    this.#pending = [];
    this.#compact = false;
    const last = this.#seq;
    const state = this.#state;
    const prune = compact && state.status === "ended";
    const snapshot = compact ||
        last - this.#snapshotSeq >= Math.max(this.#snapshotEvery, state.seen.size >> 3)
      ? { seq: last, state: toStored(state) }
      : undefined;
    let records: LogRecord[] = batch;
    let replace: LogRecord[] = [];
    let scrubbed: StoredEvent | undefined;
    if (compact && !prune && !state.historyKey) {
      // The key is on the conversation: drop it from the stored first event.
      const first = this.#first ??
        this.#decode(await this.#store.events(this.id, 1).catch(() => []))[0];
      if (first?.type === "escalation_started" && first.data.historyKey !== undefined) {
        const { historyKey: _, ...data } = first.data;
        const clean = scrubbed = { ...first, data };
        if (first.seq > this.#durableSeq) records = batch.map((e) => e === first ? clean : e);
        else replace = [clean];
      }
    }
    // The head goes with a new log, a snapshot, the end, and at least once a minute (for the
    // sweep of abandoned logs); other writes are the events alone.
    const ended = state.status === "ended";
    const head = !this.#durableSeq || snapshot || (ended && !this.#headEnded) ||
        this.#now() - this.#headAt >= HEAD_EVERY_MS
      ? this.#head(last, snapshot?.seq ?? this.#snapshotSeq)
      : undefined;
    try {
      await this.#store.write(this.id, {
        expectedSeq: this.#durableSeq,
        records,
        head,
        snapshot,
        replace,
        prune,
      });
      if (head) [this.#headAt, this.#headEnded] = [head.updatedAt, ended];
      this.#durableSeq = last;
      if (snapshot) this.#snapshotSeq = last;
      if (scrubbed) this.#first = scrubbed;
      if (this.#failing) {
        this.#failing = false;
        this.#warn(`Chat log ${this.id}: saved again; nothing was lost.`);
      }
    } catch (error) {
      this.#compact ||= compact;
      if (error instanceof LogConflictError && !retried) {
        const { loaded, problem } = await read(this.#store, this.id);
        if (!loaded.head) {
          // The log was deleted under this page (site data cleared in another tab): write it
          // again from memory, as a snapshot of the state and the events not yet stored.
          this.#warn(
            `Chat log ${this.id} was deleted (site data cleared?); writing it again from memory.`,
          );
          this.#pending = [...batch, ...this.#pending];
          this.#durableSeq = this.#snapshotSeq = 0;
          this.#compact = true;
          return this.#flush(true);
        }
        // Another writer appended: take its events, then put ours after them.
        this.#warn(`Chat log ${this.id}: ${error.message}. Merging and writing again.`);
        const mine = [...batch, ...this.#pending];
        this.#pending = [];
        this.#load(loaded, problem);
        // The store says where the log ends, records that cannot be read included.
        this.#seq = this.#durableSeq = Math.max(this.#seq, error.actualSeq);
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
   * Drops from storage what the log no longer needs, with the next write (it settles as
   * {@linkcode SessionLog.append} does): once the session-history key is on the conversation, the
   * key; once the chat ended, every event (a snapshot of the state stays).
   */
  compact(): Promise<void> {
    if (this.#removed) return Promise.resolve();
    this.#compact = true;
    return this.#schedule();
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
