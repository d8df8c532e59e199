/**
 * The server side of the simulated Kustomer Core: conversations, messages, customers, logins, id
 * counters and the org's settings, and what each SDK call and agent action does to them. An SDK
 * call's operation checks its input and returns its answer or a {@linkcode KustomerSdkError}; an
 * agent action throws on misuse. Events go out through {@linkcode _ServerHooks.emit}, only for
 * the current customer's conversations.
 *
 * @module
 */

import type {
  KustomerAvailability,
  KustomerConversation,
  KustomerConversationSummary,
  KustomerCreateConversationOptions,
  KustomerEventName,
  KustomerInitOptions,
  KustomerLoginResponse,
  KustomerMessage,
  KustomerMessagesResponse,
  KustomerSatisfactionEvent,
  KustomerSdkError,
  KustomerSendMessageOptions,
  KustomerTypingEvent,
} from "../kustomer_types.ts";
import { _base64UrlDecode } from "./jwt.ts";
import {
  _ALLOWED_EXTENSIONS,
  _ALLOWED_MIME_TYPES,
  _checkCustomAttributes,
  _clone,
  _DAY_MS,
  _isObject,
  _mergeAttributes,
  _sdkError,
} from "./checks.ts";
import {
  MAX_AGENT_REPLY_LENGTH,
  MAX_ATTACHMENT_BYTES,
  MAX_JWT_AGE_SECONDS,
  MAX_MESSAGE_ATTACHMENT_BYTES,
  MAX_TITLE_LENGTH,
  type SimAgent,
  type SimAgentSendOptions,
  type SimAvailability,
  type SimConversation,
  type SimConversationState,
  type SimCustomer,
  type SimDeliveryMode,
  type SimInitResponse,
  type SimLogin,
  type SimReadReceipt,
  type SimServerState,
  type SimSettings,
} from "./types.ts";

interface _Satisfaction {
  satisfactionId: string;
  form: unknown;
  response: Record<string, unknown>;
}

/** A stored conversation. */
export interface _Conversation {
  conversationId: string;
  customerId: string;
  title: string;
  brand?: string;
  createdAt: string;
  ended: boolean;
  messages: KustomerMessage[];
  agent?: SimAgent;
  agentSent: boolean;
  customAttributes: Record<string, unknown>;
  satisfaction?: _Satisfaction;
  customerTyping?: boolean;
  read: Set<string>;
  scriptGreeted: boolean;
}

interface _CustomerRecord {
  customerId: string;
  identified: boolean;
  email?: string;
  externalId?: string;
  attributes: Record<string, unknown>;
  customAttributes: Record<string, unknown>;
  sentAt: number[];
}

/** What the server tells the rest of the simulator. */
export interface _ServerHooks {
  /** The clock (ms). */
  now(): number;
  /** Fires an event to the page (already filtered to the current customer). */
  emit(name: KustomerEventName, payload: unknown): void;
  /** How events are delivered now (`"reverse"` also reverses message lists). */
  deliveryMode(): SimDeliveryMode;
  /** A customer message was stored (the scripted agent may answer it). */
  customerMessage(conversation: _Conversation, message: KustomerMessage, payload: unknown): void;
  /** A conversation ended (scripted replies for it stop). */
  ended(conversationId: string): void;
}

/** The org's behaviour switches. */
export interface _ServerOptions {
  agents: readonly [SimAgent, SimAgent];
  availability: SimAvailability;
  availabilityShape: "string" | "object";
  allowEnd: boolean;
  settings: Required<SimSettings>;
  objectUrls: boolean;
  rateLimit: number;
}

const _SATISFACTION_FORM = Object.freeze({
  id: "csat-form-sim",
  title: "How did we do?",
  questions: [
    { id: "rating", type: "rating", prompt: "How would you rate this chat?", scale: 5 },
    { id: "comment", type: "text", prompt: "Anything else you would like to tell us?" },
  ],
});

/** The simulated Kustomer server: its records and the effect of every call on them. */
export class _Server {
  /** The agents of the org; the first one answers unless a conversation has another. */
  readonly agents: readonly [SimAgent, SimAgent];
  /** Successful logins (claims only). */
  readonly logins: SimLogin[] = [];
  /** `markRead` calls that took effect. */
  readonly readReceipts: SimReadReceipt[] = [];

