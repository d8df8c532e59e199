/**
 * Hostile input from Kustomer: a fixed-seed sample of the fuzzer (`deno task fuzz` runs 10,000
 * cases), and the bugs it found, each as a test of its own.
 */

import { assert, assertEquals } from "@std/assert";
import {
  type KustomerServiceDesk,
  kustomerServiceDeskFactory,
  loadChatHistory,
  MemoryLogStore,
} from "../mod.ts";
import { SimulatedKustomerCore } from "../simulator.ts";
import { runKustomerCase } from "./fuzz/kustomer_fuzz.ts";
import { CheckedHost, ManualClock } from "./fuzz/checked_host.ts";
import { HostileCore } from "./fuzz/hostile_core.ts";
import { caseSeed, Rng } from "./fuzz/rng.ts";

const SAMPLE_SEED = 20261201;
const SAMPLE_CASES = 150;

Deno.test("fuzz: 150 seeded hostile Kustomer cases break no invariant", async () => {
  const failures: string[] = [];
  let chats = 0;
  for (let i = 0; i < SAMPLE_CASES; i++) {
    const result = await runKustomerCase(caseSeed(SAMPLE_SEED, i));
    if (result.steps.includes("calm")) chats++;
    for (const problem of [...result.crashes, ...result.violations]) {
      failures.push(`case ${i} (deno task fuzz --case=${result.seed}): ${problem}`);
    }
  }
  assertEquals(failures, []);
  // The sample is worth something only if most cases got as far as a chat.
  assert(chats > SAMPLE_CASES * 0.7, `only ${chats} of ${SAMPLE_CASES} cases reached a chat`);
});

/** A started chat through a hostile Core, a checking host and a manual clock. */
async function chat() {
  const clock = new ManualClock();
  const sim = new SimulatedKustomerCore({ now: clock.now, scheduler: clock, objectUrls: false });
  const hostile = new HostileCore(sim, new Rng(1));
  const store = new MemoryLogStore();
  const host = new CheckedHost();
  const warnings: string[] = [];
  const desk = kustomerServiceDeskFactory({
    core: hostile.core,
    store,
    now: clock.now,
    scheduler: clock,
    heartbeatMs: 0,
    logger: { warn: (m) => void warnings.push(m) },
  })({ callback: host.callback }) as KustomerServiceDesk;
  await clock.drive(
    desk.startChat({ output: { generic: [{ response_type: "connect_to_agent" }] } }),
  );
  const conversationId = desk.state!.conversationId!;
  const escalationId = host.state.escalationId as string;
  const message = (fields: Record<string, unknown>) => ({
    conversationId,
    body: "hello",
    createdAt: new Date(clock.now()).toISOString(),
    direction: "out",
    attachments: [],
    sentBy: { type: "user", id: "agent-1", displayName: "Ada" },
    ...fields,
  });
  return {
    clock,
    sim,
    hostile,
    store,
    host,
    warnings,
    desk,
    conversationId,
    escalationId,
    message,
  };
}

Deno.test("an agent message with wrong-typed fields is shown once, well formed, and replays", async () => {
  const { clock, hostile, store, host, warnings, desk, escalationId, message } = await chat();
  hostile.emit(
    "onMessageReceived",
    message({
      messageId: "m-typed",
      body: { not: "text" },
      attachments: [
        { name: 5, url: {}, contentType: 7 },
        { name: "pic.png", url: "https://x/pic.png", contentType: ["image/png"] },
        null,
      ],
      sentBy: { id: 42, displayName: 5, avatarUrl: {} },
      meta: {
        template: {
          templateType: "quick_replies",
          actions: [null, { displayText: "Ok", value: {} }],
        },
      },
    }),
  );
  hostile.emit("onMessageReceived", message({ messageId: "m-list", attachments: {} }));
  await clock.settle();
  assertEquals(host.violations, []);
  assertEquals(warnings, []);
  assertEquals(host.shownIds(), ["m-typed", "m-list"]);
  const [joined] = host.named("agentJoined")[0] as [{ id: string; nickname: string }];
  assertEquals([joined.id, joined.nickname], ["42", "Agent"]);
  // The log holds what was shown: a fresh reader gets both messages back.
  const history = await loadChatHistory({ store, escalationId });
  assertEquals(history.map((h) => (h.message as { id: string }).id), ["m-typed", "m-list"]);
  await desk.endChat();
});

Deno.test("agent messages with ids such as __proto__ and constructor are shown once each", async () => {
  const { clock, hostile, host, desk, message } = await chat();
  for (const id of ["__proto__", "constructor", "toString", "__proto__"]) {
    hostile.emit("onMessageReceived", message({ messageId: id }));
  }
  await clock.settle();
  assertEquals(host.shownIds(), ["__proto__", "constructor", "toString"]);
  assertEquals(desk.transcript.map((t) => t.id), ["__proto__", "constructor", "toString"]);
  await desk.endChat();
});

Deno.test("an agent message with an empty id is not shown (it could not be shown only once)", async () => {
  const { clock, hostile, host, desk, message } = await chat();
  hostile.emit("onMessageReceived", message({ messageId: "" }));
  hostile.emit("onMessageReceived", message({ messageId: "m-1" }));
  await clock.settle();
  assertEquals(host.shownIds(), ["m-1"]);
  assertEquals(host.violations, []);
  await desk.endChat();
});
