/**
 * Event and answer delivery of the simulated Kustomer Core: the scheduler and its timers, the
 * fixed or seeded latency, the listeners, the delivery modes (normal, duplicate, reverse), the
 * dropped connection, and the errors thrown by listeners and callbacks.
 *
 * @module
 */

import type { KustomerEventName, KustomerListener, KustomerSdkError } from "../kustomer_types.ts";
import { _clone } from "./checks.ts";
import type { _Network } from "./network.ts";
import type { SimConnection, SimDeliveryMode, SimScheduler, SimUncaughtError } from "./types.ts";

/** A scheduled run; `done` once it ran or was cancelled. */
export interface _Timer {
  id: unknown;
  done: boolean;
}

/** What delivery needs to start. */
export interface _DeliveryOptions {
  scheduler: SimScheduler;
  /** The fixed latency of answers and events (without a network). */
  latencyMs: number;
  /** Seeded delays for every call and event, instead of `latencyMs`. */
  network?: _Network;
  deliveryMode: SimDeliveryMode;
}

/**
 * Gets answers and events to the SDK's user, later: a microtask without latency, else a scheduler
 * timer. After `dispose()` nothing runs; while the connection is dropped nothing is delivered.
 */
export class _Delivery {
  /** Exceptions thrown by listeners, callbacks and scripted steps. */
  readonly uncaught: SimUncaughtError[] = [];
  /** How events reach listeners. */
  mode: SimDeliveryMode;
  /** Whether the simulated network is up. */
  connection: SimConnection = "connected";

  #scheduler: SimScheduler;
  #latencyMs: number;
  #network: _Network | undefined;
  #disposed = false;
  #timers = new Set<_Timer>();
  #listeners = new Map<string, KustomerListener[]>();
  #outbox: { name: string; payload: unknown }[] = [];
  #flushPending = false;

  constructor(options: _DeliveryOptions) {
    this.#scheduler = options.scheduler;
    this.#latencyMs = options.latencyMs;
    this.#network = options.network;
    this.mode = options.deliveryMode;
  }

  /** Whether `dispose()` was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Whether the connection is dropped (nothing reaches the server or comes back). */
  get dropped(): boolean {
    return this.connection === "dropped";
  }

  /** How many timers are pending. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * With a seeded network, a call's delays: until it reaches the server, then until its answer
   * arrives. Without one, undefined: the call reaches the server at once.
   */
  callDelays(): { requestMs: number; answerMs: number } | undefined {
    return this.#network?.call();
  }

  /** Drops the connection: events waiting in the outbox are lost. */
  drop(): void {
    this.connection = "dropped";
    this.#outbox = [];
  }

  /** Restores the connection. */
  restore(): void {
    this.connection = "connected";
  }

  /** Runs `fn` asynchronously: a microtask without delay, else through the scheduler. */
  later(delayMs: number, fn: () => void): void {
    if (delayMs > 0) {
      this.schedule(fn, delayMs);
    } else {
      queueMicrotask(() => {
        if (!this.#disposed) fn();
      });
    }
  }

  /** Runs `fn` after `ms` through the scheduler (never after `dispose()`). */
  schedule(fn: () => void, ms: number): _Timer {
    const timer: _Timer = { id: undefined, done: false };
    this.#timers.add(timer);
    timer.id = this.#scheduler.setTimeout(() => {
      if (timer.done) return;
      timer.done = true;
      this.#timers.delete(timer);
      if (!this.#disposed) fn();
    }, ms);
    return timer;
  }

  /** Cancels a timer of `schedule` (nothing when it already ran). */
  cancel(timer: _Timer | undefined): void {
    if (!timer || timer.done) return;
    timer.done = true;
    this.#timers.delete(timer);
    this.#scheduler.clearTimeout(timer.id);
  }

  /** Runs `fn`, keeping what it throws in `uncaught` under `source`. */
  guard(source: string, fn: () => void): void {
    try {
      fn();
    } catch (thrown) {
      this.uncaught.push({ source, error: thrown });
    }
  }

  /**
   * Answers a call: after `delayMs` (default: the latency), `onDelivered` then the callback with
   * the response or the error. Lost when the connection is dropped by then.
   */
  answer(
    method: string,
    callback: unknown,
    response: unknown,
    error: KustomerSdkError | undefined,
    onDelivered?: () => void,
    delayMs: number = this.#latencyMs,
  ): void {
    if (typeof callback !== "function" && !onDelivered) return;
    this.later(delayMs, () => {
      if (this.dropped) return;
      onDelivered?.();
      if (typeof callback !== "function") return;
      this.guard(`callback:${method}`, () => {
        if (error) callback(undefined, error);
        else callback(response, undefined);
      });
    });
  }

  /**
   * Fires an event (a copy of `payload`): each after its own seeded delay with a network, else in
   * one batch after the latency (reversed in `"reverse"` mode).
   */
  emit(name: KustomerEventName, payload: unknown): void {
    if (this.#disposed || this.dropped) return;
    if (this.#network) {
      const copy = _clone(payload);
      this.later(this.#network.event(), () => {
        if (this.dropped) return;
        this.#deliver(name, copy);
        if (this.mode === "duplicate" && name === "onMessageReceived") {
          this.#deliver(name, _clone(copy));
        }
      });
      return;
    }
    this.#outbox.push({ name, payload: _clone(payload) });
    if (this.#flushPending) return;
    this.#flushPending = true;
    this.later(this.#latencyMs, () => this.#flush());
  }

  /** Adds a listener (the same function twice registers it twice). */
  addListener(name: string, listener: KustomerListener): void {
    if (this.#disposed) return;
    const list = this.#listeners.get(name) ?? [];
    list.push(listener);
    this.#listeners.set(name, list);
  }

  /** Removes one registration of a listener. */
  removeListener(name: string, listener: KustomerListener): void {
    const list = this.#listeners.get(name);
    if (!list) return;
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.#listeners.delete(name);
  }

  /** How many listeners are registered (for `name`, or for all events). */
  listenerCount(name?: string): number {
    if (name !== undefined) return this.#listeners.get(name)?.length ?? 0;
    let total = 0;
    for (const list of this.#listeners.values()) total += list.length;
    return total;
  }

  /** Cancels every timer and drops listeners and pending events. */
  dispose(): void {
    this.#disposed = true;
    for (const timer of this.#timers) {
      timer.done = true;
      this.#scheduler.clearTimeout(timer.id);
    }
    this.#timers.clear();
    this.#outbox = [];
    this.#listeners.clear();
  }

  #flush(): void {
    this.#flushPending = false;
    const batch = this.#outbox;
    this.#outbox = [];
    if (this.dropped) return;
    if (this.mode === "reverse") {
      const slots = batch.flatMap((e, i) => (e.name === "onMessageReceived" ? [i] : []));
      const messages = slots.map((i) => batch[i]).reverse();
      slots.forEach((slot, k) => (batch[slot] = messages[k]));
    }
    for (const { name, payload } of batch) {
      this.#deliver(name, payload);
      if (this.mode === "duplicate" && name === "onMessageReceived") {
        this.#deliver(name, _clone(payload));
      }
    }
  }

  #deliver(name: string, payload: unknown): void {
    for (const listener of [...(this.#listeners.get(name) ?? [])]) {
      if (this.#disposed || this.dropped) return;
      this.guard(name, () => listener(payload));
    }
  }
}
