/**
 * The log fuzzer: a chat's stored log is damaged between two pages (random bytes, truncated
 * records, records from a future version, a head whose sequence is ahead of its events, a snapshot
 * that disagrees with the events), and a fresh page resumes the chat over it through the public
 * desk. The damage must be skipped or repaired with one clear warning, and the chat must go on.
 */

import {
  type KustomerServiceDesk,
  kustomerServiceDeskFactory,
  loadChatHistory,
  type LoadedLog,
  LogConflictError,
  type LogHead,
  type LogSnapshot,
  type LogStore,
  type LogWrite,
  MemoryLogStore,
} from "../../mod.ts";
import { SimulatedKustomerCore } from "../../simulator.ts";
import { CheckedHost, ManualClock, watchUnhandled } from "./checked_host.ts";
import { HostileCore } from "./hostile_core.ts";
import { Rng } from "./rng.ts";

/** Ways a stored log gets damaged. */
export type Damage =
  | "random bytes"
  | "truncated record"
  | "future version"
  | "head ahead"
  | "snapshot disagrees";

/** Every kind of damage. */
export const DAMAGES: readonly Damage[] = [
  "random bytes",
  "truncated record",
  "future version",
  "head ahead",
  "snapshot disagrees",
];

/**
 * A log store that keeps whatever it is given, damage included (a `MemoryLogStore` refuses a record
 * that is not an object): what a disk or a foreign writer could leave in IndexedDB.
 */
export class RawLogStore implements LogStore {
  #logs = new Map<string, { head: LogHead; snapshot?: LogSnapshot; records: unknown[] }>();

  /** Puts a log as it is. */
  put(logId: string, loaded: LoadedLog): void {
    this.#logs.set(logId, {
      head: loaded.head!,
      snapshot: loaded.snapshot,
      records: [...loaded.records],
    });
  }

  write(logId: string, write: LogWrite): Promise<void> {
    const { expectedSeq, records, head, snapshot, replace = [], prune } = write;
    const log = this.#logs.get(logId);
    const actual = log ? this.#end(log) : 0;
    if (actual !== expectedSeq) {
      return Promise.reject(new LogConflictError(logId, expectedSeq, actual));
    }
    const seqOf = (r: unknown) => (r as { seq?: unknown })?.seq;
    const replaced = new Set(replace.map((r) => r.seq));
    let kept = [
      ...(log?.records ?? []).filter((r) => !replaced.has(seqOf(r) as number)),
      ...structuredClone([...replace, ...records]),
    ];
    if (prune && snapshot) kept = kept.filter((r) => !((seqOf(r) as number) <= snapshot.seq));
    this.#logs.set(logId, {
      head: head ? structuredClone(head) : log!.head,
      snapshot: structuredClone(snapshot) ?? log?.snapshot,
      records: kept,
    });
    return Promise.resolve();
  }

  /** As the real stores: the head is not written with every event; the last event ends the log. */
  #end(log: { head: LogHead; records: unknown[] }): number {
    const last = log.records.map((r) => (r as { seq?: unknown })?.seq)
      .filter((seq): seq is number => typeof seq === "number").at(-1) ?? 0;
    return Math.floor(Math.max(log.head.seq, last));
  }

  load(logId: string): Promise<LoadedLog> {
    const log = this.#logs.get(logId);
    if (!log) return Promise.resolve({ records: [] });
    // As the real stores: the snapshot the head names, and the records after it.
    const snapshot = log.snapshot?.seq === log.head.snapshotSeq ? log.snapshot : undefined;
    const from = snapshot?.seq ?? 0;
    const after = (r: unknown) => !(((r as { seq?: unknown })?.seq as number) <= from);
    return Promise.resolve(
      structuredClone({
        head: log.head,
        snapshot,
        records: log.records.filter(after),
        end: this.#end(log),
      }),
    );
  }

  events(logId: string, toSeq = Infinity): Promise<unknown[]> {
    const records = this.#logs.get(logId)?.records ?? [];
    return Promise.resolve(
      structuredClone(records.filter((r) => !(((r as { seq?: unknown })?.seq as number) > toSeq))),
    );
  }

  remove(logId: string): Promise<void> {
    this.#logs.delete(logId);
    return Promise.resolve();
  }

  heads(): Promise<LogHead[]> {
    return Promise.resolve([...this.#logs.values()].map((log) => structuredClone(log.head)));
  }
}

/** Random bytes as a stored value might hold them. */
function bytes(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => new Uint8Array(Array.from({ length: rng.range(0, 64) }, () => rng.int(256))),
    () => String.fromCharCode(...Array.from({ length: rng.range(0, 64) }, () => rng.int(0xffff))),
    () => rng.next() * 1e9,
    () => null,
    () => undefined,
    () => [rng.int(9), "x"],
  ])();
}

