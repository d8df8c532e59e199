/** Hand-built fakes shared by the tests: a manual clock, a recording chat host, a page-scoped Core. */

import type { KustomerCore, KustomerListener } from "../src/kustomer_types.ts";
import type {
  MessageRequest,
  MessageResponse,
  ServiceDeskCallback,
  ServiceDeskErrorInfo,
} from "../src/host_types.ts";
import type { HistoryItem } from "../src/history_items.ts";

/** A manual clock and timer queue: time moves only when a test calls `advance`. */
export class FakeScheduler {
  #now: number;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 10, 28, 12)) {
    this.#now = start;
  }

  now = (): number => this.#now;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  };

  clearTimeout = (id: unknown): void => {
    this.#timers.delete(id as number);
  };

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward, running each due timer in time order and letting promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await settle();
      const due = [...this.#timers.entries()]
        .filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].fn();
    }
    this.#now = end;
    await settle();
  }
}

/** Lets pending promises, microtasks and IndexedDB requests run (a few macrotask turns). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Waits, turn by turn, until `check` holds; fails after `turns` turns rather than hanging. */
export async function until(check: () => boolean, what: string, turns = 200): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface HostCall {
  name: string;
  args: unknown[];
}

/** Lodash `merge` as Carbon uses it: deep, and an `undefined` value never clears a key. */
function lodashMerge(target: unknown, source: unknown): unknown {
  if (!isPlainObject(source)) return source === undefined ? target : structuredClone(source);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    out[key] = isPlainObject(value) ? lodashMerge(out[key], value) : structuredClone(value);
  }
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Carbon's deepFreeze of the desk's state: throws on `undefined` and `null`. */
function carbonFreeze(state: unknown): unknown {
  Object.freeze(state);
  Object.getOwnPropertyNames(state); // TypeError for undefined and null, as in Carbon
  return state;
}

/** The callbacks Carbon answers synchronously (no event, no overlap). */
const SYNC = new Set(["updateCapabilities"]);

/**
 * A chat host as strict as Carbon AI Chat 1.9.1, recording every callback call:
 * - each callback returns a promise that settles a tick later, and REJECTS when it starts while
 *   another is still running ("An event of type … is already running");
 * - persisted state merged like lodash `merge` (undefined does not clear a key), replaced when
 *   `mergeWithCurrent` is false; Carbon skips its welcome message while that state is truthy;
 * - `reconnect()` is called only when an agent had joined before the reload (`connected`);
 * - `userReadMessages()` is never called; `human_agent:receive` fires on its instance instead;
 * - availability: 5 s limit, a timeout or an error counts as offline (see `availability`).
 */
export class RecordingHost {
  calls: HostCall[] = [];
  state: unknown;
  /** Callbacks the host rejected because another was still running. */
  overlaps: string[] = [];
  /** Whether an agent had joined (Carbon's persisted `isConnected`): reconnect after a reload. */
  connected: boolean;
  /** While set, a callback that starts does not settle until it does (a slow render). */
  hold?: Promise<void>;
  /** The host instance the desk gets as `parameters.instance`. */
  readonly instance: FakeInstance;
  /** The agents that joined, by id (a message names its agent by id). */
  #agents = new Map<string, string>();
  #withPersistence: boolean;
  #running?: string;

  /** How a callback's promise waits before it settles (a macrotask turn). */
  #tick: () => Promise<unknown>;

  /**
   * `history`: the instance has Carbon's `messaging.insertHistory` and `removeMessages` (else it is
   * a host without them, as watsonx web chat). `tick`: how a callback waits before it settles
   * (`setTimeout(0)` by default; the storage fuzzer passes `setImmediate`, fast and in order with
   * fake-indexeddb's tasks).
   */
  constructor(
    options: {
      persistence?: boolean;
      state?: unknown;
      connected?: boolean;
      history?: boolean;
      tick?: () => Promise<unknown>;
    } = {},
  ) {
    this.#tick = options.tick ?? (() => new Promise((resolve) => setTimeout(resolve, 0)));
    this.#withPersistence = options.persistence ?? true;
    this.state = options.state === undefined ? undefined : structuredClone(options.state);
    this.connected = options.connected ?? false;
    this.instance = new FakeInstance({ history: options.history });
  }

