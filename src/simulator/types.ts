/**
 * The simulated Kustomer Core's public types, options and limits.
 *
 * @module
 */

import type {
  KustomerAction,
  KustomerAttachment,
  KustomerMessage,
  KustomerSdkError,
} from "../kustomer_types.ts";

// ---------------------------------------------------------------------------------------------
// Public types and constants
// ---------------------------------------------------------------------------------------------

/** The SDK methods that take part in fault injection (`faults.fail` / `faults.hang`). */
export type SimMethod =
  | "init"
  | "login"
  | "logout"
  | "createConversation"
  | "sendMessage"
  | "getMessages"
  | "getHistoricalMessages"
  | "getConversations"
  | "describeConversation"
  | "describeCustomer"
  | "endConversation"
  | "markRead"
  | "sendTypingActivity"
  | "submitSatisfactionForm";

/** The names of every {@linkcode SimMethod}, for runtime checks. */
export const SIM_METHODS: readonly SimMethod[] = Object.freeze(
  [
    "init",
    "login",
    "logout",
    "createConversation",
    "sendMessage",
    "getMessages",
    "getHistoricalMessages",
    "getConversations",
    "describeConversation",
    "describeCustomer",
    "endConversation",
    "markRead",
    "sendTypingActivity",
    "submitSatisfactionForm",
  ] as const,
);

/**
 * How events reach listeners.
 *
 * - `"normal"`: each event once, in the order it happened.
 * - `"duplicate"`: every `onMessageReceived` is delivered twice (the second time as a copy).
 * - `"reverse"`: the `onMessageReceived` events held in one delivery batch (everything emitted
 *   in the same tick, or within `latencyMs` when latency is set) are delivered in reverse order,
 *   and `getMessages` / `getHistoricalMessages` answer newest first. Clients must sort by
 *   `createdAt`.
 */
export type SimDeliveryMode = "normal" | "duplicate" | "reverse";

/** What `isChatAvailable()` reports. */
export type SimAvailability = "online" | "offline" | "hidden" | "disabled";

/** The lifecycle of the simulator: `init` moves it from `"idle"` to `"ready"` when it calls back. */
export type SimState = "idle" | "initializing" | "ready" | "disposed";

/** Whether the simulated network is up (see `dropConnection()`). */
export type SimConnection = "connected" | "dropped";

/** A simulated Kustomer agent. */
export interface SimAgent {
  /** The agent's user id: it becomes `sentBy.id` of their messages. */
  readonly id: string;
  /** The name shown to the customer. */
  readonly displayName: string;
  /** The avatar URL, if any. */
  readonly avatarUrl?: string;
}

/** The two default agents: Ada answers first, Grace takes transfers. */
export const DEFAULT_AGENTS: readonly [SimAgent, SimAgent] = Object.freeze([
  Object.freeze({ id: "agent-ada", displayName: "Ada" }),
  Object.freeze({ id: "agent-grace", displayName: "Grace" }),
]) as readonly [SimAgent, SimAgent];

/** A timer seam: `globalThis` by default, a fake timer in tests. */
export interface SimScheduler {
  /** Runs `fn` after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a handle returned by `setTimeout`. */
  clearTimeout(id: unknown): void;
}

/** Timing of the scripted agent (all through the injected scheduler). */
export interface SimScriptOptions {
  /**
   * Delay from the first customer message of a conversation to the agent starting to type.
   * Also the delay before the second agent types after a transfer.
   *
   * @default {1000}
   */
  joinDelayMs?: number;
  /**
   * Delay from a later customer message to the agent starting to type.
   *
   * @default {500}
   */
  replyDelayMs?: number;
  /**
   * How long the agent types before the message arrives.
   *
   * @default {500}
   */
  typingMs?: number;
}

/** Brand settings that `init` answers. */
export interface SimSettings {
  /** The brand id, unless `init` passes one. @default {"brand-sim"} */
  brandId?: string;
  /** The team name. @default {"Simulated Support"} */
  teamName?: string;
  /** The greeting. @default {"Hi! How can we help you today?"} */
  greeting?: string;
}

