import { assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import {
  type AgentMessage,
  decodeEvent,
  type DeskState,
  EventDecodeError,
  type EventInput,
  evolve,
  initialState,
  replay,
  type StoredEvent,
  type TranscriptEntry,
  transcriptEntry,
} from "../src/events.ts";

let seq = 0;
const ev = (input: EventInput, at = 1000): StoredEvent =>
  ({ ...input, v: 1, seq: ++seq, at }) as StoredEvent;

const agentMessage = (id: string, agent = "ada"): AgentMessage => ({
  messageId: id,
  text: `hello ${id}`,
  createdAt: "2026-11-28T12:00:00.000Z",
  agent: { id: agent, nickname: agent.toUpperCase() },
  attachments: [],
  quickReplies: [],
});

/** The agent chat the events make: each line read from the state before its event. */
function linesOf(events: StoredEvent[]): TranscriptEntry[] {
  const lines: TranscriptEntry[] = [];
  let state = initialState();
  for (const event of events) {
    const line = transcriptEntry(state, event);
    if (line) lines.push(line);
    state = evolve(state, event);
  }
  return lines;
}

const started = ev({
  type: "escalation_started",
  data: { title: "T", context: "ctx", attribute: "keyStr", historyKey: "KEY" },
});

Deno.test("evolve() walks the escalation lifecycle", () => {
  const s1 = evolve(initialState(), started);
  assertEquals([s1.status, s1.historyKey, s1.attribute], ["starting", "KEY", "keyStr"]);
  const s2 = evolve(s1, ev({ type: "conversation_created", data: { conversationId: "c1" } }));
  assertEquals([s2.status, s2.conversationId, s2.opened], ["waiting", "c1", false]);
  const s3 = evolve(s2, ev({ type: "conversation_opened", data: { messageId: "m0" } }));
  assertEquals([s3.opened, s3.seen.has("m0")], [true, true]);
  const s4 = evolve(
    s3,
    ev({ type: "agent_message_received", data: { message: agentMessage("a1") } }),
  );
  assertEquals([s4.status, s4.agent?.id, s4.agentCount, s4.unread], [
    "connected",
    "ada",
    1,
    ["a1"],
  ]);
  const s5 = evolve(
    s4,
    ev({ type: "agent_message_received", data: { message: agentMessage("a2", "grace") } }),
  );
  assertEquals([s5.agent?.id, s5.agentCount], ["grace", 2]);
  const s6 = evolve(s5, ev({ type: "chat_ended", data: { by: "agent" } }));
  assertEquals([s6.status, s6.endedBy, s6.historyKey], ["ended", "agent", undefined]);
  assertStrictEquals(evolve(s6, ev({ type: "chat_ended", data: { by: "user" } })), s6);
});

Deno.test("evolve() settles user messages once, in order", () => {
  const events = [
    started,
    ev({ type: "conversation_created", data: { conversationId: "c1" } }),
    ev({ type: "user_message_queued", data: { id: "u1", text: "one", files: [] } }),
    ev({
      type: "user_message_queued",
      data: { id: "u2", text: "", files: [{ name: "a.png", size: 1, type: "image/png" }] },
    }),
    ev({ type: "user_message_queued", data: { id: "u3", text: "three", files: [] } }),
  ];
  let s = replay(events);
  assertEquals(s.pending.map((p) => p.id), ["u1", "u2", "u3"]);
  const settled = [
    ev({ type: "user_message_sent", data: { id: "u2", messageId: "k2" } }),
    ev({ type: "user_message_failed", data: { id: "u1", reason: "nope" } }),
    ev({ type: "user_message_sent", data: { id: "u2", messageId: "k2" } }),
  ];
  s = replay(settled, s);
  assertEquals(s.pending.map((p) => p.id), ["u3"]);
  // The failed one stays in the chat, marked failed (the history shows it so).
  assertEquals(
    linesOf([...events, ...settled]).map(({ id, text, failed }) => ({ id, text, failed })),
    [{ id: "u2", text: "📎 a.png", failed: undefined }, { id: "u1", text: "one", failed: true }],
  );
  assertEquals(s.lastError, "nope");
  const again = evolve(
    s,
    ev({ type: "user_message_queued", data: { id: "u3", text: "three", files: [] } }),
  );
  assertStrictEquals(again, s, "a repeated queue event changes nothing");
});

Deno.test("evolve() ignores an agent message seen before (a log written twice replays the same)", () => {
  const events = [
    started,
    ev({ type: "conversation_created", data: { conversationId: "c1" } }),
    ev({ type: "agent_message_received", data: { message: agentMessage("a1") } }),
  ];
  const once = replay(events);
  const twice = replay([...events, events[2]]);
  assertEquals(twice, once);
});

Deno.test("evolve() costs O(1) per event: it never copies or walks the seen ids", () => {
  /** A Set that counts every walk over it (a copy walks it). */
  class CountingSet extends Set<string> {
    walks = 0;
    override [Symbol.iterator](): SetIterator<string> {
      this.walks++;
      return super[Symbol.iterator]();
    }
    override values(): SetIterator<string> {
      this.walks++;
      return super.values();
    }
    override forEach(...args: Parameters<Set<string>["forEach"]>): void {
      this.walks++;
      super.forEach(...args);
    }
  }
  const seen = new CountingSet(Array.from({ length: 10_000 }, (_, i) => `old${i}`));
  const unread: string[] = [];
  let s: DeskState = { ...replay([started]), seen, unread };
  const before = s;
  for (let i = 0; i < 100; i++) {
    s = evolve(s, ev({ type: "agent_message_received", data: { message: agentMessage(`n${i}`) } }));
    s = evolve(s, ev({ type: "user_message_sent", data: { id: `x${i}`, messageId: `k${i}` } }));
  }
  assertEquals(seen.walks, 0, "the seen ids are never copied");
  assertStrictEquals(s.seen, seen, "one Set, grown in place");
  assertStrictEquals(s.unread, unread, "one unread list, grown in place");
  assertEquals([seen.size, unread.length], [10_200, 100]);
  assertEquals(before.status, "starting", "the other fields of an earlier state never change");
  assertEquals(s.status, "connected");
});

Deno.test("the transcript is read from the message events, each line once", () => {
  const events = [
    started,
    ev({ type: "conversation_created", data: { conversationId: "c1" } }),
    ev({ type: "agent_message_received", data: { message: agentMessage("a1") } }),
    ev({ type: "user_message_queued", data: { id: "u1", text: "hi", files: [] } }),
    ev({ type: "user_message_sent", data: { id: "u1", messageId: "k1" } }),
    ev({ type: "agent_message_received", data: { message: agentMessage("a1") } }),
    ev({ type: "agent_message_received", data: { message: agentMessage("a2", "grace") } }),
  ];
  assertEquals(linesOf(events).map((t) => [t.from, t.id]), [
    ["agent", "a1"],
    ["user", "u1"],
    ["agent", "a2"],
  ]);
});

Deno.test("a new escalation starts from a clean state", () => {
  const first = replay([
    started,
    ev({ type: "conversation_created", data: { conversationId: "c1" } }),
    ev({ type: "agent_message_received", data: { message: agentMessage("a1") } }),
    ev({ type: "chat_ended", data: { by: "user" } }),
  ]);
  const second = evolve(first, started);
  assertEquals(second.agent, undefined);
  assertEquals([second.seen.size, second.unread], [0, []]);
  assertEquals(second.status, "starting");
});

Deno.test("decodeEvent() accepts good records and names what is wrong with bad ones", async (t) => {
  await t.step("good", () => {
    assertEquals(decodeEvent(started), started);
  });
  const cases: [unknown, string][] = [
    [null, "expected an event object, got null"],
    ["x", 'expected an event object, got "x"'],
    [{ ...started, v: 2 }, "unsupported event version number 2"],
    [{ ...started, seq: 0 }, "bad sequence number"],
    [{ ...started, at: "now" }, "bad time"],
    [{ ...started, type: "nope" }, 'unknown type "nope"'],
    [{ ...started, data: null }, "data must be an object"],
    [{ ...started, data: { title: 1 } }, 'field "title" must be a string'],
    [{ ...started, type: "chat_ended", data: { by: "cat" } }, 'field "by" must be'],
    [
      { ...started, type: "agent_message_received", data: { message: { messageId: "m" } } },
      'field "message.text" must be a string',
    ],
  ];
  for (const [record, message] of cases) {
    await t.step(message, () => {
      assertThrows(() => decodeEvent(record), EventDecodeError, message);
    });
  }
});

Deno.test("evolve() keeps intents until their completion", async (t) => {
  const open = replay([
    started,
    ev({ type: "conversation_created", data: { conversationId: "c1" } }),
  ]);
  await t.step("opening: requested, then opened", () => {
    const requested = evolve(open, ev({ type: "opening_requested", data: {} }));
    assertEquals([requested.openingRequested, requested.opened], [true, false]);
    const opened = evolve(requested, ev({ type: "conversation_opened", data: { messageId: "m" } }));
    assertEquals(opened.opened, true);
    assertStrictEquals(evolve(opened, ev({ type: "opening_requested", data: {} })), opened);
  });
  await t.step("a user message: queued, requested, then sent", () => {
    const queued = evolve(
      open,
      ev({ type: "user_message_queued", data: { id: "u1", text: "hi", files: [] } }),
    );
    assertEquals(queued.pending[0].requested, undefined);
    const requested = evolve(queued, ev({ type: "user_message_requested", data: { id: "u1" } }));
    assertEquals(requested.pending[0].requested, true);
    assertStrictEquals(
      evolve(requested, ev({ type: "user_message_requested", data: { id: "u1" } })),
      requested,
    );
    const sent = evolve(
      requested,
      ev({ type: "user_message_sent", data: { id: "u1", messageId: "k1" } }),
    );
    assertEquals(sent.pending, []);
  });
  await t.step("ending: requested with the end, confirmed once Kustomer ended it", () => {
    const ended = replay([
      ev({ type: "chat_ended", data: { by: "user" } }),
      ev({ type: "end_requested", data: {} }),
    ], open);
    assertEquals([ended.status, ended.endRequested], ["ended", true]);
    const confirmed = evolve(ended, ev({ type: "end_confirmed", data: {} }));
    assertEquals(confirmed.endRequested, false);
  });
  await t.step("the new events decode", () => {
    for (const type of ["opening_requested", "end_requested", "end_confirmed"]) {
      assertEquals(decodeEvent({ v: 1, seq: 1, at: 1, type, data: {} }).type, type);
    }
    assertThrows(
      () => decodeEvent({ v: 1, seq: 1, at: 1, type: "user_message_requested", data: {} }),
      EventDecodeError,
      "id",
    );
  });
});