  /** Draws a callback on the instance's screen, as Carbon does. */
  #draw(name: string, args: unknown[]): void {
    if (name === "agentJoined") {
      const { id, nickname } = args[0] as { id: string; nickname: string };
      this.#agents.set(id, nickname);
      this.instance.screen.push({ line: `* ${nickname} connected.` });
    } else if (name === "sendMessageToUser") {
      const message = args[0] as MessageResponse;
      const who = this.#agents.get(args[1] as string) ?? "?";
      this.instance.screen.push({ id: message.id, line: lineOf(message, who) });
    } else if (name === "setErrorStatus") {
      const error = args[0] as { type: number; messageID?: string };
      const shown = this.instance.screen.find((s) => s.id && s.id === error.messageID);
      if (error.type === 3 && shown && !shown.line.endsWith(" (failed)")) shown.line += " (failed)";
    }
  }

  #record = (name: string) => (...args: unknown[]): Promise<void> => {
    if (SYNC.has(name)) {
      this.calls.push({ name, args });
      return Promise.resolve();
    }
    if (this.#running) {
      const what = `An event of type ${name} is already running (${this.#running} is)`;
      this.overlaps.push(what);
      return Promise.reject(new Error(what));
    }
    this.#running = name;
    this.calls.push({ name, args });
    this.#draw(name, args);
    if (name === "agentJoined") this.connected = true;
    if (name === "agentEndedChat") this.connected = false;
    const hold = this.hold;
    return this.#tick().then(async () => {
      await hold;
      if (name === "sendMessageToUser") {
        await this.instance.fire({ type: "human_agent:receive", data: args[0] });
      }
    }).finally(() => this.#running = undefined);
  };

  get callback(): ServiceDeskCallback {
    const cb: ServiceDeskCallback = {
      updateCapabilities: this.#record("updateCapabilities"),
      updateAgentAvailability: this.#record("updateAgentAvailability"),
      agentJoined: this.#record("agentJoined"),
      agentReadMessages: this.#record("agentReadMessages"),
      agentTyping: this.#record("agentTyping"),
      sendMessageToUser: this.#record("sendMessageToUser"),
      beginTransferToAnotherAgent: this.#record("beginTransferToAnotherAgent"),
      agentLeftChat: this.#record("agentLeftChat"),
      agentEndedChat: this.#record("agentEndedChat"),
      setErrorStatus: this.#record("setErrorStatus"),
      setFileUploadStatus: this.#record("setFileUploadStatus"),
    };
    if (this.#withPersistence) {
      cb.persistedState = () => this.state;
      cb.updatePersistedState = (state, merge = true) => {
        this.calls.push({ name: "updatePersistedState", args: [state, merge] });
        this.state = carbonFreeze(
          merge ? lodashMerge(this.state ?? {}, state) : structuredClone(state),
        );
      };
    }
    return cb;
  }

  /** Whether Carbon would skip its welcome message on the next page load (truthy desk state). */
  get skipsWelcome(): boolean {
    return Boolean(this.state);
  }

  /** The desk's state as a record (empty when there is none). */
  get record(): Record<string, unknown> {
    return isPlainObject(this.state) ? this.state : {};
  }

  named(name: string): unknown[][] {
    return this.calls.filter((c) => c.name === name).map((c) => c.args);
  }

  /** The texts the user was shown, in order. */
  texts(): string[] {
    return this.named("sendMessageToUser").map(([m]) => {
      const generic = (m as { output: { generic: { text?: string }[] } }).output.generic;
      return generic.map((g) => g.text ?? "").filter(Boolean).join(" ");
    });
  }

  errors(): ServiceDeskErrorInfo[] {
    return this.named("setErrorStatus").map(([e]) => e as ServiceDeskErrorInfo);
  }
}

/** A message as the screen shows it: "Ada: hi", "You: hello (failed)", "* Ada connected.". */
function lineOf(message: MessageRequest | MessageResponse, agent: string): string {
  if ("input" in message && message.input) {
    const failed = (message.history as { error_state?: number } | undefined)?.error_state === 2;
    return `You: ${(message as MessageRequest).input.text}${failed ? " (failed)" : ""}`;
  }
  const generic = (message as MessageResponse).output.generic ?? [];
  const text = generic.map((g) => (g as { text?: string }).text ?? "").join(" ");
  const system = generic.some((g) => g.agent_message_type === "system");
  const profile =
    (message as { message_options?: { response_user_profile?: { nickname?: string } } })
      .message_options?.response_user_profile;
  return system ? `* ${text}` : `${profile?.nickname ?? agent}: ${text}`;
}

/**
 * Carbon's `ChatInstance`, as far as the desk uses it: `on`, `getState`, `messaging.addMessage`,
 * and (with `history`) `messaging.insertHistory` and `removeMessages`, with a screen drawn as
 * Carbon 1.9 draws it: history above every message shown, callbacks below.
 */
