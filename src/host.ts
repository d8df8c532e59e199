/**
 * The chat host as the desk sees it: every callback guarded (a throw or a rejection becomes one
 * warning) and serialized (each returned promise is awaited before the next callback runs, in the
 * order they were asked for), and the desk's pointer in the host's persisted state.
 *
 * Carbon AI Chat runs its `human_agent:*` events one at a time and rejects one that overlaps another
 * ("An event of type human_agent:receive is already running"): a join, a transfer or a message shown
 * while the previous one still renders would be lost or drawn out of order.
 *
 * @module
 */

import type { MessageResponse, ServiceDeskCallback } from "./host_types.ts";
import type { HistoryItem } from "./history_items.ts";
import { errorText } from "./common.ts";

/** The host callbacks a host may leave out; calling a missing other one is a warning. */
const OPTIONAL = new Set(["setFileUploadStatus", "updateCapabilities", "updatePersistedState"]);

/**
 * The host's callbacks, each safe to call: queued behind the previous one, a throw or a rejection
 * becomes a warning. The promise resolves once the host has finished with it (never rejects).
 */
export type SafeHost = {
  [K in keyof ServiceDeskCallback]-?: (
    ...args: Parameters<NonNullable<ServiceDeskCallback[K]>>
  ) => Promise<void>;
};

/** The part of the host's instance the desk uses (Carbon AI Chat's `ChatInstance`). */
export interface HostInstance {
  on?(handlers: { type: string; handler: (event: unknown) => unknown }): unknown;
  getState?(): { viewState?: { mainWindow?: boolean }; humanAgent?: unknown } | undefined;
  messaging?: {
    addMessage?(message: MessageResponse): unknown;
    /** Carbon AI Chat's: puts history items above every message shown (it needs their ids). */
    insertHistory?(items: HistoryItem[]): unknown;
    /** Carbon AI Chat's: removes the messages of these ids. */
    removeMessages?(ids: string[]): unknown;
  };
}

/** What the desk keeps in the host's persisted state (and sessionStorage for hosts without it). */
export interface PersistedPointer {
  /** The escalation whose log holds the chat. */
  escalationId: string;
  /** Kustomer's conversation, so a chat can be rebuilt when the log is gone. */
  conversationId?: string;
}

/** Reads the desk's pointer from what the host persisted (anything else is ignored). */
export function readPointer(state: unknown): PersistedPointer | undefined {
  const { escalationId, conversationId } = (state && typeof state === "object" ? state : {}) as {
    escalationId?: unknown;
    conversationId?: unknown;
  };
  if (typeof escalationId !== "string" || !escalationId) return undefined;
  return typeof conversationId === "string" && conversationId
    ? { escalationId, conversationId }
    : { escalationId };
}

/**
 * Makes the host's callbacks safe and serial.
 *
 * @param callback The host's callback object.
 * @param warn Where a failed callback is reported.
 * @returns The safe host.
 */
export function serialHost(
  callback: ServiceDeskCallback,
  warn: (message: string) => void,
): SafeHost {
  const methods = callback as unknown as Record<string, (...args: unknown[]) => unknown>;
  let tail: Promise<void> = Promise.resolve();
  const fail = (name: string) => (error: unknown) =>
    warn(`the host's ${name}() failed (${errorText(error)})`);
  const run = (name: string, args: unknown[]): Promise<void> => {
    if (typeof methods[name] !== "function") {
      if (!OPTIONAL.has(name)) warn(`the host has no ${name}()`);
      return Promise.resolve();
    }
    // Synchronous in every host, and answered at once: never queued behind a slow render.
    if (name === "updatePersistedState" || name === "persistedState") {
      try {
        methods[name](...args);
      } catch (error) {
        fail(name)(error);
      }
      return Promise.resolve();
    }
    return tail = tail.then(async () => {
      try {
        await methods[name](...args);
      } catch (error) {
        fail(name)(error);
      }
    });
  };
  return new Proxy({}, {
    get: (_, name: string) => (...args: unknown[]) => run(name, args),
  }) as SafeHost;
}

/**
 * Writes the desk's pointer into the host's persisted state by replacing it (Carbon merges with
 * lodash `merge`, which skips `undefined`, so a merge can never clear a key), or clears it.
 *
 * Clearing writes `false`: Carbon skips its welcome message while the desk's state is truthy (an
 * empty object included), and cannot store `undefined` or `null` (its deep freeze throws on them).
 *
 * @param host The safe host.
 * @param pointer The pointer, or `undefined` to clear it.
 */
export function writePointer(host: SafeHost, pointer: PersistedPointer | undefined): void {
  void host.updatePersistedState(pointer ? { ...pointer } : false, false);
}
