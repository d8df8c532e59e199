/** The engine's pure decisions, given a state and what Kustomer says, then what happened. */

import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import { type DeskState, type EventInput, replay, type StoredEvent } from "../src/events.ts";
import type { KustomerConversationSummary, KustomerMessage } from "../src/kustomer_types.ts";
import {
  agentEnded,
  agentSteps,
  attachKey,
  chatEnded,
  CLOCK_SLACK_MS,
  confirmSent,
  conversationCreated,
  createConversation,
  type Decision,
  deliverLast,
  deliverMessage,
  endConfirmed,
  ENDED_BEFORE_SENT,
  endEvents,
  endFailed,
  endInKustomer,
  findOpening,
  findRequestedConversation,
  freshAgentMessages,
  keyAttached,
  keyFailed,
  type KustomerEffect,
  messageFailed,
  messageSent,
  openingSent,
  sendOpening,
  settleSent,
  showAgentMessages,
} from "../src/engine/decide.ts";
import { normalizeMessage } from "../src/kustomer.ts";
import { KustomerError } from "../src/common.ts";

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
  const failed = (by: "user" | "agent" | "system") =>
    chatEnded(state, by).effects.filter((e) => e.call === "userMessageFailed");
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

// --- Kustomer calls as effects: given events, when an input (or Kustomer's answer), then events
// and effects.

/** The Kustomer calls among a decision's effects. */
function callsOf(decision: Decision): KustomerEffect[] {
  return decision.effects.filter((e): e is KustomerEffect => "onAnswer" in e);
}

/** The one Kustomer call of a decision. */
function theCall(decision: Decision): KustomerEffect {
  const calls = callsOf(decision);
  assertEquals(calls.length, 1, "one Kustomer call");
  return calls[0];
}

const ended: EventInput = { type: "chat_ended", data: { by: "user" } };
const endRequested: EventInput = { type: "end_requested", data: {} };

Deno.test("deliverLast() sends as deliverMessage(), quietly; a failure fails the input", async (t) => {
  const state = given(...opened, queued("u1", "hi"));
  await t.step("a pending message: requested, then a quiet sendMessage with no onError", () => {
    const decision = deliverLast(state, "u1");
    assertEquals(decision.events, [requested("u1")]);
    const send = theCall(decision);
    assertEquals([send.call, send.options, send.quiet], [
      "sendMessage",
      { conversationId: "c1", body: "hi" },
      true,
    ]);
    assertEquals(send.onError, undefined, "a failure fails the input, and the sends stop");
  });
  await t.step("Kustomer took it: recorded sent, the caller told", () => {
    const after = given(...opened, queued("u1", "hi"), requested("u1"));
    assertEquals(theCall(deliverLast(state, "u1")).onAnswer(after, { messageId: "k1" } as never), {
      events: [{ type: "user_message_sent", data: { id: "u1", messageId: "k1" } }],
      effects: [{ call: "userMessageSent", id: "u1" }],
    });
  });
  await t.step(
    "files lost in a reload: failed at once, shown failed as deliverMessage() does",
    () => {
      const lost = given(...opened, {
        type: "user_message_queued",
        data: { id: "u3", text: "", files: [{ name: "a.pdf", size: 1, type: "application/pdf" }] },
      });
      const decision = deliverLast(lost, "u3");
      const reason = "the files (a.pdf) were lost in a page reload";
      assertEquals(decision.events, [{ type: "user_message_failed", data: { id: "u3", reason } }]);
      const [failed] = decision.effects as { call: string; quiet?: boolean }[];
      assertEquals(
        [decision.effects.length, failed.call, failed.quiet],
        [1, "userMessageFailed", undefined],
        "shown failed (not quiet)",
      );
    },
  );
  await t.step("the conversation not open, or the message not pending: nothing", () => {
    const unopened = given(opened[0], opened[1], queued("u1", "hi"));
    assertEquals(deliverLast(unopened, "u1"), { events: [], effects: [] });
    assertEquals(deliverLast(state, "u9"), { events: [], effects: [] });
  });
});

