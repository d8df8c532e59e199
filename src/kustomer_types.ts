/**
 * The Kustomer Chat Core SDK (web, v2) as the desk sees it: `window.KustomerCore`.
 *
 * Every method takes an options object and an optional last `callback(response, error)`.
 * See `../shared/design/KUSTOMER_CORE.md` in the project for the sources of each shape.
 * Where Kustomer's documentation is uncertain, the types are loose on purpose.
 *
 * @module
 */

/** The callback every asynchronous Core method takes last: check `error` first. */
export type KustomerCallback<T> = (
  response: T | undefined,
  error?: KustomerSdkError | null,
) => void;

/** The error a Core callback receives: an `Error` that may carry these fields. */
export interface KustomerSdkError extends Error {
  /** HTTP-like status, when the SDK gives one. */
  status?: number;
  /** Kustomer's error code, when the SDK gives one. */
  code?: string | number;
  /** A short title, when the SDK gives one. */
  title?: string;
  /** What failed, when the SDK says. */
  source?: unknown;
}

/** An attachment of a Kustomer message. Only `name` is dependable; the rest is read tolerantly. */
export interface KustomerAttachment {
  /** The attachment id. */
  id?: string;
  /** The file name. */
  name?: string;
  /** The MIME type. */
  contentType?: string;
  /** The size in bytes. */
  contentLength?: number;
  /** Where the file can be downloaded. */
  url?: string;
  /** Some SDK versions nest the fields here. */
  attributes?: { name?: string; contentType?: string; contentLength?: number; url?: string };
}

/** A quick-reply action of a `quick_replies` template. */
export interface KustomerAction {
  /** What the button shows. */
  displayText: string;
  /** What is sent back as the message `payload`. */
  value: string;
}

/** Who sent a message. `type` values are not documented by Kustomer. */
export interface KustomerSender {
  /** `"user"` for agents in practice; not documented. */
  type?: string;
  /** The sender's id: a new id is the only sign of an agent joining or a transfer. */
  id: string;
  /** The name shown to the customer. */
  displayName?: string;
  /** The avatar URL. */
  avatarUrl?: string;
}

/** A message of a Kustomer conversation. */
export interface KustomerMessage {
  /** The message id (dedupe by it). */
  messageId: string;
  /** The conversation it belongs to. */
  conversationId: string;
  /** The text. */
  body?: string;
  /** ISO time: order by it, delivery order is not guaranteed. */
  createdAt: string;
  /** `"out"` is agent-to-customer, `"in"` is the customer's own. */
  direction: "in" | "out" | string;
  /** Files attached. */
  attachments?: KustomerAttachment[];
  /** Templates and articles. */
  meta?: {
    template?: {
      templateType?: string;
      body?: string;
      actions?: KustomerAction[];
      /** Other fields the host or SDK may add. */
      [key: string]: unknown;
    };
    articles?: unknown[];
    /** Other fields the host or SDK may add. */
    [key: string]: unknown;
  };
  /** Who sent it. */
  sentBy?: KustomerSender;
}

/** What `init` answers. */
export interface KustomerInitResponse {
  /** The brand settings. */
  settings?: { brandId?: string; teamName?: string; greeting?: string; [key: string]: unknown };
  /** Other fields the host or SDK may add. */
  [key: string]: unknown;
}

/** Options of `init`. */
export interface KustomerInitOptions {
  /** The brand. */
  brandId?: string;
  /** The Kustomer assistant. */
  assistantId?: string;
  /** The business-hours schedule. */
  scheduleId?: string;
  /** The language. */
  lang?: string;
  /** Unfurl URLs in messages. */
  enableUrlUnfurling?: boolean;
}

/** What `login` answers. */
export interface KustomerLoginResponse {
  /** Whether the customer is now identified. */
  identified?: boolean;
  /** The customer id. */
  customerId?: string;
  /** The e-mail claim. */
  email?: string;
  /** The external id claim. */
  externalId?: string;
}

/** A conversation as `createConversation`, `endConversation` and the conversation events give it. */
export interface KustomerConversation {
  /** The conversation id. */
  conversationId: string;
  /** ISO time of creation. */
  createdAt?: string;
  /** Whether it has ended. */
  ended?: boolean;
  /** Whether a Kustomer assistant (not an agent) handles it. */
  isInAssistantMode?: boolean;
}

/** Options of `createConversation`. */
export interface KustomerCreateConversationOptions {
  /** Required; at most 256 characters. */
  title: string;
  /** The brand id (the docs say required; the starter kit passes none). */
  brand?: string;
  /** A Kustomer assistant id. */
  assistant?: string;
  /** The language. */
  lang?: string;
}

/** Options of `sendMessage`. */
export interface KustomerSendMessageOptions {
  /** The conversation. */
  conversationId: string;
  /** The text. */
  body?: string;
  /** Files to upload with the message. */
  attachments?: { file: Blob }[];
  /** A quick-reply value. */
  payload?: unknown;
  /** Whether the message goes to a Kustomer assistant. */
  isInAssistantMode?: boolean;
}

