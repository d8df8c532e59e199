/**
 * The escalation's events, their encoding, and the pure replay reducer that turns them into state.
 *
 * @module
 */

/** The schema version written in every stored event. */
import { describe } from "./common.ts";

export const EVENT_VERSION = 1;

/** An agent as the log remembers it. */
export interface AgentInfo {
  /** Kustomer's `sentBy.id`. */
  readonly id: string;
  /** The name shown. */
  readonly nickname: string;
  /** The avatar URL. */
  readonly avatarUrl?: string;
}

/** A file attached to an agent message. */
export interface AttachmentInfo {
  /** The file name. */
  readonly name: string;
  /** Where to download it. */
  readonly url?: string;
  /** The MIME type. */
  readonly contentType?: string;
}

/** An agent message, normalised from Kustomer's shape. */
export interface AgentMessage {
  /** Kustomer's message id. */
  readonly messageId: string;
  /** The text. */
  readonly text: string;
  /** ISO time. */
  readonly createdAt: string;
  /** Who sent it. */
  readonly agent: AgentInfo;
  /** Files attached. */
  readonly attachments: readonly AttachmentInfo[];
  /** Quick-reply buttons. */
  readonly quickReplies: readonly { readonly label: string; readonly value: string }[];
}

/** Who ended a chat. */
export type EndedBy = "user" | "agent" | "system";

/** The data of each event type. */
export interface EventDataMap {
  /** The user asked for an agent; a new escalation begins. */
  escalation_started: {
    readonly title: string;
    /** The first message the agent reads: context from the bot conversation. */
    readonly context: string;
    /** The web chat session-history key, when the host gave one (dropped from state at the end). */
    readonly historyKey?: string;
    /** The custom attribute that carries the key. */
    readonly attribute: string;
  };
  /**
   * The conversation is about to be created (intent): after a reload, a resume looks on Kustomer
   * for the draft this request made before creating another.
   */
  conversation_requested: Record<string, never>;
  /** Kustomer created the conversation. */
  conversation_created: { readonly conversationId: string };
  /**
   * The opening message is about to be sent (intent): after a reload, a resume looks for it on
   * Kustomer before sending it again.
   */
  opening_requested: Record<string, never>;
  /** The first message went out: the conversation is no longer a draft. */
  conversation_opened: { readonly messageId: string };
  /** The session-history key is on the conversation. */
  history_key_attached: Record<string, never>;
  /** Attaching the key failed; it is retried on reconnect. */
  history_key_failed: { readonly reason: string };
  /** The host handed the desk a user message. */
  user_message_queued: {
    readonly id: string;
    readonly text: string;
    readonly files: readonly {
      readonly name: string;
      readonly size: number;
      readonly type: string;
    }[];
  };
  /**
   * The user message is about to be sent (intent): after a reload, a resume looks for it on
   * Kustomer before sending it again.
   */
  user_message_requested: { readonly id: string };
  /** Kustomer accepted the user message. */
  user_message_sent: { readonly id: string; readonly messageId: string };
  /** The user message could not be sent. */
  user_message_failed: { readonly id: string; readonly reason: string };
  /** An agent message arrived (and is shown to the user as soon as it is recorded). */
  agent_message_received: { readonly message: AgentMessage };
  /** The user read the agent messages up to this one. */
  messages_read: { readonly messageId: string };
  /** Kustomer sent a satisfaction survey. */
  satisfaction_received: { readonly satisfactionId: string };
  /** The chat ended. */
  chat_ended: { readonly by: EndedBy; readonly reason?: string };
  /**
   * The Kustomer conversation is to be ended (intent, recorded with or after `chat_ended`): until
   * `end_confirmed`, a later page ends it in Kustomer.
   */
  end_requested: Record<string, never>;
  /** Kustomer ended the conversation (or it was found ended): nothing is left to do there. */
  end_confirmed: Record<string, never>;
  /** Something went wrong; kept for diagnosis. */
  error_recorded: { readonly where: string; readonly message: string };
}

