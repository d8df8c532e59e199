/**
 * The desk's options: their types, defaults and checks, and the default log store.
 *
 * @module
 */

import type { KustomerCore, KustomerInitOptions } from "./kustomer_types.ts";
import { describe, realScheduler, type Scheduler } from "./common.ts";
import type { ChatDefaults } from "./engine/defaults.ts";
import { isObject } from "./host_checks.ts";
import { IndexedDbLogStore, type LogStore, MemoryLogStore } from "./log_store.ts";
import type { OutboxStorage } from "./outbox.ts";

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
   * The durability of the log's IndexedDB writes. `"strict"` has each write flushed to disk before
   * it counts as stored, so a browser or OS crash loses no event already shown (a page reload
   * loses none either way); each write then costs a disk flush.
   * @default {"default"}
   */
  durability?: "default" | "strict";
  /**
   * The Web Locks the pages of the site share: a live page holds the lock named after its
   * escalation, so a chat whose tab was closed can be taken up by the next page that asks for an
   * agent (or ended by one page after `orphanTimeoutMs`), and two live tabs never write each
   * other's log. `false` turns this off.
   * @default {`navigator.locks` in a browser page, else off}
   */
  locks?: DeskLocks | false;
  /**
   * Where each user message is kept, synchronously, the moment the host hands it over, until the
   * chat log has it: a page reloaded or closed before the log's write landed loses nothing (the
   * next page sends it once). Web Storage or the like; `false` turns this off. A storage that
   * throws (disabled, full) only costs that guarantee, with one warning.
   * @default {`localStorage` in a browser page, else off}
   */
  outbox?: OutboxStorage | false;
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

/** The defaults of what the desk reads before a chat; the engine adds {@linkcode ChatDefaults}. */
const DEFAULTS = {
  retryIntervalMs: 5_000,
  orphanTimeoutMs: 300_000,
  name: "kustomer",
  now: Date.now as () => number,
  scheduler: realScheduler,
  logger: console as DeskLogger,
};

/**
 * The part of the Web Locks API (`navigator.locks`) the desk uses: a lock asked for with
 * `ifAvailable` is granted (the callback gets a lock, held until its promise settles) or not (the
 * callback gets `null`); `query` lists the locks held.
 */
export interface DeskLocks {
  /** Asks for the lock `name`; `callback` runs with the lock, or `null` when it is taken. */
  request(
    name: string,
    options: { ifAvailable: true },
    callback: (lock: unknown) => unknown,
  ): Promise<unknown>;
  /** The locks held (and waited for) now. */
  query?(): Promise<{ held?: readonly { name?: string }[] }>;
}

/** The name of the lock a live page holds for its escalation. */
export const lockName = (escalationId: string): string => `kustomer-service-desk:${escalationId}`;

/** The locks of the options: the given ones, `navigator.locks` in a page, or none. */
export function resolveLocks(locks: DeskLocks | false | undefined): DeskLocks | undefined {
  if (locks === false) return undefined;
  const g = globalThis as { document?: unknown; navigator?: { locks?: DeskLocks } };
  return locks ?? (g.document ? g.navigator?.locks : undefined);
}

/** Options with the defaults of what the desk reads before a chat filled in. */
export type DeskOptions = typeof DEFAULTS & KustomerServiceDeskOptions;

/** Options with every default filled in (the engine's: {@linkcode chatOptions}). */
export type ResolvedOptions = DeskOptions & ChatDefaults;

let memoryWarned = false;