/** What `getMessages` answers. */
export interface KustomerMessagesResponse {
  /** The conversation. */
  conversationId?: string;
  /** Its messages of the last 30 days, in no guaranteed order. */
  messages: KustomerMessage[];
  /** A satisfaction survey, if any. */
  satisfaction?: unknown;
}

/** A row of `getConversations`. */
export interface KustomerConversationSummary extends KustomerConversation {
  /** A preview of the last message. */
  preview?: string;
  /** ISO time of the last message. */
  lastMessageAt?: string;
}

/** The answer of `isChatAvailable`: a string per the Core docs, an object per the starter kit. */
export type KustomerAvailability = string | { availability?: string; [key: string]: unknown };

/** The payload of `onAgentTypingActivity`. */
export interface KustomerTypingEvent {
  /** The conversation. */
  conversationId: string;
  /** Who types. */
  user?: { displayName?: string; avatarUrl?: string; id?: string };
  /** Whether the agent types. */
  typing: boolean;
}

/** The payload of `onSatisfactionReceived`. */
export interface KustomerSatisfactionEvent {
  /** The conversation. */
  conversationId: string;
  /** The survey id, for `submitSatisfactionForm`. */
  satisfactionId: string;
  /** The survey form. */
  form?: unknown;
  /** The customer's response so far. */
  response?: unknown;
}

/** Names of the Core events the desk listens to. */
export type KustomerEventName =
  | "onMessageReceived"
  | "onAgentTypingActivity"
  | "onConversationCreate"
  | "onConversationEnded"
  | "onConversationUnended"
  | "onAssistantEnded"
  | "onSatisfactionReceived"
  | "onLogin";

/** A Core event listener. */
// deno-lint-ignore no-explicit-any
export type KustomerListener = (payload: any, error?: unknown) => void;

/** The Kustomer Chat Core SDK object (`window.KustomerCore`). */
export interface KustomerCore {
  /** Must be called (and have called back) before anything else. */
  init(options: KustomerInitOptions, callback?: KustomerCallback<KustomerInitResponse>): void;
  /** Identifies the customer with a JWT signed by the site's server. */
  login(options: { jwtToken: string }, callback?: KustomerCallback<KustomerLoginResponse>): void;
  /** Clears the SDK's own browser session. */
  logout?(callback?: KustomerCallback<unknown>): void;
  /** Creates a conversation (a draft until it has a message). */
  createConversation(
    options: KustomerCreateConversationOptions,
    callback?: KustomerCallback<KustomerConversation>,
  ): void;
  /** Sends a customer message. */
  sendMessage(
    options: KustomerSendMessageOptions,
    callback?: KustomerCallback<KustomerMessage>,
  ): void;
  /** The messages of a conversation (last 30 days). */
  getMessages(
    options: { conversationId: string },
    callback?: KustomerCallback<KustomerMessagesResponse>,
  ): void;
  /** Older messages, page by page. */
  getHistoricalMessages?(
    options: { conversationId: string; count?: number; before?: string },
    callback?: KustomerCallback<KustomerMessagesResponse>,
  ): void;
  /** The customer's conversations. */
  getConversations?(
    options: { page?: number; pageSize?: number },
    callback?: KustomerCallback<{ conversations: KustomerConversationSummary[]; pages?: number }>,
  ): void;
  /** Sets custom attributes on a conversation. */
  describeConversation(
    options: { conversationId: string; customAttributes: Record<string, unknown> },
    callback?: KustomerCallback<unknown>,
  ): void;
  /** Sets attributes on the customer. */
  describeCustomer?(
    options: { attributes?: Record<string, unknown>; customAttributes?: Record<string, unknown> },
    callback?: KustomerCallback<unknown>,
  ): void;
  /** Ends a conversation (only if the org allows it). */
  endConversation(
    options: { conversationId: string },
    callback?: KustomerCallback<KustomerConversation>,
  ): void;
  /** Marks agent messages read; no callback documented. */
  markRead?(options: { conversationId: string; messageIds?: string[] }, callback?: unknown): void;
  /** Tells the agent the customer types; no callback documented. */
  sendTypingActivity?(options: { conversationId: string; typing: boolean }): void;
  /** Synchronous: whether chat is available. */
  isChatAvailable?(): KustomerAvailability;
  /** Synchronous: unread counts. */
  getUnreadCount?(): { total: number; conversations: Record<string, number> };
  /** Answers a satisfaction survey. */
  submitSatisfactionForm?(
    options: { satisfactionId: string; rating?: number; answers?: unknown[]; submittedAt: string },
    callback?: KustomerCallback<unknown>,
  ): void;
  /** Adds an event listener (for all of the customer's conversations). */
  addListener(name: KustomerEventName | string, listener: KustomerListener): void;
  /** Removes a listener: needs the same function reference. */
  removeListener(name: KustomerEventName | string, listener: KustomerListener): void;
}
