/**
 * A chat host that checks the shape of every argument the desk hands it (as Carbon and web chat
 * would need it), keeps persisted state like Carbon, and records every call.
 */

import { setImmediate } from "node:timers";
import type { ServiceDeskCallback } from "../../mod.ts";

/** One callback call. */
export interface CheckedCall {
  readonly name: string;
  readonly args: readonly unknown[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const optional = (v: unknown, test: (v: unknown) => boolean) => v === undefined || test(v);
const count = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** What is wrong with an agent profile, or undefined. */
function badProfile(p: unknown): string | undefined {
  if (!isObject(p)) return "profile is not an object";
  if (!isString(p.id) || !p.id) {
    return `profile.id ${JSON.stringify(p.id)} is not a non-empty string`;
  }
  if (!isString(p.nickname) || !p.nickname) return "profile.nickname is not a non-empty string";
  if (p.user_type !== "human") return 'profile.user_type is not "human"';
  if (!optional(p.profile_picture_url, isString)) return "profile_picture_url is not a string";
}

/** What is wrong with a message to the user, or undefined. */
function badResponse(m: unknown): string | undefined {
  if (!isObject(m)) return "message is not an object";
  if (!optional(m.id, (id) => isString(id) && !!id)) return "message.id is not a non-empty string";
  const generic = isObject(m.output) ? m.output.generic : undefined;
  if (!Array.isArray(generic) || !generic.length) return "message.output.generic is not a list";
  for (const item of generic) {
    if (!isObject(item) || !isString(item.response_type)) return "an item has no response_type";
    if (item.response_type === "text" && !isString(item.text)) return "a text item has no text";
    if (item.response_type === "image") {
      if (!isString(item.source) || !item.source) return "an image item has no source";
      if (!optional(item.title, isString) || !optional(item.alt_text, isString)) {
        return "an image item has a title or alt_text that is not a string";
      }
    }
    if (item.response_type === "option") {
      if (!optional(item.title, isString)) return "an option item's title is not a string";
      const options = item.options;
      if (!Array.isArray(options) || !options.length) return "an option item has no options";
      for (const o of options) {
        if (!isObject(o) || !isString(o.label)) return "an option has no label";
        const value = isObject(o.value) && isObject(o.value.input) ? o.value.input.text : undefined;
        if (!isString(value)) return "an option has no value.input.text";
      }
    }
  }
}

/** Checks each callback's arguments; returns what is wrong, or undefined. */
const CHECKS: Record<string, (args: readonly unknown[]) => string | undefined> = {
  updateCapabilities: ([c, ...rest]) =>
    rest.length || !isObject(c) || typeof c.allowFileUploads !== "boolean" ||
      !optional(c.allowedFileUploadTypes, isString)
      ? "bad capabilities"
      : undefined,
  updateAgentAvailability: ([a, ...rest]) => {
    if (rest.length || !isObject(a)) return "availability is not one object";
    for (const key of ["positionInQueue", "estimatedWaitTime", "position_in_queue"]) {
      if (!optional(a[key], count)) return `availability.${key} is not a count`;
    }
    if (!optional(a.estimated_wait_time, count)) return "estimated_wait_time is not a count";
    if (!optional(a.message, isString)) return "availability.message is not a string";
  },
  agentJoined: ([p, ...rest]) => rest.length ? "extra arguments" : badProfile(p),
  beginTransferToAnotherAgent: ([p, ...rest]) =>
    rest.length ? "extra arguments" : p === undefined ? undefined : badProfile(p),
  agentReadMessages: (args) => args.length ? "takes no arguments" : undefined,
  agentLeftChat: (args) => args.length ? "takes no arguments" : undefined,
  agentEndedChat: (args) => args.length ? "takes no arguments" : undefined,
  agentTyping: ([t, ...rest]) =>
    rest.length || typeof t !== "boolean"
      ? `agentTyping(${String(t)}) is not a boolean`
      : undefined,
  sendMessageToUser: ([m, agentId, ...rest]) =>
    rest.length
      ? "extra arguments"
      : !optional(agentId, (id) => isString(id) && !!id)
      ? "agentID is not a non-empty string"
      : isString(m)
      ? undefined
      : badResponse(m),
  setErrorStatus: ([e, ...rest]) => {
    if (rest.length || !isObject(e)) return "error status is not one object";
    if (!optional(e.logInfo, isString)) return "logInfo is not a string";
    if (e.type === 1) return optional(e.messageToUser, isString) ? undefined : "bad messageToUser";
    if (e.type === 2) {
      return typeof e.isDisconnected === "boolean" ? undefined : "bad isDisconnected";
    }
    if (e.type === 3) return isString(e.messageID) && e.messageID ? undefined : "bad messageID";
    return `unknown error type ${String(e.type)}`;
  },
  setFileUploadStatus: ([id, isError, message, ...rest]) =>
    rest.length || !isString(id) || !optional(isError, (v) => typeof v === "boolean") ||
      !optional(message, isString)
      ? "bad file upload status"
      : undefined,
  updatePersistedState: ([state, merge, ...rest]) =>
    // `false` is how the desk clears its state (Carbon cannot store undefined or null).
    rest.length || !(isObject(state) || state === false) ||
      !optional(merge, (v) => typeof v === "boolean")
      ? "bad persisted state"
      : undefined,
};

/** A host that checks every call. */
export class CheckedHost {
  /** Every call, in order. */
  readonly calls: CheckedCall[] = [];
  /** Malformed calls, described. */
  readonly violations: string[] = [];
  /** The desk's persisted state, kept like Carbon keeps it. */
  state: Record<string, unknown> = {};

  #record(name: string, args: unknown[]): void {
    this.calls.push({ name, args });
    let problem: string | undefined;
    try {
      problem = CHECKS[name](args);
    } catch (error) {
      problem = `could not check (${String(error)})`;
    }
    if (problem) {
      const shown = JSON.stringify(
        args,
        (_, v) => typeof v === "string" && v.length > 80 ? `${v.slice(0, 80)}…` : v,
      );
      this.violations.push(`host ${name}(${shown?.slice(0, 300)}): ${problem}`);
    }
  }

  /** The callback to give the desk. */
  get callback(): ServiceDeskCallback {
    const callback: Record<string, unknown> = {};
    for (const name of Object.keys(CHECKS)) {
      callback[name] = (...args: unknown[]) => {
        this.#record(name, args);
        if (name === "updatePersistedState") {
          const [state, merge = true] = args as [Record<string, unknown>, boolean];
          this.state = merge ? { ...this.state, ...state } : { ...state };
          return;
        }
        return Promise.resolve();
      };
    }
    callback.persistedState = () => this.state;
    return callback as unknown as ServiceDeskCallback;
  }

  /** The arguments of each call of `name`. */
  named(name: string): (readonly unknown[])[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.args);
  }

