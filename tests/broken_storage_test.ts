/**
 * Storage that goes away under a live chat, through the public desk and the `LogStore` seam (the
 * browser test, tests/browser/storage_test.ts, does the same against real IndexedDB).
 */

import { assert, assertEquals } from "@std/assert";
import { type KustomerServiceDesk, kustomerServiceDeskFactory, MemoryLogStore } from "../mod.ts";
import { SimulatedKustomerCore } from "../simulator.ts";
import { CheckedHost, ManualClock } from "./fuzz/checked_host.ts";

Deno.test("a log deleted under a live chat (site data cleared) is written again from memory, with one warning", async () => {
  const clock = new ManualClock();
  const sim = new SimulatedKustomerCore({ now: clock.now, scheduler: clock, objectUrls: false });
  const store = new MemoryLogStore();
  const warnings: string[] = [];
  const options = {
    core: sim,
    store,
    now: clock.now,
    scheduler: clock,
    heartbeatMs: 0,
    orphanTimeoutMs: 0,
    logger: { warn: (m: string) => void warnings.push(m) },
  };
  const host = new CheckedHost();
  const desk = kustomerServiceDeskFactory(options)({
    callback: host.callback,
  }) as KustomerServiceDesk;
  await clock.drive(
    desk.startChat({ output: { generic: [{ response_type: "connect_to_agent" }] } }),
  );
  const id = host.state.escalationId as string;
  const conversationId = desk.state!.conversationId!;
  sim.agentSend(conversationId, "before");
  await clock.settle();

  await store.remove(id); // another tab clears the site's data
  sim.agentSend(conversationId, "after");
  await clock.settle();
  await clock.drive(desk.sendMessageToAgent({ id: "u-1", input: { text: "still here" } }, "u-1"));

  assertEquals(host.named("sendMessageToUser").length, 2, "both messages shown");
  assertEquals(warnings.length, 1, warnings.join("\n"));
  assert(warnings[0].includes("was deleted"), warnings[0]);
  assertEquals(desk.state!.status, "connected");
  const stored = await store.load(id);
  assert(stored.head, "the log is stored again");

  // A page opened over it later goes on with the same chat.
  const page2 = new CheckedHost();
  const resumed = kustomerServiceDeskFactory({ ...options, logger: { warn: () => {} } })({
    callback: page2.callback,
    persistedState: { escalationId: id },
  }) as KustomerServiceDesk;
  const outcome = await clock.drive(resumed.reconnect!());
  assertEquals(outcome.value, true);
  assertEquals(resumed.state!.conversationId, conversationId);
  assertEquals(resumed.state!.pending.length, 0);
  sim.dispose();
});
