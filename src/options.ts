/**
 * The desk's options: their types, defaults and checks, and the default log store.
 *
 * @module
 */

import type { KustomerCore, KustomerInitOptions } from "./kustomer_types.ts";
import { describe, KUSTOMER_CORE_URL, realScheduler, type Scheduler } from "./common.ts";
import { IndexedDbLogStore, type LogStore, MemoryLogStore } from "./log_store.ts";

/** What the desk writes to the console (or a logger you pass). Never a token or a key. */
export interface DeskLogger {
  /** Something went wrong but the chat goes on. */
  warn(message: string): void;
}

/** A satisfaction survey Kustomer sent after the chat. */
export interface SatisfactionSurvey {
  /** The conversation. */
  readonly conversationId: string;
  /** The survey id. */
  readonly satisfactionId: string;
  /** Kustomer's form. */
  readonly form: unknown;
  /** Answers it; resolves when Kustomer accepted. */
  submit(rating: number, answers?: unknown[]): Promise<void>;
}

/** Options of {@linkcode kustomerServiceDeskFactory} and {@linkcode KustomerServiceDesk}. */
export interface KustomerServiceDeskOptions {
  /**
   * The Kustomer chat API key (role `org.tracking`, public by design). Used to load core.js when the
   * page has no `KustomerCore` and no core.js script tag.
   */
  apiKey?: string;
  /** A Kustomer Core to use instead of `globalThis.KustomerCore` (a test double, the simulator). */
  core?: KustomerCore;
  /**
   * The Core script to load with `apiKey`.
   * @default {"https://cdn.kustomerapp.com/chat-web/core.js"}
   */
  scriptUrl?: string;
  /** Passed to `KustomerCore.init` (brand, assistant, schedule, language). */
  init?: KustomerInitOptions;
  /**
   * Returns a fresh JWT for `KustomerCore.login` (signed by your server; Kustomer rejects tokens
   * older than 15 minutes), or `undefined` for an anonymous chat. Called at every login, including
   * after a reload. The token is never stored or logged.
   */
  getJwt?: () => Promise<string | undefined>;
  /**
   * The Kustomer conversation title (at most 256 characters).
   * @default {"Chat from the web assistant"}
   */
  title?: string;
  /**
   * The custom conversation attribute (system name) that carries the session-history key, read by
   * the agent's Insight Card.
   * @default {"watsonAssistantSessionHistoryStr"}
   */
  sessionHistoryAttribute?: string;
  /**
   * The first line of the first message the agent reads.
   * @default {"A customer was transferred to you from the web chat assistant."}
   */
  transferMessage?: string;
  /**
   * Returns a readable transcript of the bot conversation, added to the agent's first message
   * (essential when the host gives no session-history key, as Carbon AI Chat does).
   */
  conversationSummary?: () => string | Promise<string>;
  /**
   * Where the escalation logs live: a {@linkcode LogStore}, `"indexeddb"` or `"memory"`.
   * @default {IndexedDB when `globalThis.indexedDB` exists, else memory with a warning}
   */
  store?: LogStore | "indexeddb" | "memory";
  /**
   * How long a Kustomer call may take before it counts as lost (ms).
   * @default {15000}
   */
  timeoutMs?: number;
  /**
   * While disconnected, how often the desk tries Kustomer again (ms).
   * @default {5000}
   */
  retryIntervalMs?: number;
  /**
   * While a chat is open, how often the desk checks for messages it missed (ms); 0 turns it off.
   * @default {30000}
   */
  heartbeatMs?: number;
  /**
   * How long a finished chat's log is kept (ms): 0 deletes it at once; otherwise it is compacted
   * (no session-history key left) and deleted later.
   * @default {0}
   */
  retentionMs?: number;
  /**
   * A log not written for this long (a tab closed mid-chat) is deleted by the next sweep (ms).
   * @default {86400000}
   */
  abandonedMs?: number;
  /**
   * What `startChat` does with a chat of this tab still open from before a reload (the user was
   * waiting in the queue, so the host did not reconnect): `"resume"` it or `"end"` it.
   * @default {"resume"}
   */
  orphanedChat?: "resume" | "end";
  /**
   * A chat left queued by a reload that neither the host reconnects nor the user asks for again
   * within this time is ended in Kustomer, so no agent picks up a chat nobody is reading (ms);
   * 0 leaves it open.
   * @default {300000}
   */
  orphanTimeoutMs?: number;
  /**
   * Whether users may send files to the agent.
   * @default {true}
   */
  allowFileUploads?: boolean;
  /**
   * Shown while waiting for an agent.
   * @default {"Waiting for an agent to join."}
   */
  waitingMessage?: string;
  /** Told about satisfaction surveys. */
  onSatisfaction?: (survey: SatisfactionSurvey) => void;
  /**
   * Where warnings go.
   * @default {console}
   */
  logger?: DeskLogger;
  /**
   * The desk's name (web chat reports it; at most 40 characters).
   * @default {"kustomer"}
   */
  name?: string;
  /**
   * The clock.
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * Timers.
   * @default {globalThis.setTimeout and clearTimeout}
   */
  scheduler?: Scheduler;
}

