/**
 * One browser for the closed-tab tests: pages (tabs) of one simulated Kustomer customer that share
 * the log store, the desk's options and Web Locks, each with its own Core, locks and timers that
 * go when it is closed.
 *
 * @module
 */

import { KustomerServiceDesk } from "../src/service_desk.ts";
import type { KustomerServiceDeskOptions } from "../src/options.ts";
import { PageCore, RecordingHost, until } from "./_helpers.ts";
import { LockRegistry, type PageLocks } from "./_locks.ts";
import { connect, world } from "./_world.ts";

export interface Tab {
  desk: KustomerServiceDesk;
  host: RecordingHost;
  page: PageCore;
  locks: PageLocks;
  /** The tab is closed: its Core and its locks go with it. */
  close(): void;
}

/** One browser: one simulated Kustomer customer, one store, one set of locks, many tabs. */
export function browser(
  kind: "memory" | "indexeddb",
  options: KustomerServiceDeskOptions = {},
) {
  const w = world(kind, options);
  w.page.unload(); // the world's own page has no locks: these tests open their own tabs
  const registry = new LockRegistry();
  /** A tab; `history`: its host has Carbon's `insertHistory` (else it is as watsonx web chat). */
  const tab = (state?: unknown, history = false): Tab => {
    const page = new PageCore(w.sim);
    const locks = registry.page();
    const host = new RecordingHost({ state, history });
    // The page's timers die with it, as a closed tab's do.
    let open = true;
    const scheduler = {
      setTimeout: (fn: () => void, ms: number) => w.clock.setTimeout(() => open && fn(), ms),
      clearTimeout: (id: unknown) => w.clock.clearTimeout(id),
    };
    const desk = new KustomerServiceDesk(
      { callback: host.callback, persistedState: state, instance: host.instance },
      { ...w.options, core: page.core, locks, scheduler },
    );
    return {
      desk,
      host,
      page,
      locks,
      close() {
        open = false;
        page.unload();
        locks.unload();
      },
    };
  };
  return { w, registry, tab };
}

/** A browser whose first tab has a chat with Ada, her first message shown. */
export async function withAda(
  kind: "memory" | "indexeddb",
  options: KustomerServiceDeskOptions = {},
) {
  const b = browser(kind, options);
  const first = b.tab();
  await first.desk.startChat(connect(), {});
  const conversationId = first.desk.state!.conversationId!;
  const escalationId = first.host.record.escalationId as string;
  b.w.sim.agentSend(conversationId, "Hi, I'm Ada.");
  await until(() => first.host.texts().length === 1, "the agent's first message");
  return { ...b, first, conversationId, escalationId };
}
