/**
 * Speed of the session log: `deno task bench`. Runs over fake-indexeddb (the real IndexedDB code
 * path in Deno) and memory; a real browser's IndexedDB is slower per transaction, which is why
 * appends made together share one transaction.
 */
import "fake-indexeddb/auto";
import { IndexedDbLogStore, type LogStore, MemoryLogStore } from "../src/log_store.ts";
import { SessionLog } from "../src/session_log.ts";
import type { EventInput } from "../src/events.ts";
import { normalizeMessage } from "../src/kustomer.ts";
import { toMessageResponse } from "../src/messages.ts";

let n = 0;
const started: EventInput = {
  type: "escalation_started",
  data: { title: "t", context: "c", attribute: "keyStr" },
};
const agent = (i: number): EventInput => ({
  type: "agent_message_received",
  data: {
    message: {
      messageId: `m${i}`,
      text: `agent message ${i} `.repeat(5),
      createdAt: new Date(i).toISOString(),
      agent: { id: "ada", nickname: "Ada" },
      attachments: [],
      quickReplies: [],
    },
  },
});

const stores: [string, () => LogStore][] = [
  ["indexeddb", () => new IndexedDbLogStore({ dbName: `bench-${++n}` })],
  ["memory", () => new MemoryLogStore()],
];

for (const [kind, make] of stores) {
  Deno.bench(`${kind}: 100 appends, one transaction each`, {
    group: `append-${kind}`,
    baseline: true,
  }, async () => {
    const log = SessionLog.create(make(), "b");
    await log.append(started);
    for (let i = 0; i < 100; i++) await log.append(agent(i));
  });
  Deno.bench(
    `${kind}: 100 appends made together (batched)`,
    { group: `append-${kind}` },
    async () => {
      const log = SessionLog.create(make(), "b");
      await log.append(started);
      await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(agent(i))));
    },
  );
}

for (const snapshotEvery of [64, 100_000]) {
  const store = new IndexedDbLogStore({ dbName: `bench-resume-${snapshotEvery}` });
  const ready = (async () => {
    const log = SessionLog.create(store, "r", { snapshotEvery });
    await log.append(started);
    for (let i = 0; i < 500; i++) await log.append(agent(i));
  })();
  Deno.bench(
    `indexeddb: resume a 500-message chat, ${
      snapshotEvery === 64 ? "with snapshots" : "no snapshot"
    }`,
    { group: "resume", baseline: snapshotEvery !== 64 },
    async () => {
      await ready;
      await SessionLog.open(store, "r");
    },
  );
}

const raw = {
  messageId: "m1",
  conversationId: "c1",
  body: "Here is your label",
  createdAt: new Date(0).toISOString(),
  direction: "out",
  attachments: [{ name: "label.png", contentType: "image/png", url: "https://x/label.png" }],
  sentBy: { id: "ada", displayName: "Ada" },
};
Deno.bench("agent message: Kustomer shape to web chat message (hot path)", () => {
  toMessageResponse(normalizeMessage(raw));
});
