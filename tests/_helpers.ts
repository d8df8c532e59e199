/** Hand-built fakes shared by the tests: a manual clock, a recording chat host, a page-scoped Core. */

import type { KustomerCore, KustomerListener } from "../src/kustomer_types.ts";
import type { ServiceDeskCallback, ServiceDeskErrorInfo } from "../src/host_types.ts";

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

/** A chat host that records every callback call and keeps persisted state like Carbon. */
export class RecordingHost {
  calls: HostCall[] = [];
  state: Record<string, unknown> = {};
  #withPersistence: boolean;

  constructor(options: { persistence?: boolean; state?: Record<string, unknown> } = {}) {
    this.#withPersistence = options.persistence ?? true;
    if (options.state) this.state = structuredClone(options.state);
  }

  #record = (name: string) => (...args: unknown[]) => {
    this.calls.push({ name, args });
    return Promise.resolve();
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
        this.state = merge
          ? { ...this.state, ...(state as Record<string, unknown>) }
          : { ...(state as Record<string, unknown>) };
      };
    }
    return cb;
  }

  named(name: string): unknown[][] {
    return this.calls.filter((c) => c.name === name).map((c) => c.args);
  }

  /** The texts the user was shown, in order. */
  texts(): string[] {
    return this.named("sendMessageToUser").map(([m]) => {
      const generic = (m as { output: { generic: { text?: string }[] } }).output.generic;
      return generic.map((g) => g.text ?? "").join(" ");
    });
  }

  errors(): ServiceDeskErrorInfo[] {
    return this.named("setErrorStatus").map(([e]) => e as ServiceDeskErrorInfo);
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