/** A record cut short: its JSON cut at a random place, or fields dropped. */
function truncate(rng: Rng, record: unknown): unknown {
  if (typeof record !== "object" || record === null) return record;
  const json = JSON.stringify(record);
  if (rng.chance(0.5)) {
    const cut = json.slice(0, rng.range(1, json.length - 1));
    try {
      return JSON.parse(cut);
    } catch {
      return cut;
    }
  }
  const copy = structuredClone(record) as Record<string, unknown>;
  const data = copy.data as Record<string, unknown> | undefined;
  const target = rng.chance(0.5) && data && Object.keys(data).length ? data : copy;
  delete target[rng.pick(Object.keys(target))];
  return copy;
}

/**
 * Damages a loaded log. Only records after the first three (the start, the conversation, its
 * opening) are touched: without those there is no chat to go on with.
 */
export function damage(
  rng: Rng,
  kind: Damage,
  loaded: LoadedLog,
  liveState: object | undefined,
): LoadedLog {
  const records = [...loaded.records] as Record<string, unknown>[];
  const firstDamageable = records.findIndex((r) => (r?.seq as number) > 3);
  const index = () => firstDamageable + rng.int(records.length - firstDamageable);
  const many = () => rng.range(1, Math.max(1, records.length - firstDamageable));
  switch (kind) {
    case "random bytes":
      for (let k = many(); k > 0; k--) records[index()] = bytes(rng) as never;
      return { ...loaded, records };
    case "truncated record":
      for (let k = many(); k > 0; k--) {
        const i = index();
        records[i] = truncate(rng, records[i]) as never;
      }
      return { ...loaded, records };
    case "future version": {
      const i = index();
      const future = { ...records[i], v: 2, type: rng.pick(["hologram_sent", records[i].type]) };
      if (rng.chance(0.5)) records[i] = future;
      else records.splice(i + 1, 0, { ...future, seq: (records[i].seq as number) + 0.5 });
      return { ...loaded, records };
    }
    case "head ahead": {
      // The last events never made it, but the head says they did (the head is not written
      // with every event: it counts from the log's end).
      const missing = rng.range(1, 5);
      const drop = rng.int(Math.min(2, records.length - firstDamageable) + 1);
      const end = Math.max(loaded.head!.seq, loaded.end ?? 0);
      return {
        ...loaded,
        head: { ...loaded.head!, seq: end + missing },
        records: records.slice(0, records.length - drop),
      };
    }
    case "snapshot disagrees": {
      // A snapshot that is not the state of these events (not a state at all, a state with
      // fields of the wrong type, or one from ahead of the head), over events that are all there.
      const head = loaded.head!;
      const state = { ...(liveState ?? {}), seen: [] } as Record<string, unknown>;
      const variant = rng.int(3);
      if (variant === 0) {
        const garbage = rng.pick([null, {}, "state", 7, [], { status: 5 }, { status: "warp" }]);
        const seq = rng.range(1, head.seq);
        return {
          head: { ...head, snapshotSeq: seq },
          snapshot: { seq, state: garbage } as never,
          records,
        };
      }
      if (variant === 1) {
        for (const key of ["pending", "seen", "agent", "opened", "satisfactionIds", "status"]) {
          if (rng.chance(0.4)) state[key] = rng.pick([null, 5, "none", {}, [null, 3]]);
        }
        state.conversationId = rng.pick([5, {}, state.conversationId]);
        const seq = rng.range(1, head.seq);
        return { head: { ...head, snapshotSeq: seq }, snapshot: { seq, state } as never, records };
      }
      const seq = head.seq + rng.range(1, 4);
      return {
        head: { ...head, snapshotSeq: seq },
        snapshot: { seq, state: { ...state, status: "ended" } } as never,
        records,
      };
    }
  }
}

/** What one log case found. */
export interface LogCaseResult {
  readonly seed: number;
  readonly kind: Damage;
  readonly problems: string[];
  readonly warnings: string[];
}

/** A chat, damaged between two pages, resumed by a fresh page. */
export async function runLogCase(seed: number, kind?: Damage): Promise<LogCaseResult> {
  kind ??= new Rng(seed).pick(DAMAGES);
  try {
    return await logCase(seed, kind);
  } catch (error) {
    const problem = `the case threw: ${String((error as Error)?.stack ?? error)}`;
    return { seed, kind, problems: [problem], warnings: [] };
  }
}