export class FakeInstance {
  #handlers: { type: string; handler: (event: unknown) => unknown }[] = [];
  #running = new Set<string>();
  /** Whether the chat's main window is open. */
  open = true;
  /** What was added with `messaging.addMessage`. */
  added: MessageResponse[] = [];
  /** What the chat shows, top to bottom (`id`: the message's, for removal and failure). */
  screen: { id?: string; line: string }[] = [];
  /** What `messaging.insertHistory` was given, call by call. */
  inserted: HistoryItem[][] = [];
  readonly messaging: {
    addMessage(message: MessageResponse): Promise<void>;
    insertHistory?(items: HistoryItem[]): Promise<void>;
    removeMessages?(ids: string[]): Promise<void>;
  } = {
    addMessage: (message: MessageResponse): Promise<void> => {
      this.added.push(message);
      return Promise.resolve();
    },
  };

  constructor(options: { history?: boolean } = {}) {
    if (!options.history) return;
    this.messaging.insertHistory = (items) => {
      this.inserted.push(items);
      this.screen.unshift(...this.#lines(items));
      return Promise.resolve();
    };
    this.messaging.removeMessages = (ids) => {
      this.screen = this.screen.filter((shown) => !shown.id || !ids.includes(shown.id));
      return Promise.resolve();
    };
  }

  /** The page loads with `items` as its history (Carbon's `customLoadHistory`). */
  load(items: HistoryItem[]): void {
    this.screen = this.#lines(items);
  }

  /** What the chat shows, line by line. */
  get lines(): string[] {
    return this.screen.map((shown) => shown.line);
  }

  #lines(items: HistoryItem[]): { id?: string; line: string }[] {
    return items.map(({ message }) => ({ id: message.id as string, line: lineOf(message, "?") }));
  }

  on(handlers: { type: string; handler: (event: unknown) => unknown }): this {
    this.#handlers.push(handlers);
    return this;
  }

  getState(): { viewState: { mainWindow: boolean } } {
    return { viewState: { mainWindow: this.open } };
  }

  /** Fires an event as Carbon's bus does: handlers awaited in turn; an overlap of a type rejects. */
  async fire(event: { type: string; [key: string]: unknown }): Promise<void> {
    if (this.#running.has(event.type)) {
      throw new Error(`An event of type ${event.type} is already running.`);
    }
    this.#running.add(event.type);
    try {
      for (const { type, handler } of [...this.#handlers]) {
        if (type === event.type) await handler(event);
      }
    } finally {
      this.#running.delete(event.type);
    }
  }
}

/**
 * The Kustomer Core as one page sees it: calls and listeners go to a shared simulated server, and
 * `unload()` is the page going away (its listeners vanish and its pending callbacks never run).
 */
export class PageCore {
  #target: KustomerCore;
  #listeners: [string, KustomerListener, KustomerListener][] = [];
  #alive = true;
  readonly core: KustomerCore;

  constructor(target: KustomerCore) {
    this.#target = target;
    this.core = new Proxy(target, {
      get: (t, prop, receiver) => {
        if (prop === "addListener") {
          return (name: string, fn: KustomerListener) => {
            const wrapped: KustomerListener = (...args) => {
              if (this.#alive) fn(...args);
            };
            this.#listeners.push([name, fn, wrapped]);
            t.addListener(name, wrapped);
          };
        }
        if (prop === "removeListener") {
          return (name: string, fn: KustomerListener) => {
            const i = this.#listeners.findIndex(([n, f]) => n === name && f === fn);
            if (i < 0) return;
            t.removeListener(name, this.#listeners[i][2]);
            this.#listeners.splice(i, 1);
          };
        }
        const value = Reflect.get(t, prop, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          const last = args[args.length - 1];
          if (typeof last === "function") {
            args[args.length - 1] = (...cbArgs: unknown[]) => {
              if (this.#alive) (last as (...a: unknown[]) => void)(...cbArgs);
            };
          }
          return (value as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  }

  get listenerCount(): number {
    return this.#listeners.length;
  }

  unload(): void {
    this.#alive = false;
    for (const [name, , wrapped] of this.#listeners) this.#target.removeListener(name, wrapped);
    this.#listeners = [];
  }
}

/** A console stand-in that keeps what was written. */
export class CapturingLogger {
  lines: string[] = [];
  warn = (message: string): void => {
    this.lines.push(message);
  };
}