  /** The error statuses shown, in order. */
  errors(): { type?: number; isDisconnected?: boolean }[] {
    return this.named("setErrorStatus").map(([e]) => e as { type?: number });
  }

  /** The ids of the agent messages shown, in order. */
  shownIds(): string[] {
    return this.named("sendMessageToUser").map(([m]) => (m as { id?: string })?.id ?? "");
  }
}

/** A manual clock: time moves only when asked; promises settle between timers. */
export class ManualClock {
  #now = Date.UTC(2026, 10, 28, 12);
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();
  /** Errors thrown by timer callbacks. */
  readonly thrown: string[] = [];

  now = (): number => this.#now;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, Number(ms) || 0), fn });
    return id;
  };

  clearTimeout = (id: unknown): void => {
    this.#timers.delete(id as number);
  };

  /** Lets promise chains run (memory stores and the simulator use microtasks only). */
  async settle(turns = 3): Promise<void> {
    // setImmediate: a macrotask (every microtask before it has run) without setTimeout's clamp.
    for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  /** Moves time forward, running due timers in order and settling after each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await this.settle();
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      }
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      try {
        due[1].fn();
      } catch (error) {
        this.thrown.push(String((error as Error)?.stack ?? error));
      }
    }
    this.#now = end;
    await this.settle();
  }

  /** Advances time until `promise` settles (or `maxMs` passed); returns how it settled. */
  async drive<T>(
    promise: Promise<T>,
    maxMs = 60_000,
  ): Promise<{ done: boolean; value?: T; error?: unknown; rejected: boolean }> {
    const outcome: { done: boolean; value?: T; error?: unknown; rejected: boolean } = {
      done: false,
      rejected: false,
    };
    promise.then(
      (value) => Object.assign(outcome, { done: true, value }),
      (error) => Object.assign(outcome, { done: true, rejected: true, error }),
    );
    await this.settle();
    for (let waited = 0; !outcome.done && waited < maxMs; waited += 500) await this.advance(500);
    return outcome;
  }
}

let unhandled: string[] = [];
let listening = false;

/**
 * Starts collecting unhandled promise rejections (a crash of whatever case runs now); `take()`
 * returns and forgets them.
 */
export function watchUnhandled(): { take(): string[] } {
  if (!listening) {
    listening = true;
    globalThis.addEventListener("unhandledrejection", (event) => {
      event.preventDefault();
      const reason = (event as PromiseRejectionEvent).reason;
      unhandled.push(`unhandled rejection: ${String(reason?.stack ?? reason)}`);
    });
  }
  unhandled = [];
  return {
    take: () => {
      const taken = unhandled;
      unhandled = [];
      return taken;
    },
  };
}