async function logCase(seed: number, kind: Damage): Promise<LogCaseResult> {
  const rng = new Rng(seed);
  rng.next();
  const problems: string[] = [];
  const unhandled = watchUnhandled();
  const clock = new ManualClock();
  const sim = new SimulatedKustomerCore({ now: clock.now, scheduler: clock, objectUrls: false });
  const inner = new MemoryLogStore();
  const options = {
    now: clock.now,
    scheduler: clock,
    heartbeatMs: 0,
    orphanTimeoutMs: 0,
    timeoutMs: 1_000,
  };
  // The first page: a chat with some messages both ways.
  const page1 = new HostileCore(sim, rng);
  const host1 = new CheckedHost();
  const desk1 = kustomerServiceDeskFactory({ ...options, core: page1.core, store: inner })({
    callback: host1.callback,
  }) as KustomerServiceDesk;
  await clock.drive(
    desk1.startChat({ output: { generic: [{ response_type: "connect_to_agent" }] } }),
  );
  const conversationId = desk1.state!.conversationId!;
  const escalationId = host1.state.escalationId as string;
  const agentIds: string[] = [];
  const userTexts: string[] = [];
  for (let i = rng.range(2, 8); i > 0; i--) {
    if (rng.chance(0.5)) agentIds.push(sim.agentSend(conversationId, `agent ${i}`).messageId);
    else {
      const text = `user ${i}`;
      userTexts.push(text);
      await clock.drive(desk1.sendMessageToAgent({ id: `u-${i}`, input: { text } }, `u-${i}`));
    }
    await clock.settle();
  }
  page1.unload();

  // The log is damaged while no page is open; a new page resumes over it.
  const store = new RawLogStore();
  store.put(escalationId, damage(rng, kind, await inner.load(escalationId), desk1.state));
  const warnings: string[] = [];
  const page2 = new HostileCore(sim, rng);
  const host2 = new CheckedHost();
  host2.state = { escalationId };
  const desk2 = kustomerServiceDeskFactory({
    ...options,
    core: page2.core,
    store,
    logger: { warn: (m) => void warnings.push(m) },
  })({ callback: host2.callback, persistedState: { escalationId } }) as KustomerServiceDesk;
  const resumed = await clock.drive(desk2.reconnect!());
  if (resumed.rejected || resumed.value !== true) {
    problems.push(`the chat did not go on: ${String(resumed.error ?? resumed.value)}`);
  }
  const about = warnings.filter((w) => /chat log/i.test(w));
  if (about.length !== 1) {
    problems.push(`${about.length} warnings about the log, expected one: ${JSON.stringify(about)}`);
  }
  // The chat goes on: both ways, each message once.
  if (desk2.state?.status === "waiting" || desk2.state?.status === "connected") {
    const after = sim.agentSend(conversationId, "after the damage").messageId;
    await clock.settle();
    const sent = await clock.drive(
      desk2.sendMessageToAgent({ id: "u-after", input: { text: "user after" } }, "u-after"),
    );
    if (sent.rejected) problems.push(`a user message failed: ${String(sent.error)}`);
    const shown = host2.shownIds();
    if (shown.filter((id) => id === after).length !== 1) {
      problems.push(
        `the agent message after the damage was shown ${
          shown.filter((id) => id === after).length
        } times`,
      );
    }
    for (const id of new Set(shown)) {
      if (shown.filter((s) => s === id).length > 1) problems.push(`${id} shown twice`);
    }
    // Every agent message is in the chat's transcript once (lost records come back from Kustomer).
    await clock.settle();
    // loadChatHistory warns on the console about the damage (said once already by the desk).
    const warn = console.warn;
    console.warn = () => {};
    const history = await loadChatHistory({ store, escalationId }).finally(() => {
      console.warn = warn;
    });
    const transcript = history.map((h) => (h.message as { id?: string }).id);
    for (const id of [...agentIds, after]) {
      const times = transcript.filter((t) => t === id).length;
      if (times !== 1) problems.push(`agent message ${id} is ${times} times in the transcript`);
    }
    const bodies = sim.messagesOf(conversationId).filter((m) => m.direction === "in").map((m) =>
      m.body
    );
    for (const text of [...userTexts, "user after"]) {
      const times = bodies.filter((b) => b === text).length;
      if (times !== 1) problems.push(`user message "${text}" reached Kustomer ${times} times`);
    }
    const ended = await clock.drive(desk2.endChat());
    if (ended.rejected) problems.push(`endChat failed: ${String(ended.error)}`);
  }
  await clock.settle();
  problems.push(...host2.violations, ...page2.crashes, ...clock.thrown, ...unhandled.take());
  page2.unload();
  sim.dispose();
  return { seed, kind, problems, warnings };
}
