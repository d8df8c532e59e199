/**
 * The engine's pure decisions: from the log's state and what Kustomer says, what happened (events)
 * and what the host must be shown. Nothing here calls Kustomer, the host or the store.
 *
 * @module
 */

import {
  type AgentInfo,
  type AgentMessage,
  type DeskState,
  type EndedBy,
  type EventInput,
  isSeen,
} from "../events.ts";
import type { KustomerConversationSummary, KustomerMessage } from "../kustomer_types.ts";
import type { FileUpload } from "../host_types.ts";
import {
  byTime,
  type KustomerMethod,
  normalizeMessage,
  type OptionsOf,
  type ResponseOf,
} from "../kustomer.ts";
import { errorText, KustomerError } from "../common.ts";

/** Orders by `createdAt` only (a stable sort keeps the given order for equal times). */
const byCreatedAt = (a: KustomerMessage, b: KustomerMessage): number =>
  (Date.parse(a.createdAt) || 0) - (Date.parse(b.createdAt) || 0);

/** Whether a Kustomer message is an agent's (to the customer) with an id. */
export const isAgentMessage = (message: KustomerMessage): boolean =>
  message?.direction === "out" && typeof message.messageId === "string" &&
  message.messageId !== "";

/** Ended or never started. */
export const isOver = (state: DeskState): boolean =>
  state.status === "ended" || state.status === "idle";

/** Waiting for an agent or talking to one. */
export const isLive = (state: DeskState | undefined): boolean =>
  state?.status === "waiting" || state?.status === "connected";

/**
 * The agent messages not yet recorded, each once, in Kustomer's order (time; messages of the same
 * time in the order given), whatever order and however many times they were delivered.
 */
export function freshAgentMessages(
  state: DeskState,
  messages: Iterable<KustomerMessage>,
): AgentMessage[] {
  const fresh = new Map<string, KustomerMessage>();
  for (const message of messages) {
    if (isAgentMessage(message) && !isSeen(state, message.messageId)) {
      fresh.set(message.messageId, message);
    }
  }
  return [...fresh.values()].sort(byCreatedAt).map(normalizeMessage);
}

/** One thing the host is told when agent messages are shown. */
export type AgentStep =
  | { readonly call: "beginTransferToAnotherAgent" | "agentJoined"; readonly agent: AgentInfo }
  | { readonly call: "sendMessageToUser"; readonly message: AgentMessage };

/**
 * What the host is told for agent messages shown in order: an agent new to the chat joins (after
 * a transfer notice when another agent was there), then each message.
 */
export function agentSteps(
  current: AgentInfo | undefined,
  messages: readonly AgentMessage[],
): AgentStep[] {
  const steps: AgentStep[] = [];
  let agent = current;
  for (const message of messages) {
    if (agent?.id !== message.agent.id) {
      if (agent) steps.push({ call: "beginTransferToAnotherAgent", agent: message.agent });
      steps.push({ call: "agentJoined", agent: message.agent });
    }
    steps.push({ call: "sendMessageToUser", message });
    agent = message.agent;
  }
  return steps;
}

/**
 * User messages never confirmed (the answer was lost in a reload) that Kustomer has: matched by
 * text against the customer's messages not yet recorded, oldest first, each Kustomer message to one
 * user message. Messages this page is sending now are left alone. Every pending message is looked
 * for, requested or not: a damaged log may have lost the request.
 */
export function settleSent(
  state: DeskState,
  messages: readonly KustomerMessage[],
  sending: ReadonlySet<string> = new Set(),
): EventInput[] {
  const unmatched = messages
    .filter((m) =>
      m?.direction === "in" && typeof m.messageId === "string" && !isSeen(state, m.messageId)
    )
    .sort(byTime);
  const events: EventInput[] = [];
  for (const { id, text } of state.pending) {
    if (sending.has(id)) continue;
    const i = unmatched.findIndex((m) => (m.body ?? "") === text);
    if (i < 0) continue;
    events.push({ type: "user_message_sent", data: { id, messageId: unmatched[i].messageId } });
    unmatched.splice(i, 1);
  }
  return events;
}

/**
 * The opening message, if Kustomer has it: the customer's first message, when it carries the
 * context. Only meaningful while the opening was requested and not confirmed.
 */
