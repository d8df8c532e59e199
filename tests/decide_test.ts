/** The engine's pure decisions, given a state and what Kustomer says, then what happened. */

import { assertEquals } from "@std/assert";
import { type DeskState, type EventInput, replay, type StoredEvent } from "../src/events.ts";
import type { KustomerConversationSummary, KustomerMessage } from "../src/kustomer_types.ts";
import {
  agentEnded,
  agentSteps,
  chatEnded,
  CLOCK_SLACK_MS,
  confirmSent,
  ENDED_BEFORE_SENT,
  endEvents,
  findOpening,
  findRequestedConversation,
  freshAgentMessages,
  resumePlan,
  settleSent,
  showAgentMessages,
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

Deno.test("agentEnded() settles every pending message against Kustomer's final word", async (t) => {
  const joined = given(...opened, received(agent("a1", 1)));
  await t.step(
    "one user message on Kustomer, one not: sent and failed; last words shown, then the end",
    () => {
      const state = given(
        ...opened,
        received(agent("a1", 1)),
        queued("u1", "on Kustomer"),
        requested("u1"),
        queued("u2", "never got there"),
        requested("u2"),
      );
      const messages = [
        agent("a1", 1),
        customer("k1", 2, "on Kustomer"),
        agent("a2", 3, "ada", "bye"),
      ];
      const { events, effects } = agentEnded(state, messages);
      assertEquals(events.map((e) => e.type), [
        "user_message_sent",
        "agent_message_received",
        "chat_ended",
        "user_message_failed",
      ]);
      assertEquals(events[0], { type: "user_message_sent", data: { id: "u1", messageId: "k1" } });
      assertEquals(events[3], {
        type: "user_message_failed",
        data: { id: "u2", reason: ENDED_BEFORE_SENT },
      });
      assertEquals(
        effects.map((e) =>
          e.call === "sendMessageToUser"
            ? `show ${e.message.messageId}`
            : "id" in e
            ? `${e.call} ${e.id}`
            : e.call
        ),
        ["userMessageSent u1", "show a2", "userMessageFailed u2", "agentEndedChat"],
      );
    },
  );
  await t.step(
    "a user message being sent right now is settled too (its answer may be lost)",
    () => {
      const state = given(...opened, queued("u1", "x"), requested("u1"));
      const { events } = agentEnded(state, [customer("k1", 2, "x")]);
      assertEquals(events.map((e) => e.type), ["user_message_sent", "chat_ended"]);
    },
  );
  await t.step("found ended after a reload, not shown: no last words, the host not told", () => {
    const { events, effects } = agentEnded(joined, [agent("a2", 3)], {
      show: false,
      tellHost: false,
      reason: "away",
    });
    assertEquals(events, [{ type: "chat_ended", data: { by: "agent", reason: "away" } }]);
    assertEquals(effects, []);
  });
  await t.step("already ended: nothing", () => {
    const ended = given(...opened, { type: "chat_ended", data: { by: "user" } });
    assertEquals(agentEnded(ended, [agent("a2", 3)]), { events: [], effects: [] });
  });
});

Deno.test("showAgentMessages() records the fresh ones together, then shows them", async (t) => {
  await t.step("a new agent joins before their first message", () => {
    const { events, effects } = showAgentMessages(given(...opened), [agent("a1", 1)]);
    assertEquals(events.map((e) => e.type), ["agent_message_received"]);
    assertEquals(effects.map((e) => e.call), ["agentJoined", "sendMessageToUser"]);
  });
  await t.step("nothing once the chat is over", () => {
    const over = given(...opened, { type: "chat_ended", data: { by: "user" } });
    assertEquals(showAgentMessages(over, [agent("a1", 1)]), { events: [], effects: [] });
  });
});

Deno.test("confirmSent() records what Kustomer has as sent and tells the caller", () => {
  const state = given(...opened, queued("u1", "hello"), requested("u1"));
  assertEquals(confirmSent(state, [customer("k1", 1, "hello")]), {
    events: [{ type: "user_message_sent", data: { id: "u1", messageId: "k1" } }],
    effects: [{ call: "userMessageSent", id: "u1" }],
  });
  assertEquals(confirmSent(state, [customer("k1", 1, "hello")], new Set(["u1"])).events, []);
});

Deno.test("chatEnded() fails what is pending: shown unless the user ended the chat", () => {
  const state = given(...opened, queued("u1", "still there?"));
  const failed = (by: "user" | "agent" | "system") => chatEnded(state, by).effects;
  assertEquals(failed("user"), [
    { call: "userMessageFailed", id: "u1", reason: ENDED_BEFORE_SENT, quiet: true },
  ]);
  assertEquals(failed("agent"), [
    { call: "userMessageFailed", id: "u1", reason: ENDED_BEFORE_SENT },
  ]);
  assertEquals(chatEnded(state, "user").events, endEvents(state, "user"));
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