Deno.test("deliverMessage() records the intent, then sends; the answer settles it", async (t) => {
  const state = given(...opened, queued("u1", "hi"));
  await t.step("a pending message: requested, then sendMessage with its text", () => {
    const decision = deliverMessage(state, "u1");
    assertEquals(decision.events, [requested("u1")]);
    const send = theCall(decision);
    assertEquals([send.call, send.options], ["sendMessage", { conversationId: "c1", body: "hi" }]);
  });
  await t.step("its files go as attachments (and no body when there is no text)", () => {
    const file = new File(["x"], "a.pdf", { type: "application/pdf" });
    const withFile = given(...opened, {
      type: "user_message_queued",
      data: { id: "u2", text: "", files: [{ name: "a.pdf", size: 1, type: "application/pdf" }] },
    });
    const send = theCall(deliverMessage(withFile, "u2", [{ id: "f1", file }]));
    assertEquals(send.options, { conversationId: "c1", attachments: [{ file }] });
  });
  await t.step("Kustomer took it: recorded sent, the caller told", () => {
    const send = theCall(deliverMessage(state, "u1"));
    const after = given(...opened, queued("u1", "hi"), requested("u1"));
    assertEquals(send.onAnswer(after, { messageId: "k1" } as never), {
      events: [{ type: "user_message_sent", data: { id: "u1", messageId: "k1" } }],
      effects: [{ call: "userMessageSent", id: "u1" }],
    });
  });
  await t.step("Kustomer refused: recorded failed, the caller rejected with the error", () => {
    const send = theCall(deliverMessage(state, "u1"));
    const error = new KustomerError("sendMessage", "rejected", "no");
    const after = given(...opened, queued("u1", "hi"), requested("u1"));
    assertEquals(send.onError?.(after, error), {
      events: [{ type: "user_message_failed", data: { id: "u1", reason: "KustomerError: no" } }],
      effects: [{ call: "userMessageFailed", id: "u1", reason: "KustomerError: no", error }],
    });
  });
  await t.step("settled meanwhile (the chat ended): the answer changes nothing", () => {
    const over = given(...opened, queued("u1", "hi"), requested("u1"), ended, {
      type: "user_message_failed",
      data: { id: "u1", reason: ENDED_BEFORE_SENT },
    });
    assertEquals(messageSent(over, "u1", { messageId: "k1" }), { events: [], effects: [] });
    assertEquals(messageFailed(over, "u1", new Error("late")), { events: [], effects: [] });
  });
  await t.step("files lost in a reload: failed at once, with the reason, nothing sent", () => {
    const lost = given(...opened, {
      type: "user_message_queued",
      data: { id: "u3", text: "", files: [{ name: "a.pdf", size: 1, type: "application/pdf" }] },
    });
    const decision = deliverMessage(lost, "u3", []);
    assertEquals(callsOf(decision), []);
    assertEquals(decision.events, [{
      type: "user_message_failed",
      data: { id: "u3", reason: "the files (a.pdf) were lost in a page reload" },
    }]);
    assertEquals(decision.effects.map((e) => e.call), ["userMessageFailed"]);
  });
  await t.step("not pending, or the conversation not open yet: nothing", () => {
    assertEquals(deliverMessage(state, "nope"), { events: [], effects: [] });
    const notOpen = given(...opened.slice(0, 3), queued("u1", "hi"));
    assertEquals(deliverMessage(notOpen, "u1"), { events: [], effects: [] });
  });
});