export function findOpening(
  state: DeskState,
  messages: readonly KustomerMessage[],
): string | undefined {
  const first = messages.filter((m) => m?.direction === "in").sort(byTime)[0];
  return first && (first.body ?? "") === (state.context ?? "") ? first.messageId : undefined;
}

/** How far behind the page's clock Kustomer's may be when a draft's creation time is compared. */
export const CLOCK_SLACK_MS = 5 * 60_000;

/**
 * The draft a create request lost in a reload made, if Kustomer has it: the customer's earliest
 * conversation that is open, has no message, and was created no earlier than the request (less
 * {@linkcode CLOCK_SLACK_MS}). Only meaningful while creating was requested and not confirmed.
 */
export function findRequestedConversation(
  state: DeskState,
  conversations: readonly KustomerConversationSummary[],
): string | undefined {
  const since = state.conversationRequestedAt;
  if (since === undefined || state.conversationId) return undefined;
  const created = (c: KustomerConversationSummary) => Date.parse(c.createdAt ?? "");
  return conversations
    .filter((c) =>
      typeof c?.conversationId === "string" && c.conversationId !== "" && c.ended !== true &&
      !c.lastMessageAt && !c.preview && created(c) >= since - CLOCK_SLACK_MS
    )
    .sort((a, b) => created(a) - created(b))[0]?.conversationId;
}

/** Why a user message pending at the end of a chat failed. */
export const ENDED_BEFORE_SENT = "the chat ended before the message could be sent";

/**
 * The events that end a chat: who ended it, the request to end the Kustomer conversation when
 * this desk must still end it, and each user message still pending, failed.
 */
export function endEvents(
  state: DeskState,
  by: EndedBy,
  options: { reason?: string; endInKustomer?: boolean } = {},
): EventInput[] {
  if (state.status === "ended" || state.status === "idle") return [];
  const { reason, endInKustomer = by !== "agent" } = options;
  const events: EventInput[] = [
    { type: "chat_ended", data: { by, ...(reason ? { reason } : {}) } },
  ];
  if (endInKustomer && state.conversationId) events.push({ type: "end_requested", data: {} });
  for (const { id } of state.pending) {
    events.push({ type: "user_message_failed", data: { id, reason: ENDED_BEFORE_SENT } });
  }
  return events;
}

/**
 * A call to Kustomer's Core method `M`, made once the events decided with it are stored. Its
 * answer (or error) comes back as an input, decided from the state then: by `onAnswer`, or by
 * `onError` (without one, the input being handled fails with the error).
 */
export interface KustomerCall<M extends KustomerMethod> {
  /** The Core method. */
  readonly call: M;
  /** Its options. */
  readonly options: OptionsOf<M>;
  /** A timeout does not mean the connection is lost (the caller handles it). */
  readonly quiet?: boolean;
  /** What Kustomer's answer means (a pure decision). */
  onAnswer(state: DeskState, response: ResponseOf<M>): Decision;
  /** What a failure means (a pure decision). */
  onError?(state: DeskState, error: unknown): Decision;
}

/** A call to any of Kustomer's Core methods (see {@linkcode KustomerCall}). */
export type KustomerEffect = { [M in KustomerMethod]: KustomerCall<M> }[KustomerMethod];

/** Whether an error is a Kustomer call's timeout (the call may or may not have reached Kustomer). */
export const isTimeout = (error: unknown): boolean =>
  error instanceof KustomerError && error.reason === "timeout";

/** Something the engine does once the events it goes with are stored, in order. */
export type Effect =
  | AgentStep
  | KustomerEffect
  | { readonly call: "userMessageSent"; readonly id: string }
  | {
    readonly call: "userMessageFailed";
    readonly id: string;
    readonly reason: string;
    /** The caller hears of it, the host shows nothing (the user ended the chat). */
    readonly quiet?: boolean;
    /** What the caller is rejected with (by default an error that gives the reason). */
    readonly error?: unknown;
  }
  | { readonly call: "agentEndedChat" }
  /** The input being handled fails with `error` (its caller hears, or it is warned of). */
  | { readonly call: "fail"; readonly error: unknown }
  | { readonly call: "warn"; readonly message: string }
  /** Compacts the log: a snapshot instead of the events (the key leaves storage). */
  | { readonly call: "compactLog" };