/**
 * What the simulator's `init` answers (a `KustomerInitResponse` with every setting present).
 */
export type SimInitResponse = {
  /** The brand settings. */
  settings: { brandId: string; teamName: string; greeting: string; [key: string]: unknown };
  [key: string]: unknown;
};

/** Options of {@linkcode SimulatedKustomerCore}. */
export interface SimulatedKustomerCoreOptions {
  /**
   * The clock, in epoch milliseconds. It stamps `createdAt` and judges JWT `iat`.
   *
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * The timer used for latency and the scripted agent.
   *
   * @default {globalThis}
   */
  scheduler?: SimScheduler;
  /**
   * Delay of every callback and event delivery. `0` delivers with `queueMicrotask`; more
   * delivers through `scheduler.setTimeout`.
   *
   * @default {0}
   */
  latencyMs?: number;
  /**
   * Turns the scripted agent on (`true` for default timings, or the timings).
   *
   * @default {false}
   */
  script?: boolean | SimScriptOptions;
  /**
   * The agents: the first answers, the second takes transfers.
   *
   * @default {DEFAULT_AGENTS}
   */
  agents?: readonly [SimAgent, SimAgent];
  /**
   * How events reach listeners (see {@linkcode SimDeliveryMode}).
   *
   * @default {"normal"}
   */
  deliveryMode?: SimDeliveryMode;
  /**
   * What `isChatAvailable()` reports at first.
   *
   * @default {"online"}
   */
  availability?: SimAvailability;
  /**
   * The shape `isChatAvailable()` answers in: a string (Core docs) or `{ availability }`
   * (starter kit).
   *
   * @default {"string"}
   */
  availabilityShape?: "string" | "object";
  /**
   * Whether the org lets customers end chats. When `false`, `endConversation` fails with 403.
   *
   * @default {true}
   */
  allowEndConversation?: boolean;
  /** The brand settings `init` answers. */
  settings?: SimSettings;
  /**
   * Whether attachment URLs come from `URL.createObjectURL(file)` when available. When
   * `false` (or unavailable) they are `sim://attachments/<id>/<name>` (deterministic).
   *
   * @default {true}
   */
  objectUrls?: boolean;
  /**
   * Customer messages allowed per minute per customer; more fail with status 429.
   *
   * @default {120}
   */
  rateLimitPerMinute?: number;
  /**
   * A seeded, jittery network (see {@linkcode SimNetworkOptions}): every call and every event
   * takes its own random delay, and a call takes effect part-way, so a page that goes away in
   * between has changed the server but never hears the answer. Overrides `latencyMs` and
   * `deliveryMode: "reverse"` (events already arrive in any order).
   *
   * @default {undefined}
   */
  network?: SimNetworkOptions;
}

/**
 * A seeded network between the page and the simulated server. Each call draws a latency in
 * `[minMs, maxMs]` and a point within it where the request reaches the server: the call takes
 * effect (fault rules are applied and `callLog` holds it from the start) after the first part,
 * and its answer arrives after the rest. Each event draws its own delay in `[minMs, maxMs]`, so
 * events may overtake each other. The same seed and the same calls give the same delays.
 */
export interface SimNetworkOptions {
  /** The seed of the delays (an integer). */
  seed: number;
  /** The shortest delay, in ms. @default {0} */
  minMs?: number;
  /** The longest delay, in ms. @default {300} */
  maxMs?: number;
}

/** The error a failing call calls back with: any `KustomerSdkError` field may be set. */
export type SimFaultError = Partial<KustomerSdkError> & { message?: string };

/** Options of `faults.fail`. */
export interface SimFailOptions {
  /** How many calls fail. @default {1} */
  times?: number;
  /**
   * The error's fields.
   *
   * @default {{ status: 500, code: "simulated_fault", message: "Simulated failure of <method>" }}
   */
  error?: SimFaultError;
}

