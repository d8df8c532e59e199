/**
 * The escalation's events, their encoding, and the pure replay reducer that turns them into state.
 *
 * @module
 */

/** The schema version written in every stored event. */
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
  /** Kustomer created the conversation. */
  conversation_created: { readonly conversationId: string };
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
  /** Whether the first message went out (agents cannot see a draft). */
  readonly opened: boolean;
  /** The agent now in the chat. */
  readonly agent?: AgentInfo;
  /** How many agents took part. */
  readonly agentCount: number;
  /** User messages queued and not yet sent or failed, oldest first. */
  readonly pending: readonly PendingUserMessage[];
  /** Kustomer message ids already recorded (agent messages and sent user messages). */
  readonly seen: Readonly<Record<string, true>>;
  /** The agent chat so far. */
  readonly transcript: readonly TranscriptEntry[];
  /** The last agent message the user read. */
  readonly lastReadId?: string;
  /** Satisfaction surveys received. */
  readonly satisfactionIds: readonly string[];
  /** Who ended the chat. */
  readonly endedBy?: EndedBy;
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
    seen: {},
    transcript: [],
    satisfactionIds: [],
  };
}

/**
 * Advances the state by one event. Pure, and tolerant of repeats: an agent message already seen or a
 * user message already settled changes nothing, so a log written twice replays the same.
 */
export function evolve(state: DeskState, event: StoredEvent): DeskState {
  switch (event.type) {
    case "escalation_started":
      return {
        ...initialState(),
        status: "starting",
        startedAt: event.at,
        title: event.data.title,
        context: event.data.context,
        historyKey: event.data.historyKey,
        attribute: event.data.attribute,
      };
    case "conversation_created":
      if (state.status === "ended") return { ...state, conversationId: event.data.conversationId };
      return {
        ...state,
        conversationId: event.data.conversationId,
        status: state.status === "starting" ? "waiting" : state.status,
      };
    case "conversation_opened":
      return { ...state, opened: true, seen: { ...state.seen, [event.data.messageId]: true } };
    case "history_key_attached":
      // Once on the conversation, the key (a secret) is not needed again: drop it from the state.
      return { ...state, historyKeyAttached: true, historyKey: undefined };
    case "history_key_failed":
      return { ...state, lastError: event.data.reason };
    case "user_message_queued":
      if (state.pending.some((p) => p.id === event.data.id)) return state;
      return {
        ...state,
        pending: [...state.pending, {
          id: event.data.id,
          text: event.data.text,
          files: event.data.files.map((f) => f.name),
          at: event.at,
        }],
      };
    case "user_message_sent": {
      const sent = state.pending.find((p) => p.id === event.data.id);
      if (!sent) return { ...state, seen: { ...state.seen, [event.data.messageId]: true } };
      return {
        ...state,
        pending: state.pending.filter((p) => p.id !== event.data.id),
        seen: { ...state.seen, [event.data.messageId]: true },
        transcript: [...state.transcript, {
          from: "user",
          at: event.at,
          id: sent.id,
          text: userText(sent),
        }],
      };
    }
    case "user_message_failed":
      return {
        ...state,
        pending: state.pending.filter((p) => p.id !== event.data.id),
        lastError: event.data.reason,
      };
    case "agent_message_received": {
      const message = event.data.message;
      if (state.seen[message.messageId]) return state;
      const changed = state.agent?.id !== message.agent.id;
      return {
        ...state,
        status: state.status === "waiting" || state.status === "starting"
          ? "connected"
          : state.status,
        agent: message.agent,
        agentCount: state.agentCount + (changed ? 1 : 0),
        seen: { ...state.seen, [message.messageId]: true },
        transcript: [...state.transcript, {
          from: "agent",
          at: event.at,
          id: message.messageId,
          message,
        }],
      };
    }
    case "messages_read":
      return { ...state, lastReadId: event.data.messageId };
    case "satisfaction_received":
      if (state.satisfactionIds.includes(event.data.satisfactionId)) return state;
      return { ...state, satisfactionIds: [...state.satisfactionIds, event.data.satisfactionId] };
    case "chat_ended":
      if (state.status === "ended") return state;
      return { ...state, status: "ended", endedBy: event.data.by, historyKey: undefined };
    case "error_recorded":
      return { ...state, lastError: `${event.data.where}: ${event.data.message}` };
  }
}