/** What a decision comes to: the events to record (together), then the effects to run. */
export interface Decision {
  /** Recorded first, in one write. */
  readonly events: readonly EventInput[];
  /** Run once the events are stored, in order. */
  readonly effects: readonly Effect[];
}

const NOTHING: Decision = { events: [], effects: [] };

/** Decisions taken one after the other: all their events, then all their effects. */
function join(...decisions: Decision[]): Decision {
  return {
    events: decisions.flatMap((d) => d.events),
    effects: decisions.flatMap((d) => d.effects),
  };
}

/**
 * User messages whose sending Kustomer never confirmed but has (see {@linkcode settleSent}):
 * recorded sent, and their callers told.
 */
export function confirmSent(
  state: DeskState,
  messages: readonly KustomerMessage[],
  sending?: ReadonlySet<string>,
): Decision {
  const events = settleSent(state, messages, sending);
  return {
    events,
    effects: events.map((e): Effect => ({
      call: "userMessageSent",
      id: (e.data as { readonly id: string }).id,
    })),
  };
}

/**
 * The agent messages not yet seen, recorded together, then shown in Kustomer's order (with the
 * joins and transfers they bring): a reload never shows one twice. Nothing once the chat is over.
 */
export function showAgentMessages(
  state: DeskState,
  messages: Iterable<KustomerMessage>,
): Decision {
  const fresh = freshAgentMessages(state, messages);
  if (!fresh.length || !isLive(state)) return NOTHING;
  return {
    events: fresh.map((message): EventInput => ({
      type: "agent_message_received",
      data: { message },
    })),
    effects: agentSteps(state.agent, fresh),
  };
}

/**
 * The chat ends (see {@linkcode endEvents}); each user message still pending fails, shown failed
 * unless the user ended the chat; then the Kustomer conversation is ended when this desk must. An
 * end asked again finishes ending it in Kustomer, if that is still to do.
 */
export function chatEnded(
  state: DeskState,
  by: EndedBy,
  options: { reason?: string; endInKustomer?: boolean } = {},
): Decision {
  const events = endEvents(state, by, options);
  if (!events.length) return endInKustomer(state);
  return {
    events,
    effects: [
      ...state.pending.map((p): Effect => ({
        call: "userMessageFailed",
        id: p.id,
        reason: ENDED_BEFORE_SENT,
        ...(by === "user" ? { quiet: true } : {}),
      })),
      ...endInKustomer({
        ...state,
        endRequested: events.some((e) => e.type === "end_requested"),
      }).effects,
    ],
  };
}

/**
 * Ends the Kustomer conversation when the state asks for it (an end requested, not confirmed): the
 * answer goes to {@linkcode endConfirmed}, a failure to {@linkcode endFailed}. A timeout leaves the
 * connection alone.
 */
export function endInKustomer(state: DeskState): Decision {
  const { conversationId } = state;
  return state.endRequested && conversationId
    ? {
      events: [],
      effects: [{
        call: "endConversation",
        options: { conversationId },
        quiet: true,
        onAnswer: endConfirmed,
        onError: endFailed,
      }],
    }
    : NOTHING;
}

/** Kustomer ended the conversation: nothing is left to do there. */
export function endConfirmed(): Decision {
  return { events: [{ type: "end_confirmed", data: {} }], effects: [] };
}

/**
 * Kustomer did not end the conversation: recorded, and the input fails. A refusal is final (ended
 * as far as this desk can); a timeout or a bad token leaves the request for a later page.
 */
export function endFailed(_state: DeskState, error: unknown): Decision {
  const final = !isTimeout(error) && !(error instanceof TypeError);
  return {
    events: [
      { type: "error_recorded", data: { where: "endConversation", message: errorText(error) } },
      ...(final ? endConfirmed().events : []),
    ],
    effects: [{ call: "fail", error }],
  };
}

/**
 * Creates the Kustomer conversation, the intent recorded first (a reload then looks for the draft
 * the request made): unless `conversations` (the customer's, fetched when a request before a reload
 * may have made one) hold that draft (see {@linkcode findRequestedConversation}). The answer goes
 * to {@linkcode conversationCreated}; a failure fails the input.
 */
