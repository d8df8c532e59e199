/** One simulated Kustomer, a clock, a store and a chat page that can reload: the tests' world. */

import "fake-indexeddb/auto";
import { assertEquals } from "@std/assert";
import { KustomerServiceDesk } from "../src/service_desk.ts";
import type { KustomerServiceDeskOptions } from "../src/options.ts";
import { IndexedDbLogStore, type LogStore, MemoryLogStore } from "../src/log_store.ts";
import type { MessageResponse } from "../src/host_types.ts";
import {
  DEFAULT_AGENTS,
  SimulatedKustomerCore,
  type SimulatedKustomerCoreOptions,
} from "../simulator.ts";
import { CapturingLogger, FakeScheduler, PageCore, RecordingHost } from "./_helpers.ts";

export const HISTORY_KEY = "us-south::v2::AUTHCODE-secret::sess-1::int-1::svc-1::sub-1";
export const connect = (extra: Record<string, unknown> = {}): MessageResponse => ({
  output: {
    generic: [{
      response_type: "connect_to_agent",
      message_to_human_agent: "The customer wants a refund.",
      transfer_info: {
        session_history_key: HISTORY_KEY,
        summary_message_to_agent: "Order 42 arrived broken.",
      },
      ...extra,
    }],
  },
});
export const noKeyConnect: MessageResponse = {
  output: {
    generic: [{ response_type: "connect_to_agent", message_to_human_agent: "Wants a person." }],
  },
};
export const [ADA, GRACE] = DEFAULT_AGENTS;

let dbCount = 0;
export type StoreKind = "memory" | "indexeddb";

export interface Page {
  desk: KustomerServiceDesk;
  host: RecordingHost;
  page: PageCore;
}

/** A chat page against one simulated Kustomer, with a clock, and a way to reload the page. */
export function world(
  kind: StoreKind,
  deskOptions: KustomerServiceDeskOptions = {},
  simOptions: SimulatedKustomerCoreOptions = {},
) {
  const clock = new FakeScheduler();
  const sim = new SimulatedKustomerCore({
    now: clock.now,
    scheduler: clock,
    objectUrls: false,
    ...simOptions,
  });
  const store: LogStore = kind === "memory"
    ? new MemoryLogStore()
    : new IndexedDbLogStore({ dbName: `desk-test-${++dbCount}` });
  const logger = new CapturingLogger();
  const options: KustomerServiceDeskOptions = {
    store,
    now: clock.now,
    scheduler: clock,
    logger,
    timeoutMs: 1_000,
    retryIntervalMs: 500,
    heartbeatMs: 0,
    ...deskOptions,
  };
  const open = (state?: unknown, persistence = true, connected = false): Page => {
    const page = new PageCore(sim);
    const host = new RecordingHost({ state, persistence, connected });
    const desk = new KustomerServiceDesk(
      { callback: host.callback, persistedState: state, instance: host.instance },
      { ...options, core: page.core },
    );
    strict(desk, host);
    return { desk, host, page };
  };
  const first = open();
  const w = {
    clock,
    sim,
    store,
    logger,
    options,
    ...first,
    /** The page goes away (its Core dies with it) and a new one opens with the host's persisted state. */
    reload(): Page {
      w.page.unload();
      const next = open(w.host.state, true, w.host.connected);
      Object.assign(w, next);
      return next;
    },
    get conversationId(): string {
      const id = w.desk.state?.conversationId;
      if (!id) throw new Error("no conversation yet");
      return id;
    },
    async dispose() {
      assertEquals(w.host.overlaps, [], "no host callback overlapped another");
      w.page.unload();
      await w.clock.advance(60_000);
      sim.dispose();
    },
  };
  return w;
}

/**
 * Makes the desk's host-called methods as strict as Carbon: `reconnect()` only when an agent had
 * joined before the reload, and `userReadMessages()` never.
 */
function strict(desk: KustomerServiceDesk, host: RecordingHost): void {
  const reconnect = desk.reconnect.bind(desk);
  desk.reconnect = () => {
    if (!host.connected) {
      throw new Error("Carbon would not call reconnect(): no agent had joined before the reload");
    }
    return reconnect();
  };
  desk.userReadMessages = () => {
    throw new Error("Carbon never calls userReadMessages()");
  };
}

/** Carbon's availability check: 5 s limit; a timeout or an error counts as offline (false). */
export function hostAvailability(
  desk: KustomerServiceDesk,
  clock: FakeScheduler,
  message: MessageResponse,
): Promise<boolean | null> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), 5_000);
    desk.areAnyAgentsOnline(message).then(
      (online) => {
        clock.clearTimeout(timer);
        resolve(online);
      },
      () => resolve(false),
    );
  });
}

/** Every text the simulated agent has received from the customer, in order. */
export function customerTexts(sim: SimulatedKustomerCore, conversationId: string): string[] {
  return sim.messagesOf(conversationId).filter((m) => m.direction === "in").map((m) =>
    m.body ?? ""
  );
}

export async function storedText(store: LogStore): Promise<string> {
  const parts: unknown[] = [];
  for (const head of await store.heads()) parts.push(head, await store.load(head.id));
  return JSON.stringify(parts);
}