/** The names of all event types. */
export type EventType = keyof EventDataMap;

/** An event before it is stored: what callers append. */
export type EventInput = {
  [K in EventType]: { readonly type: K; readonly data: EventDataMap[K] };
}[EventType];

/** An event as stored: versioned, numbered and timed. */
export type StoredEvent = EventInput & {
  /** Schema version. */
  readonly v: number;
  /** Position in the log, from 1. */
  readonly seq: number;
  /** When it was recorded (ms since the epoch). */
  readonly at: number;
};

/** The lifecycle of an escalation. */
export type DeskStatus = "idle" | "starting" | "waiting" | "connected" | "ended";

/** A line of the agent chat, for the host's transcript after a reload. */
export interface TranscriptEntry {
  /** Who wrote it. */
  readonly from: "user" | "agent";
  /** When (ms since the epoch). */
  readonly at: number;
  /** The user message id or Kustomer's message id. */
  readonly id: string;
  /** The user's text (for `from: "user"`). */
  readonly text?: string;
  /** The agent message (for `from: "agent"`). */
  readonly message?: AgentMessage;
  /** The user's message could not be sent (the host's history shows it failed). */
  readonly failed?: boolean;
}

/** A user message not yet confirmed by Kustomer. */
export interface PendingUserMessage {
  /** The host's message id. */
  readonly id: string;
  /** The text. */
  readonly text: string;
  /** Names of files that went with it (files are not stored). */
  readonly files: readonly string[];
  /** When it was queued. */
  readonly at: number;
  /** Whether sending it was requested (it may be on Kustomer already, unconfirmed). */
  readonly requested?: boolean;
}

/** The desk's state: always `replay(events)`. */
export interface DeskState {
  /** Lifecycle. */
  readonly status: DeskStatus;
  /** When the escalation began. */
  readonly startedAt?: number;
  /** The conversation title. */
  readonly title?: string;
  /** The context message for the agent. */
  readonly context?: string;
  /** The session-history key; gone once the chat ended. */
  readonly historyKey?: string;
  /** The custom attribute for the key. */
  readonly attribute?: string;
  /** Whether the key is on the conversation. */
  readonly historyKeyAttached: boolean;
  /** The Kustomer conversation. */
  readonly conversationId?: string;
  /** When creating the conversation was last requested (its draft may be on Kustomer, unknown). */
  readonly conversationRequestedAt?: number;
  /** Whether the first message went out (agents cannot see a draft). */
  readonly opened: boolean;
  /** Whether sending the first message was requested (it may be on Kustomer, unconfirmed). */
  readonly openingRequested?: boolean;
  /** The agent now in the chat. */
  readonly agent?: AgentInfo;
  /** How many agents took part. */
  readonly agentCount: number;
  /** User messages queued and not yet sent or failed, oldest first. */
  readonly pending: readonly PendingUserMessage[];
  /**
   * Kustomer message ids already recorded (agent messages and sent user messages). Append-only and
   * shared by the states that follow: `evolve` adds to it in place, so an event costs O(1).
   */
  readonly seen: ReadonlySet<string>;
  /** Agent messages not yet read by the user, oldest first (shared and appended to like `seen`). */
  readonly unread: readonly string[];
  /** The last agent message the user read. */
  readonly lastReadId?: string;
  /** Satisfaction surveys received. */
  readonly satisfactionIds: readonly string[];
  /** Who ended the chat. */
  readonly endedBy?: EndedBy;
  /** Ending the Kustomer conversation was requested and not yet confirmed. */
  readonly endRequested?: boolean;
  /** The last recorded error. */
  readonly lastError?: string;
}

/** The state before any event. */
export function initialState(): DeskState {
  return {
    status: "idle",
    historyKeyAttached: false,
    opened: false,
    agentCount: 0,
    pending: [],
    seen: new Set(),
    unread: [],
    satisfactionIds: [],
  };
}