export function createConversation(
  state: DeskState,
  conversations: readonly KustomerConversationSummary[],
  brand?: string,
): Decision {
  if (state.conversationId) return NOTHING;
  const conversationId = findRequestedConversation(state, conversations);
  if (conversationId) return conversationCreated(state, { conversationId });
  return {
    events: [{ type: "conversation_requested", data: {} }],
    effects: [{
      call: "createConversation",
      options: { title: state.title ?? "", ...(brand ? { brand } : {}) },
      onAnswer: conversationCreated,
    }],
  };
}

/**
 * Kustomer created the conversation: recorded, and ended there too when the chat ended meanwhile.
 * An answer without a conversation id fails the input.
 */
export function conversationCreated(
  state: DeskState,
  response: { conversationId?: unknown } | undefined,
): Decision {
  const conversationId = response?.conversationId;
  if (typeof conversationId !== "string") {
    const error = new KustomerError(
      "createConversation",
      "rejected",
      "Kustomer created no conversation id",
    );
    return { events: [], effects: [{ call: "fail", error }] };
  }
  const created: EventInput = { type: "conversation_created", data: { conversationId } };
  return state.status === "ended"
    ? {
      events: [created, { type: "end_requested", data: {} }],
      effects: endInKustomer({ ...state, conversationId, endRequested: true }).effects,
    }
    : { events: [created], effects: [] };
}

/** The event of an opened conversation. */
const opened = (messageId: string): EventInput => ({
  type: "conversation_opened",
  data: { messageId },
});

/**
 * Opens the conversation with the context message, the intent recorded first: unless `messages`
 * (the conversation's, fetched when a request before a reload may have sent it) hold it (see
 * {@linkcode findOpening}), so that it goes once. The answer goes to {@linkcode openingSent}; a
 * failure fails the input.
 */
export function sendOpening(state: DeskState, messages: readonly KustomerMessage[]): Decision {
  const { conversationId, context = "", openingRequested } = state;
  if (state.opened || !conversationId) return NOTHING;
  const messageId = openingRequested && findOpening(state, messages);
  if (messageId) return { events: [opened(messageId)], effects: [] };
  return {
    events: openingRequested ? [] : [{ type: "opening_requested", data: {} }],
    effects: [{
      call: "sendMessage",
      options: { conversationId, body: context },
      onAnswer: openingSent,
    }],
  };
}

/** Kustomer took the opening message: the conversation is open (agents see it). */
export function openingSent(
  state: DeskState,
  response: { messageId?: unknown } | undefined,
): Decision {
  return isOver(state) ? NOTHING : { events: [opened(String(response?.messageId))], effects: [] };
}

/**
 * Puts the session-history key on the conversation (the agent's bot history), unless it is there
 * already. The answer goes to {@linkcode keyAttached}, a failure to {@linkcode keyFailed}.
 */
export function attachKey(state: DeskState): Decision {
  // Once attached, the key is gone from the state (see `evolve`).
  const { historyKey, conversationId, attribute = "" } = state;
  if (!historyKey || !conversationId) return NOTHING;
  return {
    events: [],
    effects: [{
      call: "describeConversation",
      options: { conversationId, customAttributes: { [attribute]: historyKey } },
      onAnswer: keyAttached,
      onError: keyFailed,
    }],
  };
}

/** Kustomer has the key: recorded, and the log compacted so that the key leaves storage at once. */
export function keyAttached(state: DeskState): Decision {
  return isOver(state) ? NOTHING : {
    events: [{ type: "history_key_attached", data: {} }],
    effects: [{ call: "compactLog" }],
  };
}

/**
 * Kustomer did not take the key: recorded and warned of. The chat goes on (the agent lacks the bot
 * history until a reconnect attaches it).
 */
export function keyFailed(state: DeskState, error: unknown): Decision {
  const reason = errorText(error);
  return {
    events: isOver(state) ? [] : [{ type: "history_key_failed", data: { reason } }],
    effects: [{
      call: "warn",
      message: `could not attach the session-history key (${reason}); will retry on reconnect`,
    }],
  };
}

