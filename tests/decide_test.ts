/** The engine's pure decisions, given a state and what Kustomer says, then what happened. */

import { assertEquals } from "@std/assert";
import { type DeskState, type EventInput, replay, type StoredEvent } from "../src/events.ts";
import type { KustomerConversationSummary, KustomerMessage } from "../src/kustomer_types.ts";
import {
  agentSteps,
  CLOCK_SLACK_MS,
  ENDED_BEFORE_SENT,
  endEvents,
  findOpening,
  findRequestedConversation,
  freshAgentMessages,
  resumePlan,
  settleSent,
} from "../src/engine/decide.ts";
import { normalizeMessage } from "../src/kustomer.ts";

/** The state after these events. */
function given(...events: EventInput[]): DeskState {
  return replay(
    events.map((e, i) => ({ ...e, v: 1, seq: i + 1, at: 1_000 + i }) as StoredEvent),
  );
}

const t0 = Date.UTC(2026, 10, 28, 12);
const at = (s: number) => new Date(t0 + s * 1000).toISOString();
const agent = (id: string, s: number, by = "ada", body = id): KustomerMessage => ({
  messageId: id,
  conversationId: "c1",
  body,
  createdAt: at(s),
  direction: "out",
  attachments: [],
  sentBy: { type: "user", id: by, displayName: by.toUpperCase() },
});
const customer = (id: string, s: number, body: string): KustomerMessage => ({
  ...agent(id, s, "me", body),
  direction: "in",
});

const opened: EventInput[] = [
  { type: "escalation_started", data: { title: "T", context: "CONTEXT", attribute: "k" } },
  { type: "conversation_created", data: { conversationId: "c1" } },
  { type: "opening_requested", data: {} },
  { type: "conversation_opened", data: { messageId: "open" } },
];
const queued = (id: string, text: string): EventInput => ({
  type: "user_message_queued",
  data: { id, text, files: [] },
});
const requested = (id: string): EventInput => ({ type: "user_message_requested", data: { id } });
const received = (m: KustomerMessage): EventInput => ({
  type: "agent_message_received",
  data: { message: normalizeMessage(m) },
});

Deno.test("freshAgentMessages() picks unseen agent messages in Kustomer's order", async (t) => {
  await t.step("several, newest first, some twice: each once, oldest first", () => {
    const state = given(...opened);
    const fresh = freshAgentMessages(
      state,
      [agent("a3", 3), agent("a1", 1), agent("a2", 2)]
        .concat([agent("a1", 1)]),
    );
    assertEquals(fresh.map((m) => m.messageId), ["a1", "a2", "a3"]);
  });
  await t.step("those already recorded and customer messages are left out", () => {
    const state = given(...opened, received(agent("a1", 1)));
    const fresh = freshAgentMessages(state, [
      agent("a2", 2),
      agent("a1", 1),
      customer("u", 0, "x"),
    ]);
    assertEquals(fresh.map((m) => m.messageId), ["a2"]);
  });
  await t.step("the same time: in the order given", () => {
    const fresh = freshAgentMessages(given(...opened), [agent("b", 1), agent("a", 1)]);
    assertEquals(fresh.map((m) => m.messageId), ["b", "a"]);
  });
});

Deno.test("agentSteps() joins a new agent, and a transfer only when the agent changes", () => {
  const [a1, a2, g1] = [agent("a1", 1), agent("a2", 2), agent("g1", 3, "grace")].map(
    normalizeMessage,
  );
  const names = (current: DeskState["agent"], ms: typeof a1[]) =>
    agentSteps(current, ms).map((s) =>
      s.call === "sendMessageToUser" ? s.message.messageId : `${s.call}:${s.agent.id}`
    );
  assertEquals(names(undefined, [a1, a2]), ["agentJoined:ada", "a1", "a2"]);
  assertEquals(names(a1.agent, [a2, g1]), [
    "a2",
    "beginTransferToAnotherAgent:grace",
    "agentJoined:grace",
    "g1",
  ]);
});

Deno.test("settleSent() matches unconfirmed user messages against Kustomer's history", async (t) => {
  await t.step("each Kustomer message settles one user message, oldest first", () => {
    const state = given(...opened, queued("u1", "hello"), requested("u1"), queued("u2", "hello"));
    assertEquals(settleSent(state, [customer("k1", 1, "hello")]), [
      { type: "user_message_sent", data: { id: "u1", messageId: "k1" } },
    ]);
  });
  await t.step("the same text twice, the second lost: only the first matches", () => {
    const state = given(
      ...opened,
      queued("u1", "ok"),
      requested("u1"),
      { type: "user_message_sent", data: { id: "u1", messageId: "k1" } },
      queued("u2", "ok"),
      requested("u2"),
    );
    assertEquals(settleSent(state, [customer("k1", 1, "ok")]), []);
  });
  await t.step("a lost message queued before one that arrived: only the one that arrived", () => {
    const state = given(
      ...opened,
      queued("u1", "first"),
      requested("u1"),
      queued("u2", "second"),
      requested("u2"),
    );
    assertEquals(settleSent(state, [customer("k2", 2, "second")]), [
      { type: "user_message_sent", data: { id: "u2", messageId: "k2" } },
    ]);
  });
  await t.step("a message this page is sending now is left alone", () => {
    const state = given(...opened, queued("u1", "hi"), requested("u1"));
    assertEquals(settleSent(state, [customer("k1", 1, "hi")], new Set(["u1"])), []);
  });
});

