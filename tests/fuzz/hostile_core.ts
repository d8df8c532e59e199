/**
 * A Kustomer Core that sits between the desk and the simulator: it keeps the listeners the desk
 * registers (so a fuzzer can hand them any payload), and corrupts the callbacks of chosen calls —
 * answered twice, with both a response and an error, with garbage, or a method that throws.
 * The simulator itself is untouched.
 */

import type { KustomerCore, KustomerListener } from "../../mod.ts";
import type { Rng } from "./rng.ts";

/** How one call of a Core method misbehaves. */
export type CallFault =
  | "twice"
  | "both"
  | "throw"
  | "garbage"
  | "error"
  | "errorThenResponse"
  | "responseThenError";

/** Every way a call can misbehave. */
export const CALL_FAULTS: readonly CallFault[] = [
  "twice",
  "both",
  "throw",
  "garbage",
  "error",
  "errorThenResponse",
  "responseThenError",
];

/** Values a careless SDK could answer with instead of a response. */
export function garbage(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => null,
    () => undefined,
    () => 0,
    () => "a string",
    () => [],
    () => ({}),
    () => ({ messageId: 42, conversationId: {} }),
    () => ({ conversationId: null }),
    () => ({ messages: "not a list" }),
    () => ({ messages: [null, 1, "x", { direction: "out" }, { messageId: {} }] }),
    () => ({ conversations: [{ conversationId: null, ended: "yes" }, null] }),
    () => ({ conversations: "none" }),
    () => ({ settings: null }),
    () => NaN,
  ])();
}

/** Errors a careless SDK could call back with. */
function weirdError(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => new Error("hostile failure"),
    () => "a string error",
    () => ({ status: 500 }),
    () => ({ message: 5, title: { nested: true } }),
    () => ({ status: "NaN", code: {} }),
    () => Object.assign(new Error(""), { status: 429, code: "rate_limited" }),
    () => [],
    () => 1,
  ])();
}

type Callback = (response?: unknown, error?: unknown) => void;

/** The desk's view of a simulated Core, with hostile calls on demand. */
export class HostileCore {
  /** The Core to give the desk. */
  readonly core: KustomerCore;
  /** The desk's listeners by event name. */
  readonly listeners: Map<string, KustomerListener[]> = new Map();
  /** Errors the desk threw into the Core (a listener or a callback that threw). */
  readonly crashes: string[] = [];
  #target: KustomerCore;
  #rng: Rng;
  #faults = new Map<string, CallFault[]>();
  #wrapped: [string, KustomerListener, KustomerListener][] = [];
  #alive = true;

  constructor(target: KustomerCore, rng: Rng) {
    this.#target = target;
    this.#rng = rng;
    this.core = new Proxy(target, {
      get: (t, prop, receiver) => {
        if (prop === "addListener") return this.#addListener;
        if (prop === "removeListener") return this.#removeListener;
        const value = Reflect.get(t, prop, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => this.#invoke(String(prop), value, args);
      },
    });
  }

  /** Makes the next call of `method` misbehave (faults queue up per method). */
  fault(method: string, fault: CallFault): void {
    const list = this.#faults.get(method) ?? [];
    list.push(fault);
    this.#faults.set(method, list);
  }

  /** Forgets every queued fault. */
  clear(): void {
    this.#faults.clear();
  }

  /** Hands `payload` to the desk's listeners for `name`, as the SDK would. */
  emit(name: string, payload: unknown): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) {
      this.#safely(name, listener, payload);
    }
  }

  /** The page goes away: its listeners are removed and its pending callbacks never run. */
  unload(): void {
    this.#alive = false;
    for (const [name, , wrapped] of this.#wrapped) this.#target.removeListener(name, wrapped);
    this.#wrapped = [];
    this.listeners.clear();
  }

  #safely(what: string, fn: (...args: unknown[]) => void, ...args: unknown[]): void {
    if (!this.#alive) return;
    try {
      fn(...args);
    } catch (error) {
      this.crashes.push(`${what} threw into the Core: ${String((error as Error)?.stack ?? error)}`);
    }
  }

  #addListener = (name: string, fn: KustomerListener): void => {
    const wrapped: KustomerListener = (payload) => this.#safely(name, fn, payload);
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
    this.#wrapped.push([name, fn, wrapped]);
    this.#target.addListener(name, wrapped);
  };

  #removeListener = (name: string, fn: KustomerListener): void => {
    const i = this.#wrapped.findIndex(([n, f]) => n === name && f === fn);
    if (i < 0) return;
    this.#target.removeListener(name, this.#wrapped[i][2]);
    this.#wrapped.splice(i, 1);
    this.listeners.set(name, (this.listeners.get(name) ?? []).filter((f) => f !== fn));
  };

  #invoke(method: string, fn: (...args: unknown[]) => unknown, args: unknown[]): unknown {
    const fault = this.#faults.get(method)?.shift();
    if (fault === "throw") throw new Error(`hostile ${method}() threw`);
    if (fault === "garbage" && method === "isChatAvailable") return garbage(this.#rng);
    const last = args.length - 1;
    if (typeof args[last] === "function") {
      const callback = args[last] as Callback;
      const call: Callback = (...answer) =>
        this.#safely(`callback of ${method}`, callback, ...answer);
      args[last] = this.#corrupt(fault, call);
    }
    return fn.apply(this.#target, args);
  }

  /** The callback the simulator gets: it answers the desk's callback the hostile way. */
  #corrupt(fault: CallFault | undefined, call: Callback): Callback {
    const rng = this.#rng;
    const later = (fn: () => void) => queueMicrotask(fn);
    switch (fault) {
      case undefined:
      case "throw":
        return call;
      case "twice":
        return (response, error) => {
          call(response, error);
          later(() => call(response, error));
        };
      case "both":
        return (response) => call(response ?? {}, weirdError(rng));
      case "garbage":
        return () => call(garbage(rng));
      case "error":
        return () => call(undefined, weirdError(rng));
      case "errorThenResponse":
        return (response) => {
          call(undefined, weirdError(rng));
          later(() => call(response));
        };
      case "responseThenError":
        return (response, error) => {
          call(response, error);
          later(() => call(undefined, weirdError(rng)));
        };
    }
  }
}