Deno.test("chatEnded() ends the Kustomer conversation as an effect; its answer confirms", async (t) => {
  const endCall = {
    call: "endConversation",
    options: { conversationId: "c1" },
    quiet: true,
    onAnswer: endConfirmed,
    onError: endFailed,
  };
  await t.step("the user ends: end requested, then endConversation (a timeout is quiet)", () => {
    const decision = chatEnded(given(...opened), "user");
    assertEquals(decision.events, [{ type: "chat_ended", data: { by: "user" } }, endRequested]);
    assertEquals(decision.effects, [endCall]);
  });
  await t.step("the agent ended it: nothing to end in Kustomer", () => {
    assertEquals(callsOf(chatEnded(given(...opened), "agent")), []);
  });
  await t.step("ended, the end not confirmed: ending again finishes it, and only that", () => {
    assertEquals(chatEnded(given(...opened, ended, endRequested), "system"), {
      events: [],
      effects: [endCall],
    });
    assertEquals(endInKustomer(given(...opened, ended, endRequested)).effects, [endCall]);
    const confirmed = given(...opened, ended, endRequested, ...endConfirmed().events);
    assertEquals(chatEnded(confirmed, "system"), { events: [], effects: [] });
  });
  await t.step("Kustomer ended it: confirmed", () => {
    assertEquals(endConfirmed(), { events: [{ type: "end_confirmed", data: {} }], effects: [] });
  });
  await t.step("refused: recorded, final, and the input fails", () => {
    const error = new KustomerError("endConversation", "rejected", "no");
    assertEquals(endFailed(given(...opened, ended, endRequested), error), {
      events: [
        {
          type: "error_recorded",
          data: { where: "endConversation", message: "KustomerError: no" },
        },
        { type: "end_confirmed", data: {} },
      ],
      effects: [{ call: "fail", error }],
    });
  });
  await t.step("a timeout or a bad token: recorded, left for a later page", () => {
    for (
      const error of [
        new KustomerError("endConversation", "timeout", "slow"),
        new TypeError("getJwt() must resolve to a JWT string"),
      ]
    ) {
      const { events, effects } = endFailed(given(...opened, ended, endRequested), error);
      assertEquals(events.map((e) => e.type), ["error_recorded"]);
      assertEquals(effects, [{ call: "fail", error }]);
    }
  });
});

Deno.test("createConversation() creates once, taking up a draft a lost request made", async (t) => {
  const started: EventInput = {
    type: "escalation_started",
    data: { title: "T", context: "C", attribute: "k" },
  };
  const draftRequested: EventInput = { type: "conversation_requested", data: {} };
  const draft: KustomerConversationSummary = {
    conversationId: "draft",
    createdAt: new Date(1_001).toISOString(),
    ended: false,
  };
  await t.step("no request before: requested, then createConversation with the title", () => {
    const decision = createConversation(given(started), []);
    assertEquals(decision.events, [draftRequested]);
    assertEquals(decision.effects, [{
      call: "createConversation",
      options: { title: "T" },
      onAnswer: conversationCreated,
    }]);
    assertEquals(theCall(createConversation(given(started), [], "b1")).options, {
      title: "T",
      brand: "b1",
    });
  });
  await t.step(
    "a request before a reload, its draft on Kustomer: taken up, nothing created",
    () => {
      assertEquals(createConversation(given(started, draftRequested), [draft]), {
        events: [{ type: "conversation_created", data: { conversationId: "draft" } }],
        effects: [],
      });
    },
  );
  await t.step("a request before a reload, no draft found: created again", () => {
    const decision = createConversation(given(started, draftRequested), []);
    assertEquals(callsOf(decision).map((c) => c.call), ["createConversation"]);
  });
  await t.step("the conversation known: nothing", () => {
    assertEquals(createConversation(given(...opened), [draft]), { events: [], effects: [] });
  });
  await t.step("Kustomer created it: recorded", () => {
    assertEquals(conversationCreated(given(started, draftRequested), { conversationId: "c9" }), {
      events: [{ type: "conversation_created", data: { conversationId: "c9" } }],
      effects: [],
    });
  });
  await t.step("the chat ended while Kustomer created it: ended there too", () => {
    const over = given(started, draftRequested, { type: "chat_ended", data: { by: "user" } });
    const decision = conversationCreated(over, { conversationId: "c9" });
    assertEquals(decision.events, [
      { type: "conversation_created", data: { conversationId: "c9" } },
      endRequested,
    ]);
    const end = theCall(decision);
    assertEquals([end.call, end.options], ["endConversation", { conversationId: "c9" }]);
  });
  await t.step("an answer without a conversation id: the input fails", () => {
    const { events, effects } = conversationCreated(given(started), {});
    assertEquals(events, []);
    assertEquals(effects.map((e) => e.call), ["fail"]);
    const { error } = effects[0] as { readonly error: unknown };
    assertInstanceOf(error, KustomerError);
    assertEquals((error as KustomerError).method, "createConversation");
  });
});