/**
 * Advances the state by one event, in O(1): the state's fields are copied, never the chat.
 * Tolerant of repeats: an agent message already seen or a user message already settled changes
 * nothing, so a log written twice replays the same.
 *
 * `seen` and `unread` grow in place and are shared with the state before (a replay starts from a
 * fresh {@linkcode initialState}); every other field of a state, once returned, never changes.
 */
export function evolve(state: DeskState, event: StoredEvent): DeskState {
  const { type, data, at } = event;
  const seen = (id: string) => (state.seen as Set<string>).add(id);
  const without = (id: string) => state.pending.filter((p) => p.id !== id);
  switch (type) {
    case "escalation_started": {
      const { title, context, historyKey, attribute } = data;
      return {
        ...initialState(),
        status: "starting",
        startedAt: at,
        title,
        context,
        historyKey,
        attribute,
      };
    }
    case "conversation_requested":
      return state.conversationId ? state : { ...state, conversationRequestedAt: at };
    case "conversation_created":
      return {
        ...state,
        conversationId: data.conversationId,
        status: state.status === "starting" ? "waiting" : state.status,
      };
    case "opening_requested":
      return state.opened ? state : { ...state, openingRequested: true };
    case "conversation_opened":
      seen(data.messageId);
      return { ...state, opened: true };
    case "history_key_attached":
      // Once on the conversation, the key (a secret) is not needed again: drop it from the state.
      return { ...state, historyKeyAttached: true, historyKey: undefined };
    case "history_key_failed":
      return { ...state, lastError: data.reason };
    case "user_message_queued": {
      const { id, text, files } = data;
      if (state.pending.some((p) => p.id === id)) return state;
      const pending = { id, text, files: files.map((f) => f.name), at };
      return { ...state, pending: [...state.pending, pending] };
    }
    case "user_message_requested":
      return state.pending.some((p) => p.id === data.id && !p.requested)
        ? {
          ...state,
          pending: state.pending.map((p) => p.id === data.id ? { ...p, requested: true } : p),
        }
        : state;
    case "user_message_sent":
      seen(data.messageId);
      return { ...state, pending: without(data.id) };
    case "user_message_failed":
      return { ...state, pending: without(data.id), lastError: data.reason };
    case "agent_message_received": {
      const { messageId: id, agent } = data.message;
      if (isSeen(state, id)) return state;
      seen(id);
      (state.unread as string[]).push(id);
      return {
        ...state,
        status: state.status === "waiting" || state.status === "starting"
          ? "connected"
          : state.status,
        agent,
        agentCount: state.agentCount + (state.agent?.id !== agent.id ? 1 : 0),
      };
    }
    case "messages_read": {
      const { unread } = state;
      return {
        ...state,
        lastReadId: data.messageId,
        unread: unread.slice(unread.indexOf(data.messageId) + 1),
      };
    }
    case "satisfaction_received": {
      const ids = state.satisfactionIds;
      return ids.includes(data.satisfactionId)
        ? state
        : { ...state, satisfactionIds: [...ids, data.satisfactionId] };
    }
    case "chat_ended":
      return state.status === "ended"
        ? state
        : { ...state, status: "ended", endedBy: data.by, historyKey: undefined };
    case "end_requested":
      return { ...state, endRequested: true };
    case "end_confirmed":
      return state.endRequested ? { ...state, endRequested: false } : state;
    case "error_recorded":
      return { ...state, lastError: `${data.where}: ${data.message}` };
  }
}

/**
 * Whether a Kustomer message id is already recorded (any string, `"__proto__"` included: `seen` is
 * a `Set`).
 */
export function isSeen(state: DeskState, messageId: string): boolean {
  return state.seen.has(messageId);
}