/** The `sessionStorage` key that holds this tab's open escalation id. */
const PERSIST_KEY = "kustomer-service-desk:escalation";

/**
 * This tab's open escalation id in `sessionStorage`: reads it (no argument), saves an id, or clears
 * it (`null`). Storage may be disabled; the host's persisted state still carries the id.
 */
export function savedId(id?: string | null): string | undefined {
  try {
    const storage = globalThis.sessionStorage;
    if (id === undefined) return storage?.getItem(PERSIST_KEY) ?? undefined;
    if (id) storage?.setItem(PERSIST_KEY, id);
    else storage?.removeItem(PERSIST_KEY);
  } catch {
    // No storage: nothing to read or save.
  }
}

const DEFAULTS = {
  scriptUrl: KUSTOMER_CORE_URL,
  title: "Chat from the web assistant",
  sessionHistoryAttribute: "watsonAssistantSessionHistoryStr",
  transferMessage: "A customer was transferred to you from the web chat assistant.",
  timeoutMs: 15_000,
  retryIntervalMs: 5_000,
  heartbeatMs: 30_000,
  retentionMs: 0,
  abandonedMs: 86_400_000,
  orphanTimeoutMs: 300_000,
  waitingMessage: "Waiting for an agent to join.",
  name: "kustomer",
  now: Date.now as () => number,
  scheduler: realScheduler,
  logger: console as DeskLogger,
};

/** Options with their defaults filled in. */
export type ResolvedOptions = typeof DEFAULTS & KustomerServiceDeskOptions;

let memoryWarned = false;

/** The store the options ask for, or the default one. */
export function resolveStore(
  store: KustomerServiceDeskOptions["store"],
  logger: DeskLogger = console,
): LogStore {
  if (typeof store === "object") return store;
  if (store === "memory") return new MemoryLogStore();
  if (store === "indexeddb" || globalThis.indexedDB) return new IndexedDbLogStore();
  if (!memoryWarned) {
    memoryWarned = true;
    logger.warn(
      "Kustomer service desk: no IndexedDB (private mode?); chats are kept in memory " +
        "and will not survive a page reload.",
    );
  }
  return new MemoryLogStore();
}

/** True unless `v` is a finite number of at least 0 (above 0 when `positive`). */
export const badNumber = (v: unknown, positive?: boolean): boolean =>
  !Number.isFinite(v) || (positive ? (v as number) <= 0 : (v as number) < 0);

const isText = (v: unknown) => typeof v === "string" && !!v.trim();
const positiveMs = (v: unknown) => !badNumber(v, true);
const ms = (v: unknown) => !badNumber(v);

/**
 * Option checks: the options, a test, what the option must be, and whether a failure is a
 * RangeError (else a TypeError).
 */
// deno-lint-ignore no-explicit-any
const RULES: [string, (v: any) => boolean, string, boolean?][] = [
  ["apiKey", isText, "a non-empty string (the Kustomer chat API key)"],
  [
    "core",
    (v) => typeof v === "object" && typeof v?.init === "function",
    "a Kustomer Core object with an init() method",
  ],
  ["getJwt", (v) => typeof v === "function", "a function returning a Promise of a JWT string"],
  ["title", isText, "a non-empty string"],
  ["title", (v) => v.length <= 256, "at most 256 characters (Kustomer's limit)", true],
  [
    "sessionHistoryAttribute",
    (v) => /^[A-Za-z][A-Za-z0-9]*(Str|Txt)$/.test(v),
    "a Kustomer text attribute system name ending in Str or Txt",
  ],
  ["timeoutMs retryIntervalMs", positiveMs, "a positive number of milliseconds", true],
  [
    "heartbeatMs retentionMs abandonedMs orphanTimeoutMs",
    ms,
    "zero or a positive number of milliseconds",
    true,
  ],
  ["orphanedChat", (v) => v === "resume" || v === "end", '"resume" or "end"'],
  [
    "store",
    (v) => v === "indexeddb" || v === "memory" || typeof v?.append === "function",
    '"indexeddb", "memory" or a LogStore',
  ],
  [
    "name",
    (v) => typeof v === "string" && v.length > 0 && v.length <= 40,
    "a string of 1 to 40 characters",
    true,
  ],
];

/** Checks options and fills in the defaults. */
export function resolveOptions(options: KustomerServiceDeskOptions = {}): ResolvedOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Kustomer service desk options must be an object");
  }
  const o = options as Record<string, unknown>;
  for (const [keys, ok, what, range] of RULES) {
    for (const key of keys.split(" ")) {
      if (o[key] !== undefined && !ok(o[key])) {
        throw new (range ? RangeError : TypeError)(
          `${key} must be ${what}, got ${describe(o[key])}`,
        );
      }
    }
  }
  const resolved: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, v] of Object.entries(o)) if (v !== undefined) resolved[key] = v;
  return resolved as unknown as ResolvedOptions;
}
