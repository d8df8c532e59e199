/**
 * What a resume after a reload costs, counted (never timed): the page begins reading the log in
 * `reconnect()` itself, while the engine loads, and the engine takes that read over; it reads the
 * log once and asks for the chat's lock once.
 */

import { assert, assertEquals } from "@std/assert";
import { KustomerServiceDesk } from "../src/service_desk.ts";
import type { LogStore } from "../src/log_store.ts";
import { lockName } from "../src/options.ts";
import { connect, world } from "./_world.ts";
import { LockRegistry } from "./_locks.ts";
import { PageCore, RecordingHost, until } from "./_helpers.ts";

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(
    `a resume over ${kind} reads the log while the engine loads, and asks for the lock, once each`,
    async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      w.sim.agentSend(w.conversationId, "Hi, I'm Ada.");
      await until(() => w.host.texts().length === 1, "the agent's message");
      const escalationId = w.host.record.escalationId as string;
      w.page.unload();

      // The reloaded page: its store's reads and its lock requests counted.
      let loads = 0;
      const store: LogStore = {
        write: (...args) => w.store.write(...args),
        load: (id) => {
          loads++;
          return w.store.load(id);
        },
        events: (...args) => w.store.events(...args),
        remove: (id) => w.store.remove(id),
        heads: () => w.store.heads(),
      };
      const registry = new LockRegistry();
      const pageLocks = registry.page();
      const requested: string[] = [];
      const locks = {
        request: (...args: Parameters<typeof pageLocks.request>) => {
          requested.push(args[0]);
          return pageLocks.request(...args);
        },
      };
      const page = new PageCore(w.sim);
      const host = new RecordingHost({ state: w.host.state, connected: true });
      const desk = new KustomerServiceDesk(
        { callback: host.callback, persistedState: host.state, instance: host.instance },
        { ...w.options, store, locks, core: page.core },
      );
      const resumed = desk.reconnect();
      assertEquals(loads, 1, "the read began at once, before the engine loaded");
      assertEquals(await resumed, true);
      assertEquals(requested, [lockName(escalationId)], "once");
      assertEquals(loads, 1, "the log was read once");
      assert(registry.held.has(lockName(escalationId)), "the page holds the chat's lock");
      assertEquals(desk.state?.status, "connected");
      w.sim.agentSend(w.conversationId, "Welcome back.");
      await until(() => host.texts().includes("Welcome back."), "the live chat after the resume");
      page.unload();
      pageLocks.unload();
      await w.clock.advance(60_000);
      w.sim.dispose();
    },
  );
}