/** Replays events from the initial state (or from a snapshot). */
export function replay(events: Iterable<StoredEvent>, from: DeskState = initialState()): DeskState {
  let state = from;
  for (const event of events) state = evolve(state, event);
  return state;
}

/**
 * The line an event adds to the agent chat, given the state before it (read it before `evolve`):
 * a user message when Kustomer accepted it or when it failed (marked `failed`), an agent message
 * the first time it arrives.
 */
export function transcriptEntry(
  before: DeskState,
  event: StoredEvent,
): TranscriptEntry | undefined {
  const { at } = event;
  if (event.type === "agent_message_received") {
    const { message } = event.data;
    if (!isSeen(before, message.messageId)) {
      return { from: "agent", at, id: message.messageId, message };
    }
  } else if (event.type === "user_message_sent" || event.type === "user_message_failed") {
    const sent = before.pending.find((p) => p.id === event.data.id);
    if (!sent) return;
    const line = { from: "user", at, id: sent.id, text: userText(sent) } as const;
    return event.type === "user_message_sent" ? line : { ...line, failed: true };
  }
}

/**
 * The transcript with the user messages not yet confirmed, each at the time it was queued (after
 * the lines of that time or earlier): after a reload the user sees what they typed, and the desk
 * then sends each or marks it failed by its id.
 */
export function withPending(
  transcript: readonly TranscriptEntry[],
  state: DeskState,
): TranscriptEntry[] {
  const pending = state.pending.map((p): TranscriptEntry => ({
    from: "user",
    at: p.at,
    id: p.id,
    text: userText(p),
  }));
  const lines: TranscriptEntry[] = [];
  let next = 0;
  for (const line of transcript) {
    while (next < pending.length && pending[next].at < line.at) lines.push(pending[next++]);
    lines.push(line);
  }
  return [...lines, ...pending.slice(next)];
}

/** A state as a snapshot stores it: plain data (arrays for sets), copied now. */
export type StoredState = Omit<DeskState, "seen"> & { readonly seen: readonly string[] };

/** Copies a state for a snapshot (the shared, growing parts included). */
export function toStored(state: DeskState): StoredState {
  return { ...state, seen: [...state.seen], unread: [...state.unread] };
}

/** The state a snapshot holds. */
export function fromStored(stored: StoredState): DeskState {
  return {
    ...initialState(),
    ...stored,
    seen: new Set(stored.seen),
    unread: [...(stored.unread ?? [])],
  };
}

/** The type of each field of a stored state: `?` when it may be absent, `[]` a list of strings. */
const STATE_FIELDS = Object.entries({
  status: "string",
  startedAt: "number?",
  title: "string?",
  context: "string?",
  historyKey: "string?",
  attribute: "string?",
  historyKeyAttached: "boolean",
  conversationId: "string?",
  conversationRequestedAt: "number?",
  opened: "boolean",
  openingRequested: "boolean?",
  agentCount: "number",
  seen: "[]",
  unread: "[]?",
  lastReadId: "string?",
  satisfactionIds: "[]",
  endedBy: "string?",
  endRequested: "boolean?",
  lastError: "string?",
});

/** The `typeof` of a value, as a string to compare with a spec. */
const typeOf = (value: unknown): string => typeof value;

/**
 * What is wrong with a snapshot's state, said after "it" ("has number 5 for \"opened\""): a field
 * of the wrong type, an unknown status, a pending message that does not read. Undefined when the
 * state can be used.
 */
