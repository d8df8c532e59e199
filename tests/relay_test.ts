/**
 * The relay of live agent messages in Kustomer's order: an older message whose event was lost is
 * found by the catch-up and shown before the newer one that arrived, on this page and the next.
 */

import { assertEquals } from "@std/assert";
import { loadChatHistory } from "../src/history.ts";
import { until } from "./_helpers.ts";
import { connect, world } from "./_world.ts";

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(`an older message the catch-up finds over ${kind}: shown first, kept first`, async () => {
    const w = world(kind);
    await w.desk.startChat(connect(), {});
    w.sim.agentSend(w.conversationId, "one");
    await until(() => w.host.texts().length === 1, "one");
    // "two" is on Kustomer but its event is lost; "three" arrives live.
    w.sim.dropConnection();
    w.sim.agentSend(w.conversationId, "two");
    w.sim.restoreConnection();
    w.sim.agentSend(w.conversationId, "three");
    await until(() => w.host.texts().length === 3, "all three");
    assertEquals(w.host.texts(), ["one", "two", "three"]);
    const escalationId = w.host.record.escalationId as string;
    w.reload();
    const history = await loadChatHistory({ store: w.store, escalationId });
    assertEquals(
      history.map(({ message }) =>
        (message as { output: { generic: { text?: string }[] } }).output.generic
          .map((g) => g.text ?? "").join("")
      ),
      ["one", "two", "three"],
    );
    await w.dispose();
  });
}