  #hooks: _ServerHooks;
  #availability: SimAvailability;
  #availabilityShape: "string" | "object";
  #allowEnd: boolean;
  #settings: Required<SimSettings>;
  #objectUrls: boolean;
  #rateLimit: number;
  #initBrandId: string | undefined;
  #conversations = new Map<string, _Conversation>();
  #customers = new Map<string, _CustomerRecord>();
  #customerKeys = new Map<string, string>();
  #customer: _CustomerRecord;
  #counters = { conv: 0, msg: 0, att: 0, sat: 0, anon: 0, cust: 0 };
  #lastStamp = -Infinity;
  #objectUrlsCreated: string[] = [];

  constructor(options: _ServerOptions, hooks: _ServerHooks) {
    this.agents = options.agents;
    this.#availability = options.availability;
    this.#availabilityShape = options.availabilityShape;
    this.#allowEnd = options.allowEnd;
    this.#settings = options.settings;
    this.#objectUrls = options.objectUrls;
    this.#rateLimit = options.rateLimit;
    this.#hooks = hooks;
    this.#customer = this.#newAnonymous();
  }

  // --- views ---------------------------------------------------------------------------------

  /** Every conversation record, in creation order. */
  records(): IterableIterator<_Conversation> {
    return this.#conversations.values();
  }