export function storedStateProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return `holds ${describe(value)}`;
  const state = value as Record<string, unknown>;
  for (const [key, spec] of STATE_FIELDS) {
    const v = state[key];
    if (v === undefined && spec.endsWith("?")) continue;
    const ok = spec.startsWith("[]")
      ? Array.isArray(v) && v.every((item) => typeof item === "string")
      : typeOf(v) === spec.replace("?", "");
    if (!ok) return `has ${describe(v)} for "${key}"`;
  }
  if (!["idle", "starting", "waiting", "connected", "ended"].includes(state.status as string)) {
    return `has an unknown status, ${describe(state.status)}`;
  }
  const agent = state.agent as Record<string, unknown> | undefined;
  if (
    agent !== undefined && (typeof agent?.id !== "string" || typeof agent.nickname !== "string")
  ) {
    return 'has an "agent" that does not read';
  }
  const pending = state.pending as Record<string, unknown>[];
  if (
    !Array.isArray(pending) ||
    !pending.every((p) =>
      typeof p?.id === "string" && typeof p.text === "string" && Array.isArray(p.files)
    )
  ) return 'has a "pending" that does not read';
}

/** The text a user message shows in the transcript, naming files sent with it. */
function userText({ text, files }: PendingUserMessage): string {
  return [text, ...files.map((name) => `📎 ${name}`)].filter(Boolean).join("\n");
}

/** Thrown by {@linkcode decodeEvent} for a record that is not a valid event of a known version. */
export class EventDecodeError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "EventDecodeError";
  }
}

/**
 * The fields each event's data must have: strings, unless marked `[]` (an array) or `?` (a string
 * when present); dotted paths reach into objects.
 */
const FIELDS: Record<EventType, string> = {
  escalation_started: "title context attribute historyKey?",
  conversation_requested: "",
  conversation_created: "conversationId",
  opening_requested: "",
  conversation_opened: "messageId",
  history_key_attached: "",
  history_key_failed: "reason",
  user_message_queued: "id text files[]",
  user_message_requested: "id",
  user_message_sent: "id messageId",
  user_message_failed: "id reason",
  agent_message_received:
    "message.messageId message.text message.createdAt message.agent.id message.agent.nickname message.attachments[] message.quickReplies[]",
  messages_read: "messageId",
  satisfaction_received: "satisfactionId",
  chat_ended: "by",
  end_requested: "",
  end_confirmed: "",
  error_recorded: "where message",
};

/** What is wrong with an event's data, or undefined. */
function problem(type: EventType, data: object): string | undefined {
  for (const spec of FIELDS[type].match(/\S+/g) ?? []) {
    const path = spec.replace(/\W+$/, "");
    // deno-lint-ignore no-explicit-any
    const value = path.split(".").reduce((o: any, key) => o?.[key], data);
    const array = spec.endsWith("]");
    if (spec.endsWith("?") && value === undefined) continue;
    if (array ? !Array.isArray(value) : typeof value !== "string") {
      return `field "${path}" must be ${array ? "an array" : "a string"}`;
    }
  }
  if (type === "chat_ended" && !["user", "agent", "system"].includes((data as { by: string }).by)) {
    return 'field "by" must be "user", "agent" or "system"';
  }
}

/**
 * Checks a stored record and returns it as an event.
 *
 * @throws {EventDecodeError} when the record is malformed, of an unknown type, or of another version.
 */
export function decodeEvent(record: unknown): StoredEvent {
  const r = (record ?? 0) as Record<string, unknown>;
  const { v, seq, at, type, data } = r;
  let field: string | undefined;
  const bad = typeof record !== "object" || !record
    ? `expected an event object, got ${describe(record)}`
    : v !== EVENT_VERSION
    ? `unsupported event version ${describe(v)} (this desk reads version ${EVENT_VERSION})`
    : !Number.isSafeInteger(seq) || (seq as number) < 1
    ? `bad sequence number ${describe(seq)}`
    : typeof at !== "number" || !Number.isFinite(at)
    ? `event ${seq}: bad time ${describe(at)}`
    : typeof type !== "string" || !Object.hasOwn(FIELDS, type)
    ? `event ${seq}: unknown type ${describe(type)}`
    : !data || typeof data !== "object" || (field = problem(type as EventType, data))
    ? `event ${seq} (${type}): ${field ?? "data must be an object"}`
    : undefined;
  if (bad) throw new EventDecodeError(bad);
  return record as StoredEvent;
}