/** Replays events from the initial state (or from a snapshot). */
export function replay(events: Iterable<StoredEvent>, from: DeskState = initialState()): DeskState {
  let state = from;
  for (const event of events) state = evolve(state, event);
  return state;
}

/** The text a user message shows in the transcript, naming files sent with it. */
function userText(message: PendingUserMessage): string {
  if (message.files.length === 0) return message.text;
  const files = message.files.map((name) => `📎 ${name}`).join("\n");
  return message.text ? `${message.text}\n${files}` : files;
}

/** Thrown by {@linkcode decodeEvent} for a record that is not a valid event of a known version. */
export class EventDecodeError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "EventDecodeError";
  }
}

type Check = (data: Record<string, unknown>) => string | undefined;

const isString = (v: unknown): v is string => typeof v === "string";
const need = (...fields: string[]): Check => (data) => {
  const missing = fields.find((f) => !isString(data[f]));
  return missing ? `field "${missing}" must be a string` : undefined;
};

const CHECKS: Record<EventType, Check> = {
  escalation_started: (d) =>
    need("title", "context", "attribute")(d) ??
      (d.historyKey !== undefined && !isString(d.historyKey)
        ? 'field "historyKey" must be a string'
        : undefined),
  conversation_created: need("conversationId"),
  conversation_opened: need("messageId"),
  history_key_attached: () => undefined,
  history_key_failed: need("reason"),
  user_message_queued: (d) =>
    need("id", "text")(d) ??
      (Array.isArray(d.files) ? undefined : 'field "files" must be an array'),
  user_message_sent: need("id", "messageId"),
  user_message_failed: need("id", "reason"),
  agent_message_received: (d) => {
    const m = d.message as Record<string, unknown> | undefined;
    if (!m || typeof m !== "object") return 'field "message" must be an object';
    const agent = m.agent as Record<string, unknown> | undefined;
    if (!isString(m.messageId) || !isString(m.text) || !isString(m.createdAt)) {
      return "message needs messageId, text and createdAt strings";
    }
    if (!agent || !isString(agent.id) || !isString(agent.nickname)) {
      return "message.agent needs id and nickname";
    }
    if (!Array.isArray(m.attachments) || !Array.isArray(m.quickReplies)) {
      return "message needs attachments and quickReplies arrays";
    }
    return undefined;
  },
  messages_read: need("messageId"),
  satisfaction_received: need("satisfactionId"),
  chat_ended: (d) =>
    d.by === "user" || d.by === "agent" || d.by === "system"
      ? undefined
      : 'field "by" must be "user", "agent" or "system"',
  error_recorded: need("where", "message"),
};

/**
 * Checks a stored record and returns it as an event.
 *
 * @throws {EventDecodeError} when the record is malformed, of an unknown type, or of another version.
 */
export function decodeEvent(record: unknown): StoredEvent {
  if (record === null || typeof record !== "object") {
    throw new EventDecodeError(`expected an event object, got ${describe(record)}`);
  }
  const r = record as Record<string, unknown>;
  if (r.v !== EVENT_VERSION) {
    throw new EventDecodeError(
      `unsupported event version ${describe(r.v)} (this desk reads version ${EVENT_VERSION})`,
    );
  }
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) {
    throw new EventDecodeError(`bad sequence number ${describe(r.seq)}`);
  }
  if (typeof r.at !== "number" || !Number.isFinite(r.at)) {
    throw new EventDecodeError(`event ${r.seq}: bad time ${describe(r.at)}`);
  }
  if (!isString(r.type) || !Object.hasOwn(CHECKS, r.type)) {
    throw new EventDecodeError(`event ${r.seq}: unknown type ${describe(r.type)}`);
  }
  if (r.data === null || typeof r.data !== "object") {
    throw new EventDecodeError(`event ${r.seq} (${r.type}): data must be an object`);
  }
  const problem = CHECKS[r.type as EventType](r.data as Record<string, unknown>);
  if (problem) throw new EventDecodeError(`event ${r.seq} (${r.type}): ${problem}`);
  return r as unknown as StoredEvent;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return `${typeof value} ${String(value)}`;
}