/** Options of `faults.hang`. */
export interface SimHangOptions {
  /** How many calls hang. @default {Infinity} */
  times?: number;
  /**
   * Whether the hung call still takes effect server-side (the request arrived, the answer was
   * lost). When `false` the call has no effect at all.
   *
   * @default {false}
   */
  applied?: boolean;
}

/** Fault injection for the SDK methods of a {@linkcode SimulatedKustomerCore}. */
export interface SimFaults {
  /**
   * Makes the next `times` calls of `method` call back with an `Error` (and have no effect).
   * Rules queue up per method, first in first out.
   *
   * @param method The SDK method.
   * @param options How many calls, and the error.
   */
  fail(method: SimMethod, options?: SimFailOptions): void;
  /**
   * Makes the next `times` calls of `method` never call back.
   *
   * @param method The SDK method.
   * @param options How many calls, and whether they still take effect.
   */
  hang(method: SimMethod, options?: SimHangOptions): void;
  /**
   * Removes the fault rules of `method`, or of every method.
   *
   * @param method The SDK method, or none for all.
   */
  clear(method?: SimMethod): void;
  /**
   * How many faulted calls remain for `method` (or all methods); may be `Infinity`.
   *
   * @param method The SDK method, or none for all.
   * @returns The number of calls still to fail or hang.
   */
  remaining(method?: SimMethod): number;
}

/** One SDK call as recorded by `callLog` (a `jwtToken` is replaced by `"[redacted]"`). */
export interface SimCall {
  /** The SDK method name. */
  readonly method: string;
  /** A shallow copy of the options passed. */
  readonly options: unknown;
}

/** A successful login as recorded by `logins` (never the token). */
export interface SimLogin {
  /** The customer id it identified. */
  readonly customerId: string;
  /** The JWT payload claims. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** When, by the simulator's clock (epoch ms). */
  readonly at: number;
}

/** A `markRead` call as recorded by `readReceipts`. */
export interface SimReadReceipt {
  /** The conversation. */
  readonly conversationId: string;
  /** The message ids passed, or `undefined` when none were (all read). */
  readonly messageIds: readonly string[] | undefined;
  /** When, by the simulator's clock (epoch ms). */
  readonly at: number;
}

/** A read-only view of a simulated conversation (server side). */
export interface SimConversation {
  /** The conversation id. */
  readonly conversationId: string;
  /** The customer it belongs to. */
  readonly customerId: string;
  /** Its title. */
  readonly title: string;
  /** Its brand, if known. */
  readonly brand?: string;
  /** ISO time of creation. */
  readonly createdAt: string;
  /** Whether it has ended. */
  readonly ended: boolean;
  /** Whether it has no message yet (agents cannot see drafts). */
  readonly isDraft: boolean;
  /** The current agent, once one was assigned (first agent message or transfer). */
  readonly agent?: SimAgent;
  /** How many messages it holds (both directions). */
  readonly messageCount: number;
  /** Its custom attributes. */
  readonly customAttributes: Readonly<Record<string, unknown>>;
  /** The satisfaction survey id, once sent. */
  readonly satisfactionId?: string;
}

/** A read-only view of the current customer. */
export interface SimCustomer {
  /** The customer id (`anon-<n>` until login). */
  readonly customerId: string;
  /** Whether `login` identified them. */
  readonly identified: boolean;
  /** The e-mail claim, once identified. */
  readonly email?: string;
  /** The external id claim, once identified. */
  readonly externalId?: string;
  /** Attributes set by `describeCustomer`. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Custom attributes set by `describeCustomer`. */
  readonly customAttributes: Readonly<Record<string, unknown>>;
}

/** Options of `agentSend`. */
export interface SimAgentSendOptions {
  /** Who sends it; they become the current agent (default: the current agent, else the first). */
  agent?: SimAgent;
  /** Quick-reply buttons: sent as a `quick_replies` template in `meta.template`. */
  quickReplies?: KustomerAction[];
  /** Files the agent attaches. */
  attachments?: KustomerAttachment[];
}