/**
 * Sends a pending user message (with its files, which the log does not keep) once the
 * conversation is open: the intent recorded, then the call. The answer goes to
 * {@linkcode messageSent}, a failure to {@linkcode messageFailed}; a message whose files were lost
 * in a reload fails at once.
 */
export function deliverMessage(
  state: DeskState,
  id: string,
  files: readonly FileUpload[] = [],
): Decision {
  const pending = state.pending.find((p) => p.id === id);
  const { conversationId, opened } = state;
  if (!pending || !conversationId || !opened) return NOTHING;
  const { text, files: names } = pending;
  if (names.length && !files.length && !text) {
    return messageFailed(
      state,
      id,
      new Error(`the files (${names.join(", ")}) were lost in a page reload`),
    );
  }
  return {
    events: [{ type: "user_message_requested", data: { id } }],
    effects: [{
      call: "sendMessage",
      options: {
        conversationId,
        ...(text ? { body: text } : {}),
        ...(files.length ? { attachments: files.map((f) => ({ file: f.file })) } : {}),
      },
      onAnswer: (after, response) => messageSent(after, id, response),
      onError: (after, error) => messageFailed(after, id, error),
    }],
  };
}

/**
 * Sends pending user message `id` before the desk ends the chat itself, as
 * {@linkcode deliverMessage} does, but quietly (a timeout does not mean this page lost Kustomer),
 * and a failure fails the input, not the message: the sends stop there, and the end fails those
 * left.
 */
export function deliverLast(
  state: DeskState,
  id: string,
  files?: readonly FileUpload[],
): Decision {
  const { events, effects } = deliverMessage(state, id, files);
  return {
    events,
    effects: effects.map((effect) =>
      "onAnswer" in effect ? { ...effect, quiet: true, onError: undefined } : effect
    ),
  };
}

/**
 * Kustomer took user message `id`: recorded sent, its caller told (and its files marked sent).
 * Nothing when something else settled it meanwhile (a catch-up that found it on Kustomer).
 */
export function messageSent(
  state: DeskState,
  id: string,
  response: { messageId?: unknown } | undefined,
): Decision {
  if (!state.pending.some((p) => p.id === id)) return NOTHING;
  return {
    events: [{ type: "user_message_sent", data: { id, messageId: String(response?.messageId) } }],
    effects: [{ call: "userMessageSent", id }],
  };
}

/**
 * User message `id` could not go: recorded failed, its caller rejected with `error`, the host shows
 * it failed. Nothing when something else settled it meanwhile (the end of the chat).
 */
export function messageFailed(state: DeskState, id: string, error: unknown): Decision {
  if (!state.pending.some((p) => p.id === id)) return NOTHING;
  const reason = errorText(error);
  return {
    events: [{ type: "user_message_failed", data: { id, reason } }],
    effects: [{ call: "userMessageFailed", id, reason, error }],
  };
}

/** Options of {@linkcode agentEnded}. */
export interface AgentEndedOptions {
  /** Show the agent's last words (the host still has the chat). @default {true} */
  readonly show?: boolean;
  /** Tell the host the agent ended the chat (it then ends its own). @default {true} */
  readonly tellHost?: boolean;
  /** Why, for the log. */
  readonly reason?: string;
}

/**
 * The agent ended the chat (seen live, or found ended after a reload), with Kustomer's messages
 * fetched after the end: final, since an ended conversation takes no more. A user message on
 * Kustomer went; every other one pending cannot go any more and fails. The agent's last words are
 * shown first, then the failures, then the host hears of the end.
 */
export function agentEnded(
  state: DeskState,
  messages: readonly KustomerMessage[],
  options: AgentEndedOptions = {},
): Decision {
  if (isOver(state)) return NOTHING;
  const { show = true, tellHost = true, reason } = options;
  const sent = confirmSent(state, messages);
  const ids = new Set(sent.effects.map((e) => (e as { readonly id: string }).id));
  const rest = { ...state, pending: state.pending.filter((p) => !ids.has(p.id)) };
  return join(
    sent,
    show ? showAgentMessages(state, messages) : NOTHING,
    chatEnded(rest, "agent", reason ? { reason } : {}),
    { events: [], effects: tellHost ? [{ call: "agentEndedChat" }] : [] },
  );
}