Deno.test("sendOpening() sends the context once, even across a reload", async (t) => {
  const created = opened.slice(0, 2);
  const openingCall = {
    call: "sendMessage",
    options: { conversationId: "c1", body: "CONTEXT" },
    onAnswer: openingSent,
  };
  await t.step("first time: the intent recorded, then the context sent", () => {
    assertEquals(sendOpening(given(...created), []), {
      events: [{ type: "opening_requested", data: {} }],
      effects: [openingCall],
    });
  });
  await t.step("requested before a reload and on Kustomer: opened, nothing sent", () => {
    const state = given(...opened.slice(0, 3));
    assertEquals(sendOpening(state, [customer("k0", 0, "CONTEXT")]), {
      events: [{ type: "conversation_opened", data: { messageId: "k0" } }],
      effects: [],
    });
  });
  await t.step("requested before a reload and not on Kustomer: sent (the intent once)", () => {
    assertEquals(sendOpening(given(...opened.slice(0, 3)), []), {
      events: [],
      effects: [openingCall],
    });
  });
  await t.step("open already: nothing", () => {
    assertEquals(sendOpening(given(...opened), []), { events: [], effects: [] });
  });
  await t.step("Kustomer took it: open; the chat over meanwhile: nothing", () => {
    assertEquals(openingSent(given(...opened.slice(0, 3)), { messageId: "k1" }), {
      events: [{ type: "conversation_opened", data: { messageId: "k1" } }],
      effects: [],
    });
    assertEquals(openingSent(given(...opened.slice(0, 3), ended), { messageId: "k1" }), {
      events: [],
      effects: [],
    });
  });
});

Deno.test("attachKey() puts the key on the conversation, then drops it from storage", async (t) => {
  const withKey = given(
    {
      type: "escalation_started",
      data: { title: "T", context: "C", attribute: "attr", historyKey: "KEY" },
    },
    { type: "conversation_created", data: { conversationId: "c1" } },
  );
  await t.step("a key not yet attached: describeConversation with the key attribute", () => {
    assertEquals(attachKey(withKey), {
      events: [],
      effects: [{
        call: "describeConversation",
        options: { conversationId: "c1", customAttributes: { attr: "KEY" } },
        onAnswer: keyAttached,
        onError: keyFailed,
      }],
    });
  });
  await t.step("no key, no conversation yet, or attached already: nothing", () => {
    assertEquals(attachKey(given(...opened)), { events: [], effects: [] });
    const noConversation = given({
      type: "escalation_started",
      data: { title: "T", context: "C", attribute: "attr", historyKey: "KEY" },
    });
    assertEquals(attachKey(noConversation), { events: [], effects: [] });
    const attached = given(
      {
        type: "escalation_started",
        data: { title: "T", context: "C", attribute: "attr", historyKey: "KEY" },
      },
      { type: "conversation_created", data: { conversationId: "c1" } },
      { type: "history_key_attached", data: {} },
    );
    assertEquals(attachKey(attached), { events: [], effects: [] });
  });
  await t.step("Kustomer has it: recorded, and the log compacted (the key leaves storage)", () => {
    assertEquals(keyAttached(withKey), {
      events: [{ type: "history_key_attached", data: {} }],
      effects: [{ call: "compactLog" }],
    });
    assertEquals(keyAttached(given(...opened, ended)), { events: [], effects: [] });
  });
  await t.step("refused: recorded and warned of, the chat goes on", () => {
    const { events, effects } = keyFailed(withKey, new Error("nope"));
    assertEquals(events, [{ type: "history_key_failed", data: { reason: "nope" } }]);
    assertEquals(effects.map((e) => e.call), ["warn"]);
    assert(effects[0].call === "warn" && effects[0].message.includes("(nope)"));
    assertEquals(keyFailed(given(...opened, ended), new Error("nope")).events, []);
  });
});