  /** A snapshot of every conversation. */
  conversations(): SimConversation[] {
    return [...this.#conversations.values()].map((c) => this.#view(c));
  }

  /** A snapshot of the current customer. */
  customer(): SimCustomer {
    const record = this.#customer;
    return {
      customerId: record.customerId,
      identified: record.identified,
      ...(record.email !== undefined ? { email: record.email } : {}),
      ...(record.externalId !== undefined ? { externalId: record.externalId } : {}),
      attributes: _clone(record.attributes),
      customAttributes: _clone(record.customAttributes),
    };
  }

  /** The record of a conversation; a RangeError when unknown. */
  known(conversationId: string): _Conversation {
    const conv = this.#conversations.get(conversationId);
    if (!conv) throw new RangeError(`Unknown conversation: ${conversationId}`);
    return conv;
  }

  /** Copies of a conversation's messages, in time order. */
  messagesOf(conversationId: string): KustomerMessage[] {
    return _clone(this.#sorted(this.known(conversationId).messages));
  }

  /** The agent answering a conversation: its own, else the first. */
  currentAgent(conversationId: string): SimAgent {
    return this.known(conversationId).agent ?? this.agents[0];
  }

  /** Sets what `isChatAvailable()` reports. */
  setAvailability(value: SimAvailability): void {
    this.#availability = value;
  }

  /** Revokes the object URLs made for attachments. */
  revokeObjectUrls(): void {
    if (typeof URL.revokeObjectURL === "function") {
      for (const url of this.#objectUrlsCreated) URL.revokeObjectURL(url);
    }
    this.#objectUrlsCreated = [];
  }

  // --- state as data -------------------------------------------------------------------------

  /** The records as JSON-safe data. */
  exportState(): SimServerState {
    return _clone({
      v: 1,
      conversations: [...this.#conversations.values()].map((c): SimConversationState => ({
        conversationId: c.conversationId,
        customerId: c.customerId,
        title: c.title,
        ...(c.brand !== undefined ? { brand: c.brand } : {}),
        createdAt: c.createdAt,
        ended: c.ended,
        messages: c.messages,
        ...(c.agent ? { agent: c.agent } : {}),
        agentSent: c.agentSent,
        customAttributes: c.customAttributes,
        ...(c.satisfaction ? { satisfaction: c.satisfaction } : {}),
        ...(c.customerTyping !== undefined ? { customerTyping: c.customerTyping } : {}),
        read: [...c.read],
        scriptGreeted: c.scriptGreeted,
      })),
      customers: [...this.#customers.values()],
      customerKeys: [...this.#customerKeys.entries()],
      currentCustomerId: this.#customer.customerId,
      counters: this.#counters,
      lastStamp: Number.isFinite(this.#lastStamp) ? this.#lastStamp : 0,
    });
  }

  /** Replaces the records with saved ones; a TypeError when `state` is not of this format. */
  importState(state: SimServerState): void {
    if (
      !_isObject(state) || state.v !== 1 || !Array.isArray(state.conversations) ||
      !Array.isArray(state.customers) || !Array.isArray(state.customerKeys) ||
      typeof state.currentCustomerId !== "string" || !_isObject(state.counters)
    ) {
      throw new TypeError("importState() needs a state from exportState() (format version 1)");
    }
    const copy = _clone(state);
    this.#conversations = new Map(copy.conversations.map((c) => [c.conversationId, {
      ...c,
      messages: [...c.messages],
      customAttributes: { ...c.customAttributes },
      ...(c.satisfaction
        ? { satisfaction: { ...c.satisfaction, response: { ...c.satisfaction.response } } }
        : {}),
      read: new Set(c.read),
    } as _Conversation]));
    this.#customers = new Map(copy.customers.map((c) => [c.customerId, {
      ...c,
      attributes: { ...c.attributes },
      customAttributes: { ...c.customAttributes },
      sentAt: [...c.sentAt],
    }]));
    this.#customerKeys = new Map(copy.customerKeys.map(([k, v]) => [k, v]));
    this.#customer = this.#customers.get(copy.currentCustomerId) ?? this.#newAnonymous();
    this.#counters = { ...this.#counters, ...copy.counters };
    this.#lastStamp = copy.lastStamp;
  }

  // --- the SDK's calls -----------------------------------------------------------------------

  init(options: KustomerInitOptions): SimInitResponse | KustomerSdkError {
    if (options !== undefined && !_isObject(options)) {
      return _sdkError(400, "invalid_options", "init options must be an object");
    }
    const brandId = (options as KustomerInitOptions | undefined)?.brandId;
    if (typeof brandId === "string") this.#initBrandId = brandId;
    return {
      settings: {
        ...this.#settings,
        brandId: this.#initBrandId ?? this.#settings.brandId,
      },
    };
  }

  login(options: { jwtToken: string }): KustomerLoginResponse | KustomerSdkError {
    const claims = this.#verifyJwt(_isObject(options) ? options.jwtToken : undefined);
    if (claims instanceof Error) return claims;
    const externalId = typeof claims.externalId === "string" ? claims.externalId : undefined;
    const email = typeof claims.email === "string" ? claims.email : undefined;
    const key = externalId !== undefined ? `externalId:${externalId}` : `email:${email}`;
    let customerId = this.#customerKeys.get(key);
    if (customerId === undefined) {
      customerId = `cust-${++this.#counters.cust}`;
      this.#customerKeys.set(key, customerId);
      this.#customers.set(customerId, {
        customerId,
        identified: true,
        attributes: {},
        customAttributes: {},
        sentAt: [],
      });
    }
    const record = this.#customers.get(customerId)!;
    if (email !== undefined) record.email = email;
    if (externalId !== undefined) record.externalId = externalId;
    const previous = this.#customer;
    if (!previous.identified && previous.customerId !== customerId) {
      for (const conv of this.#conversations.values()) {
        if (conv.customerId === previous.customerId) {
          conv.customerId = customerId;
          for (const m of conv.messages) {
            if (m.direction === "in" && m.sentBy) m.sentBy.id = customerId;
          }
        }
      }
    }
    this.#customer = record;
    this.logins.push({ customerId, claims: Object.freeze(_clone(claims)), at: this.#hooks.now() });
    const response: KustomerLoginResponse = {
      identified: true,
      customerId,
      ...(record.email !== undefined ? { email: record.email } : {}),
      ...(record.externalId !== undefined ? { externalId: record.externalId } : {}),
    };
    this.#emit("onLogin", response);
    return response;
  }

  logout(): Record<string, never> {
    this.#customer = this.#newAnonymous();
    return {};
  }

  createConversation(
    options: KustomerCreateConversationOptions,
  ): KustomerConversation | KustomerSdkError {
    if (!_isObject(options)) {
      return _sdkError(400, "invalid_options", "createConversation options must be an object");
    }
    const title = options.title;
    if (typeof title !== "string" || title.trim() === "") {
      return _sdkError(400, "title_required", "createConversation requires a non-empty title");
    }
    if (title.length > MAX_TITLE_LENGTH) {
      return _sdkError(
        400,
        "title_too_long",
        `Conversation title is ${title.length} characters; at most ${MAX_TITLE_LENGTH} are allowed`,
      );
    }
    const conversationId = `conv-${++this.#counters.conv}`;
    const brand = options.brand ?? this.#initBrandId;
    const conv: _Conversation = {
      conversationId,
      customerId: this.#customer.customerId,
      title,
      ...(brand !== undefined ? { brand } : {}),
      createdAt: this.#stamp(),
      ended: false,
      messages: [],
      agentSent: false,
      customAttributes: {},
      read: new Set(),
      scriptGreeted: false,
    };
    this.#conversations.set(conversationId, conv);
    const response = this.#conversationPayload(conv, true);
    this.#emit("onConversationCreate", response, conv);
    return response;
  }

  sendMessage(options: KustomerSendMessageOptions): KustomerMessage | KustomerSdkError {
    if (!_isObject(options)) {
      return _sdkError(400, "invalid_options", "sendMessage options must be an object");
    }
    const conv = this.#conversationFor("sendMessage", options.conversationId);
    if (conv instanceof Error) return conv;
    if (conv.ended) {
      return _sdkError(
        409,
        "conversation_ended",
        `Cannot send a message: conversation ${conv.conversationId} has ended`,
      );
    }
    const body = options.body;
    if (body !== undefined && typeof body !== "string") {
      return _sdkError(400, "invalid_body", "sendMessage body must be a string");
    }
    const files = options.attachments ?? [];
    if (!Array.isArray(files)) {
      return _sdkError(400, "invalid_attachments", "sendMessage attachments must be an array");
    }
    if (
      (body === undefined || body === "") && files.length === 0 && options.payload === undefined
    ) {
      return _sdkError(
        400,
        "empty_message",
        "Cannot send an empty message: give a body, attachments or payload",
      );
    }
    const checked = this.#checkAttachments(files);
    if (checked instanceof Error) return checked;
    const now = this.#hooks.now();
    const sentAt = this.#customer.sentAt.filter((t) => now - t < 60_000);
    if (sentAt.length >= this.#rateLimit) {
      this.#customer.sentAt = sentAt;
      return _sdkError(
        429,
        "rate_limited",
        `Rate limit exceeded: at most ${this.#rateLimit} messages per minute per customer`,
      );
    }
    sentAt.push(now);
    this.#customer.sentAt = sentAt;

    const messageId = `msg-${++this.#counters.msg}`;
    const attachments = checked.map(({ file, name, contentType }) => {
      const id = `att-${++this.#counters.att}`;
      return {
        id,
        name,
        contentType,
        contentLength: file.size,
        url: this.#attachmentUrl(id, name, file),
      };
    });
    const message: KustomerMessage = {
      messageId,
      conversationId: conv.conversationId,
      ...(body !== undefined ? { body } : {}),
      createdAt: this.#stamp(),
      direction: "in",
      attachments,
      sentBy: { type: "customer", id: this.#customer.customerId },
    };
    conv.messages.push(message);
    this.#hooks.customerMessage(conv, message, options.payload);
    return _clone(message);
  }

  getMessages(options: { conversationId: string }): KustomerMessagesResponse | KustomerSdkError {
    const conv = this.#conversationFor(
      "getMessages",
      _isObject(options) ? options.conversationId : undefined,
    );
    if (conv instanceof Error) return conv;
    const since = this.#hooks.now() - 30 * _DAY_MS;
    const messages = conv.messages.filter((m) => Date.parse(m.createdAt) >= since);
    return {
      conversationId: conv.conversationId,
      messages: _clone(this.#ordered(messages)),
      ...this.#satisfactionField(conv),
    };
  }

  getHistoricalMessages(
    options: { conversationId: string; count?: number; before?: string },
  ): KustomerMessagesResponse | KustomerSdkError {
    if (!_isObject(options)) {
      return _sdkError(400, "invalid_options", "getHistoricalMessages options must be an object");
    }
    const conv = this.#conversationFor("getHistoricalMessages", options.conversationId);
    if (conv instanceof Error) return conv;
    const count = options.count ?? 25;
    if (!Number.isInteger(count) || count < 1) {
      return _sdkError(400, "invalid_count", `count must be a positive integer, got ${count}`);
    }
    let messages = this.#sorted(conv.messages);
    if (options.before !== undefined) {
      const before = Date.parse(options.before);
      if (Number.isNaN(before)) {
        return _sdkError(
          400,
          "invalid_before",
          `before must be an ISO date, got ${options.before}`,
        );
      }
      messages = messages.filter((m) => Date.parse(m.createdAt) < before);
    }
    messages = messages.slice(-count);
    return {
      conversationId: conv.conversationId,
      messages: _clone(this.#hooks.deliveryMode() === "reverse" ? messages.reverse() : messages),
      ...this.#satisfactionField(conv),
    };
  }

  getConversations(
    options: { page?: number; pageSize?: number },
  ): { conversations: KustomerConversationSummary[]; pages: number } | KustomerSdkError {
    const page = (_isObject(options) ? options.page : undefined) ?? 1;
    const pageSize = (_isObject(options) ? options.pageSize : undefined) ?? 100;
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(pageSize) || pageSize < 1) {
      return _sdkError(400, "invalid_page", "page and pageSize must be positive integers");
    }
    const rows = [...this.#conversations.values()]
      .filter((c) => c.customerId === this.#customer.customerId)
      .map((c): KustomerConversationSummary => {
        const last = this.#sorted(c.messages).at(-1);
        return {
          conversationId: c.conversationId,
          createdAt: c.createdAt,
          preview: last ? (last.body ?? last.attachments?.[0]?.name ?? "") : "",
          ...(last ? { lastMessageAt: last.createdAt } : {}),
          ended: c.ended,
        };
      })
      .sort((a, b) =>
        (b.lastMessageAt ?? b.createdAt!).localeCompare(a.lastMessageAt ?? a.createdAt!)
      );
    return {
      conversations: rows.slice((page - 1) * pageSize, page * pageSize),
      pages: Math.max(1, Math.ceil(rows.length / pageSize)),
    };
  }

  describeConversation(
    options: { conversationId: string; customAttributes: Record<string, unknown> },
  ): unknown {
    if (!_isObject(options)) {
      return _sdkError(400, "invalid_options", "describeConversation options must be an object");
    }
    const conv = this.#conversationFor("describeConversation", options.conversationId);
    if (conv instanceof Error) return conv;
    const invalid = _checkCustomAttributes(options.customAttributes);
    if (invalid) return invalid;
    _mergeAttributes(conv.customAttributes, options.customAttributes);
    return {
      conversationId: conv.conversationId,
      customAttributes: _clone(conv.customAttributes),
    };
  }

  describeCustomer(
    options: { attributes?: Record<string, unknown>; customAttributes?: Record<string, unknown> },
  ): unknown {
    if (!_isObject(options)) {
      return _sdkError(400, "invalid_options", "describeCustomer options must be an object");
    }
    if (options.attributes !== undefined && !_isObject(options.attributes)) {
      return _sdkError(
        400,
        "invalid_attributes",
        "describeCustomer attributes must be an object",
      );
    }
    if (options.customAttributes !== undefined) {
      const invalid = _checkCustomAttributes(options.customAttributes);
      if (invalid) return invalid;
    }
    const customer = this.#customer;
    Object.assign(customer.attributes, _clone(options.attributes ?? {}));
    _mergeAttributes(customer.customAttributes, options.customAttributes ?? {});
    return {
      customerId: customer.customerId,
      attributes: _clone(customer.attributes),
      customAttributes: _clone(customer.customAttributes),
    };
  }

  endConversation(options: { conversationId: string }): KustomerConversation | KustomerSdkError {
    if (!this.#allowEnd) {
      return _sdkError(
        403,
        "end_not_allowed",
        "This organization does not allow customers to end chats",
      );
    }
    const conv = this.#conversationFor(
      "endConversation",
      _isObject(options) ? options.conversationId : undefined,
    );
    if (conv instanceof Error) return conv;
    if (!conv.ended) this.#end(conv);
    return this.#conversationPayload(conv, false);
  }

  markRead(
    options: { conversationId: string; messageIds?: string[] },
  ): { conversationId: string; messageIds: string[] | undefined } | KustomerSdkError {
    const conv = this.#conversationFor(
      "markRead",
      _isObject(options) ? options.conversationId : undefined,
    );
    if (conv instanceof Error) return conv;
    const ids = options.messageIds;
    if (ids !== undefined && (!Array.isArray(ids) || ids.some((id) => typeof id !== "string"))) {
      return _sdkError(
        400,
        "invalid_message_ids",
        "markRead messageIds must be an array of strings",
      );
    }
    for (const m of conv.messages) {
      if (ids === undefined || ids.includes(m.messageId)) conv.read.add(m.messageId);
    }
    this.readReceipts.push({
      conversationId: conv.conversationId,
      messageIds: ids ? [...ids] : undefined,
      at: this.#hooks.now(),
    });
    return { conversationId: conv.conversationId, messageIds: ids ? [...ids] : undefined };
  }

  sendTypingActivity(
    options: { conversationId: string; typing: boolean },
  ): undefined | KustomerSdkError {
    const conv = this.#conversationFor(
      "sendTypingActivity",
      _isObject(options) ? options.conversationId : undefined,
    );
    if (conv instanceof Error) return conv;
    conv.customerTyping = Boolean(options.typing);
    return undefined;
  }

  isChatAvailable(): KustomerAvailability {
    return this.#availabilityShape === "object"
      ? { availability: this.#availability }
      : this.#availability;
  }

  getUnreadCount(): { total: number; conversations: Record<string, number> } {
    const conversations: Record<string, number> = {};
    let total = 0;
    for (const conv of this.#conversations.values()) {
      if (conv.customerId !== this.#customer.customerId) continue;
      const unread = conv.messages.filter((m) =>
        m.direction === "out" && !conv.read.has(m.messageId)
      ).length;
      if (unread > 0) {
        conversations[conv.conversationId] = unread;
        total += unread;
      }
    }
    return { total, conversations };
  }

  submitSatisfactionForm(
    options: { satisfactionId: string; rating?: number; answers?: unknown[]; submittedAt: string },
  ): unknown {
    if (!_isObject(options)) {
      return _sdkError(
        400,
        "invalid_options",
        "submitSatisfactionForm options must be an object",
      );
    }
    const conv = [...this.#conversations.values()].find((c) =>
      c.customerId === this.#customer.customerId &&
      c.satisfaction?.satisfactionId === options.satisfactionId
    );
    if (!conv || !conv.satisfaction) {
      return _sdkError(
        404,
        "not_found",
        `Unknown satisfactionId: ${String(options.satisfactionId)}`,
      );
    }
    if (
      typeof options.submittedAt !== "string" || Number.isNaN(Date.parse(options.submittedAt))
    ) {
      return _sdkError(
        400,
        "invalid_submitted_at",
        "submitSatisfactionForm requires submittedAt as an ISO date",
      );
    }
    if (
      options.rating !== undefined &&
      (typeof options.rating !== "number" || !Number.isFinite(options.rating))
    ) {
      return _sdkError(400, "invalid_rating", "rating must be a finite number");
    }
    conv.satisfaction.response = {
      ...(options.rating !== undefined ? { rating: options.rating } : {}),
      answers: _clone(options.answers ?? []),
      submittedAt: options.submittedAt,
    };
    return {
      conversationId: conv.conversationId,
      satisfactionId: conv.satisfaction.satisfactionId,
      response: _clone(conv.satisfaction.response),
    };
  }

  // --- the agent's side ----------------------------------------------------------------------

  agentSend(conversationId: string, text: string, options: SimAgentSendOptions): KustomerMessage {
    const conv = this.known(conversationId);
    if (conv.messages.length === 0) {
      throw new Error(
        `Cannot agentSend: conversation ${conversationId} is a draft (agents cannot see drafts)`,
      );
    }
    if (typeof text !== "string" || text.length > MAX_AGENT_REPLY_LENGTH) {
      throw new RangeError(
        `Cannot agentSend: text must be a string of at most ${MAX_AGENT_REPLY_LENGTH} characters`,
      );
    }
    const agent = options.agent ?? this.currentAgent(conversationId);
    conv.agent = agent;
    if (conv.ended) {
      conv.ended = false;
      this.#emit("onConversationUnended", this.#conversationPayload(conv, false), conv);
    }
    const message: KustomerMessage = {
      messageId: `msg-${++this.#counters.msg}`,
      conversationId,
      body: text,
      createdAt: this.#stamp(),
      direction: "out",
      attachments: (options.attachments ?? []).map((a) => ({
        ..._clone(a),
        id: a.id ?? `att-${++this.#counters.att}`,
      })),
      sentBy: {
        type: "user",
        id: agent.id,
        displayName: agent.displayName,
        ...(agent.avatarUrl !== undefined ? { avatarUrl: agent.avatarUrl } : {}),
      },
    };
    if (options.quickReplies) {
      message.meta = {
        template: {
          templateType: "quick_replies",
          body: text,
          actions: _clone(options.quickReplies),
        },
      };
    }
    conv.messages.push(message);
    conv.agentSent = true;
    this.#emit("onMessageReceived", message, conv);
    return _clone(message);
  }

  agentTyping(conversationId: string, typing: boolean, agent?: SimAgent): void {
    const conv = this.known(conversationId);
    const who = agent ?? this.currentAgent(conversationId);
    const event: KustomerTypingEvent = {
      conversationId,
      user: {
        id: who.id,
        displayName: who.displayName,
        ...(who.avatarUrl !== undefined ? { avatarUrl: who.avatarUrl } : {}),
      },
      typing,
    };
    this.#emit("onAgentTypingActivity", event, conv);
  }

  agentEnd(conversationId: string): KustomerConversation {
    const conv = this.known(conversationId);
    if (!conv.ended) this.#end(conv);
    return this.#conversationPayload(conv, false);
  }

  transfer(conversationId: string, toAgent: SimAgent): void {
    this.known(conversationId).agent = toAgent;
  }

  sendSatisfaction(conversationId: string): KustomerSatisfactionEvent {
    const conv = this.known(conversationId);
    if (!conv.agentSent || !conv.ended) {
      throw new Error(
        `Cannot send satisfaction for ${conversationId}: CSAT is sent only when an agent had joined and the chat has ended`,
      );
    }
    conv.satisfaction = {
      satisfactionId: `sat-${++this.#counters.sat}`,
      form: _clone(_SATISFACTION_FORM),
      response: {},
    };
    const event: KustomerSatisfactionEvent = {
      conversationId,
      satisfactionId: conv.satisfaction.satisfactionId,
      form: _clone(conv.satisfaction.form),
      response: {},
    };
    this.#emit("onSatisfactionReceived", event, conv);
    return _clone(event);
  }

  // --- private -------------------------------------------------------------------------------

  /** Fires an event, unless it is about another customer's conversation. */
  #emit(name: KustomerEventName, payload: unknown, conv?: _Conversation): void {
    if (conv && conv.customerId !== this.#customer.customerId) return;
    this.#hooks.emit(name, payload);
  }

  #stamp(): string {
    const ms = Math.max(this.#hooks.now(), this.#lastStamp + 1);
    this.#lastStamp = ms;
    return new Date(ms).toISOString();
  }

  #newAnonymous(): _CustomerRecord {
    const customerId = `anon-${++this.#counters.anon}`;
    const record: _CustomerRecord = {
      customerId,
      identified: false,
      attributes: {},
      customAttributes: {},
      sentAt: [],
    };
    this.#customers.set(customerId, record);
    return record;
  }

  #verifyJwt(token: unknown): Record<string, unknown> | KustomerSdkError {
    const invalid = (why: string) => _sdkError(401, "invalid_token", `Invalid login token: ${why}`);
    if (typeof token !== "string" || token === "") {
      return invalid("jwtToken must be a non-empty string");
    }
    const parts = token.split(".");
    if (parts.length !== 3 || parts.some((p) => p === "")) {
      return invalid("a JWT has three non-empty base64url parts separated by dots");
    }
    let header: unknown;
    let claims: unknown;
    try {
      header = JSON.parse(_base64UrlDecode(parts[0]));
      claims = JSON.parse(_base64UrlDecode(parts[1]));
      _base64UrlDecode(parts[2]);
    } catch {
      return invalid("its parts are not base64url-encoded JSON");
    }
    if (!_isObject(header) || !_isObject(claims)) {
      return invalid("its header and payload must be JSON objects");
    }
    const hasId = (typeof claims.externalId === "string" && claims.externalId !== "") ||
      (typeof claims.email === "string" && claims.email !== "");
    if (!hasId) return invalid("the externalId or email claim is required");
    if (typeof claims.iat !== "number" || !Number.isFinite(claims.iat)) {
      return invalid("the iat claim (issued-at, in seconds) is required");
    }
    const ageSeconds = this.#hooks.now() / 1000 - claims.iat;
    if (ageSeconds >= MAX_JWT_AGE_SECONDS) {
      return _sdkError(
        401,
        "token_expired",
        `Login token expired: iat is ${
          Math.floor(ageSeconds)
        } s old; it must be less than 15 minutes old`,
      );
    }
    return claims;
  }

  #checkAttachments(
    files: unknown[],
  ): { file: { size: number }; name: string; contentType: string }[] | KustomerSdkError {
    const out: { file: { size: number }; name: string; contentType: string }[] = [];
    let total = 0;
    for (const [index, entry] of files.entries()) {
      const file = _isObject(entry) ? entry.file : undefined;
      if (!_isObject(file) && !(typeof Blob !== "undefined" && file instanceof Blob)) {
        return _sdkError(400, "invalid_attachment", `Attachment ${index} must be { file: Blob }`);
      }
      const blob = file as { size?: unknown; type?: unknown; name?: unknown };
      if (typeof blob.size !== "number") {
        return _sdkError(
          400,
          "invalid_attachment",
          `Attachment ${index} has no size: expected a Blob or File`,
        );
      }
      const name = typeof blob.name === "string" && blob.name !== ""
        ? blob.name
        : `attachment-${index + 1}`;
      const contentType = typeof blob.type === "string" ? blob.type.toLowerCase() : "";
      const extension = name.includes(".") ? name.split(".").pop()!.toLowerCase() : "";
      if (
        !_ALLOWED_EXTENSIONS.has(extension) &&
        !_ALLOWED_MIME_TYPES.has(contentType.split(";")[0].trim())
      ) {
        return _sdkError(
          415,
          "unsupported_attachment_type",
          `Attachment ${name} is not an allowed type: JPG, PNG, PDF, DOC, DOCX, XLS, XLSX, ZIP, TXT, MOV, MP4`,
        );
      }
      if (blob.size > MAX_ATTACHMENT_BYTES) {
        return _sdkError(
          413,
          "attachment_too_large",
          `Attachment ${name} is ${blob.size} bytes; at most 5 MB (${MAX_ATTACHMENT_BYTES} bytes) per file`,
        );
      }
      total += blob.size;
      out.push({
        file: blob as { size: number },
        name,
        contentType: contentType || "application/octet-stream",
      });
    }
    if (total > MAX_MESSAGE_ATTACHMENT_BYTES) {
      return _sdkError(
        413,
        "attachments_too_large",
        `Attachments total ${total} bytes; at most 9.5 MB (${MAX_MESSAGE_ATTACHMENT_BYTES} bytes) per message`,
      );
    }
    return out;
  }

  #attachmentUrl(id: string, name: string, file: unknown): string {
    if (
      this.#objectUrls && typeof URL.createObjectURL === "function" &&
      typeof Blob !== "undefined" && file instanceof Blob
    ) {
      const url = URL.createObjectURL(file);
      this.#objectUrlsCreated.push(url);
      return url;
    }
    return `sim://attachments/${id}/${encodeURIComponent(name)}`;
  }

  #conversationFor(method: string, conversationId: unknown): _Conversation | KustomerSdkError {
    if (typeof conversationId !== "string" || conversationId === "") {
      return _sdkError(400, "conversation_id_required", `${method} requires a conversationId`);
    }
    const conv = this.#conversations.get(conversationId);
    if (!conv || conv.customerId !== this.#customer.customerId) {
      return _sdkError(404, "not_found", `Conversation not found: ${conversationId}`);
    }
    return conv;
  }

  #end(conv: _Conversation): void {
    conv.ended = true;
    this.#hooks.ended(conv.conversationId);
    this.#emit("onConversationEnded", this.#conversationPayload(conv, false), conv);
  }

  #conversationPayload(conv: _Conversation, created: boolean): KustomerConversation {
    return {
      conversationId: conv.conversationId,
      createdAt: conv.createdAt,
      ended: conv.ended,
      ...(created ? { isInAssistantMode: false } : {}),
    };
  }

  #satisfactionField(conv: _Conversation): { satisfaction?: unknown } {
    if (!conv.satisfaction) return {};
    return {
      satisfaction: {
        satisfactionId: conv.satisfaction.satisfactionId,
        form: _clone(conv.satisfaction.form),
        response: _clone(conv.satisfaction.response),
      },
    };
  }

  #sorted(messages: readonly KustomerMessage[]): KustomerMessage[] {
    return [...messages].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  #ordered(messages: readonly KustomerMessage[]): KustomerMessage[] {
    const sorted = this.#sorted(messages);
    return this.#hooks.deliveryMode() === "reverse" ? sorted.reverse() : sorted;
  }

  #view(c: _Conversation): SimConversation {
    return {
      conversationId: c.conversationId,
      customerId: c.customerId,
      title: c.title,
      ...(c.brand !== undefined ? { brand: c.brand } : {}),
      createdAt: c.createdAt,
      ended: c.ended,
      isDraft: c.messages.length === 0,
      ...(c.agent ? { agent: c.agent } : {}),
      messageCount: c.messages.length,
      customAttributes: _clone(c.customAttributes),
      ...(c.satisfaction ? { satisfactionId: c.satisfaction.satisfactionId } : {}),
    };
  }
}