/** An exception thrown by a listener, a callback or a scripted step, caught by the simulator. */
export interface SimUncaughtError {
  /** Where: an event name, `"callback:<method>"`, or `"script"`. */
  readonly source: string;
  /** What was thrown. */
  readonly error: unknown;
}

/** Largest attachment: 5 MB (5 × 1024 × 1024 bytes). */
export const MAX_ATTACHMENT_BYTES: number = 5 * 1024 * 1024;
/** Largest total of one message's attachments: 9.5 MB (9.5 × 1024 × 1024 bytes). */
export const MAX_MESSAGE_ATTACHMENT_BYTES: number = 9.5 * 1024 * 1024;
/** Longest agent reply, in characters. */
export const MAX_AGENT_REPLY_LENGTH = 1024;
/** Longest conversation title, in characters. */
export const MAX_TITLE_LENGTH = 256;
/** Longest `Str` / `Txt` custom attribute value, in characters. */
export const MAX_TEXT_ATTRIBUTE_LENGTH = 1024;
/** How old a login JWT's `iat` may be: less than 15 minutes, in seconds. */
export const MAX_JWT_AGE_SECONDS = 15 * 60;

/** A conversation as {@linkcode SimulatedKustomerCore.exportState} saves it (JSON-safe). */
export interface SimConversationState {
  /** The conversation id. */
  readonly conversationId: string;
  /** Its customer. */
  readonly customerId: string;
  /** Its title. */
  readonly title: string;
  /** Its brand. */
  readonly brand?: string;
  /** ISO time of creation. */
  readonly createdAt: string;
  /** Whether it has ended. */
  readonly ended: boolean;
  /** Its messages, both directions. */
  readonly messages: readonly KustomerMessage[];
  /** The current agent. */
  readonly agent?: SimAgent;
  /** Whether an agent has sent a message. */
  readonly agentSent: boolean;
  /** Its custom attributes. */
  readonly customAttributes: Readonly<Record<string, unknown>>;
  /** Its satisfaction survey. */
  readonly satisfaction?: {
    readonly satisfactionId: string;
    readonly form: unknown;
    readonly response: Readonly<Record<string, unknown>>;
  };
  /** The customer's last typing state. */
  readonly customerTyping?: boolean;
  /** Agent message ids the customer has read. */
  readonly read: readonly string[];
  /** Whether the scripted agent has greeted. */
  readonly scriptGreeted: boolean;
}

/** A customer as {@linkcode SimulatedKustomerCore.exportState} saves it. */
export interface SimCustomerState {
  /** The customer id. */
  readonly customerId: string;
  /** Whether a login identified them. */
  readonly identified: boolean;
  /** The e-mail claim. */
  readonly email?: string;
  /** The external id claim. */
  readonly externalId?: string;
  /** Attributes from `describeCustomer`. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Custom attributes from `describeCustomer`. */
  readonly customAttributes: Readonly<Record<string, unknown>>;
  /** When their recent messages were sent (for the rate limit). */
  readonly sentAt: readonly number[];
}

/**
 * The simulated Kustomer server's state: conversations, customers and id counters. JSON-safe, so
 * a page can keep it in `localStorage` and a reload finds the same "server" again.
 */
export interface SimServerState {
  /** Format version. */
  readonly v: 1;
  /** Every conversation. */
  readonly conversations: readonly SimConversationState[];
  /** Every customer. */
  readonly customers: readonly SimCustomerState[];
  /** Login identities (`externalId`/`email` key) to customer ids. */
  readonly customerKeys: readonly (readonly [string, string])[];
  /** The customer this page is (the SDK's own browser session). */
  readonly currentCustomerId: string;
  /** Id counters. */
  readonly counters: Readonly<Record<"conv" | "msg" | "att" | "sat" | "anon" | "cust", number>>;
  /** The last `createdAt` stamp (ms). */
  readonly lastStamp: number;
}