/** The store the options ask for, or the default one. */
export function resolveStore(
  store: KustomerServiceDeskOptions["store"],
  logger: DeskLogger = console,
  durability?: KustomerServiceDeskOptions["durability"],
): LogStore {
  if (typeof store === "object") return store;
  if (store === "memory") return new MemoryLogStore();
  if (store === "indexeddb" || globalThis.indexedDB) return new IndexedDbLogStore({ durability });
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
const isFunction = (v: unknown) => typeof v === "function";

/** A check: a test, what the option must be, and whether a failure is a RangeError. */
// deno-lint-ignore no-explicit-any
type Rule = readonly [test: (v: any) => boolean, what: string, range?: true];

const TEXT: Rule = [isText, "a non-empty string"];
const FUNCTION: Rule = [isFunction, "a function"];
const MILLISECONDS: Rule[] = [
  [(v) => typeof v === "number", "a number of milliseconds"],
  [(v) => !badNumber(v), "zero or a positive number of milliseconds", true],
];
const POSITIVE_MILLISECONDS: Rule[] = [
  MILLISECONDS[0],
  [(v) => !badNumber(v, true), "a positive number of milliseconds", true],
];

/**
 * Every option and its checks, in order (a TypeError for the type comes before a RangeError for
 * the range). An option missing here is a type error; a key not here is an unknown option.
 */
const RULES: { readonly [K in keyof Required<KustomerServiceDeskOptions>]: readonly Rule[] } = {
  apiKey: [TEXT],
  core: [[
    (v) => isObject(v) && isFunction(v.init),
    "a Kustomer Core object",
  ]],
  scriptUrl: [TEXT],
  init: [[
    (v) =>
      isObject(v) &&
      ["brandId", "assistantId", "scheduleId", "lang"].every((k) =>
        v[k] === undefined || isText(v[k])
      ),
    "an object whose brandId, assistantId, scheduleId and lang are strings",
  ]],
  getJwt: [FUNCTION],
  title: [TEXT, [(v) => v.length <= 256, "at most 256 characters", true]],
  sessionHistoryAttribute: [[
    (v) => /^[A-Za-z][A-Za-z0-9]*(Str|Txt)$/.test(v),
    "a Kustomer text attribute system name ending in Str or Txt",
  ]],
  transferMessage: [TEXT],
  conversationSummary: [FUNCTION],
  store: [[
    (v) => v === "indexeddb" || v === "memory" || isFunction(v?.write),
    '"indexeddb", "memory" or a LogStore',
  ]],
  durability: [[(v) => v === "default" || v === "strict", '"default" or "strict"']],
  locks: [[
    (v) => v === false || isFunction(v?.request),
    "false or a LockManager (navigator.locks)",
  ]],
  outbox: [[(v) => v === false || isFunction(v?.setItem), "false or a Storage"]],
  timeoutMs: POSITIVE_MILLISECONDS,
  retryIntervalMs: POSITIVE_MILLISECONDS,
  heartbeatMs: MILLISECONDS,
  retentionMs: MILLISECONDS,
  abandonedMs: MILLISECONDS,
  orphanedChat: [[(v) => v === "resume" || v === "end", '"resume" or "end"']],
  orphanTimeoutMs: MILLISECONDS,
  allowFileUploads: [[(v) => typeof v === "boolean", "true or false"]],
  waitingMessage: [TEXT],
  onSatisfaction: [FUNCTION],
  logger: [[(v) => isFunction(v?.warn), "an object with a warn method"]],
  name: [
    [(v) => typeof v === "string", "a string"],
    [(v) => v.length > 0 && v.length <= 40, "a string of 1 to 40 characters", true],
  ],
  now: [FUNCTION],
  scheduler: [[
    (v) => isFunction(v?.setTimeout) && isFunction(v?.clearTimeout),
    "an object with setTimeout and clearTimeout",
  ]],
};

/** How many single-character edits turn `a` into `b` (Levenshtein distance, case-insensitive). */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let row = [...Array(b.length + 1).keys()];
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/** The known option closest to `key`, when it is close enough to be a typo. */
function closest(key: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const known of Object.keys(RULES)) {
    const distance = editDistance(key, known);
    if (distance < bestDistance) [best, bestDistance] = [known, distance];
  }
  return best;
}

/** The name of every option, in the order of the options table (pure: bundles leave it out). */
export const OPTION_NAMES: readonly string[] = /* @__PURE__ */ Object.keys(RULES);

/**
 * Checks options and fills in the defaults.
 *
 * @param options The options.
 * @param prefix Put before option names in messages, e.g. `window.kustomerServiceDeskOptions.`.
 * @throws {TypeError} For options that are not an object, an unknown key (with the option it is
 *   probably a typo of), or a value of the wrong type.
 * @throws {RangeError} For a value of the right type out of range.
 */
export function resolveOptions(
  options: KustomerServiceDeskOptions = {},
  prefix = "",
): DeskOptions {
  if (!isObject(options)) {
    throw new TypeError(
      `${prefix.slice(0, -1) || "Kustomer service desk options"} must be an object, got ${
        describe(options)
      }`,
    );
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    const rules: readonly Rule[] | undefined = Object.hasOwn(RULES, key)
      ? RULES[key as keyof typeof RULES]
      : undefined;
    if (!rules) {
      const near = closest(key);
      throw new TypeError(
        `${prefix}${key} is not an option of the Kustomer service desk${
          near ? `; did you mean ${prefix}${near}?` : ""
        }`,
      );
    }
    if (o[key] === undefined) continue;
    for (const [ok, what, range] of rules) {
      if (!ok(o[key])) {
        throw new (range ? RangeError : TypeError)(
          `${prefix}${key} must be ${what}, got ${describe(o[key])}`,
        );
      }
    }
  }
  const resolved: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, v] of Object.entries(o)) if (v !== undefined) resolved[key] = v;
  return resolved as unknown as DeskOptions;
}