Deno.test("findOpening() finds the opening message only when Kustomer has it", () => {
  const state = given(...opened.slice(0, 3));
  assertEquals(findOpening(state, []), undefined);
  assertEquals(findOpening(state, [customer("k0", 0, "CONTEXT")]), "k0");
  assertEquals(
    findOpening(state, [customer("k9", 9, "CONTEXT"), customer("k1", 1, "hi")]),
    undefined,
  );
});

Deno.test("findRequestedConversation() takes up the draft a lost create request made", async (t) => {
  const started: EventInput = {
    type: "escalation_started",
    data: { title: "T", context: "C", attribute: "k" },
  };
  const requestedAt = 1_001; // given() times events from 1_000 ms, one ms apart
  const state = given(started, { type: "conversation_requested", data: {} });
  const conversation = (
    conversationId: string,
    afterMs: number,
    extra: Partial<KustomerConversationSummary> = {},
  ): KustomerConversationSummary => ({
    conversationId,
    createdAt: new Date(requestedAt + afterMs).toISOString(),
    ended: false,
    ...extra,
  });
  await t.step("the earliest open empty conversation created since the request", () => {
    assertEquals(
      findRequestedConversation(state, [conversation("later", 900), conversation("draft", 200)]),
      "draft",
    );
  });
  await t.step("Kustomer's clock a little behind the page's: still found", () => {
    assertEquals(findRequestedConversation(state, [conversation("draft", -60_000)]), "draft");
  });
  await t.step("ended, with messages, or older than the request: none", () => {
    assertEquals(
      findRequestedConversation(state, [
        conversation("ended", 100, { ended: true }),
        conversation("chatted", 100, { preview: "hi", lastMessageAt: "x" }),
        conversation("old", -CLOCK_SLACK_MS - 1),
      ]),
      undefined,
    );
  });
  await t.step("no request, or the conversation already known: none", () => {
    assertEquals(findRequestedConversation(given(started), [conversation("draft", 1)]), undefined);
    const known = given(started, { type: "conversation_requested", data: {} }, {
      type: "conversation_created",
      data: { conversationId: "c1" },
    });
    assertEquals(findRequestedConversation(known, [conversation("draft", 1)]), undefined);
  });
});

Deno.test("endEvents() ends once, asks Kustomer to end when it must, fails what is pending", () => {
  const state = given(...opened, queued("u1", "still there?"));
  assertEquals(endEvents(state, "user"), [
    { type: "chat_ended", data: { by: "user" } },
    { type: "end_requested", data: {} },
    { type: "user_message_failed", data: { id: "u1", reason: ENDED_BEFORE_SENT } },
  ]);
  assertEquals(endEvents(state, "agent").map((e) => e.type), ["chat_ended", "user_message_failed"]);
  assertEquals(
    endEvents(given(...opened, { type: "chat_ended", data: { by: "user" } }), "agent"),
    [],
  );
});

Deno.test("resumePlan() settles half-done effects before acting again", async (t) => {
  await t.step("an end requested and not confirmed: end it in Kustomer", () => {
    const state = given(...opened, { type: "chat_ended", data: { by: "user" } }, {
      type: "end_requested",
      data: {},
    });
    assertEquals(resumePlan(state), ["end_in_kustomer"]);
    assertEquals(resumePlan(given(...opened, { type: "chat_ended", data: { by: "agent" } })), []);
  });
  await t.step("an opening requested and not confirmed: look for it before sending", () => {
    assertEquals(resumePlan(given(...opened.slice(0, 3))), ["settle_opening", "catch_up"]);
    assertEquals(resumePlan(given(...opened.slice(0, 2))), ["send_opening", "catch_up"]);
  });
  await t.step("no conversation yet, and a key to attach", () => {
    const state = given({
      type: "escalation_started",
      data: { title: "T", context: "C", attribute: "k", historyKey: "KEY" },
    });
    assertEquals(resumePlan(state), [
      "create_conversation",
      "send_opening",
      "attach_key",
      "catch_up",
    ]);
  });
  await t.step("a conversation requested and not confirmed: look for its draft first", () => {
    const state = given({
      type: "escalation_started",
      data: { title: "T", context: "C", attribute: "k" },
    }, { type: "conversation_requested", data: {} });
    assertEquals(resumePlan(state), ["settle_conversation", "send_opening", "catch_up"]);
  });
});
