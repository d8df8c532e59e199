/**
 * An in-memory Kustomer Chat Core SDK (web, v2) with a scripted agent and fault injection.
 *
 * `SimulatedKustomerCore` implements {@linkcode KustomerCore} as described in
 * `shared/design/KUSTOMER_CORE.md`: callback style `(response, error)`, callbacks always
 * asynchronous, `init` required first, JWT `iat` rules, attachment and custom attribute limits,
 * events for all of the customer's conversations. Only web APIs are used (no Deno APIs), so the
 * module runs under `deno test` and in a browser bundle alike.
 *
 * @module
 */

import type {
  KustomerAction,
  KustomerAvailability,
  KustomerCallback,
  KustomerConversation,
  KustomerConversationSummary,
  KustomerCore,
  KustomerCreateConversationOptions,
  KustomerEventName,
  KustomerInitOptions,
  KustomerListener,
  KustomerLoginResponse,
  KustomerMessage,
  KustomerMessagesResponse,
  KustomerSatisfactionEvent,
  KustomerSdkError,
  KustomerSendMessageOptions,
  KustomerTypingEvent,
} from "./kustomer_types.ts";
import { _base64UrlDecode } from "./simulator/jwt.ts";
import {
  _ALLOWED_EXTENSIONS,
  _ALLOWED_MIME_TYPES,
  _checkCustomAttributes,
  _checkDelay,
  _clone,
  _DAY_MS,
  _isObject,
  _mergeAttributes,
  _redact,
  _sdkError,
} from "./simulator/checks.ts";
import { _Network } from "./simulator/network.ts";
import { type _FaultRule, _makeFaults } from "./simulator/faults.ts";
import {
  DEFAULT_AGENTS,
  MAX_AGENT_REPLY_LENGTH,
  MAX_ATTACHMENT_BYTES,
  MAX_JWT_AGE_SECONDS,
  MAX_MESSAGE_ATTACHMENT_BYTES,
  MAX_TITLE_LENGTH,
  type SimAgent,
  type SimAgentSendOptions,
  type SimAvailability,
  type SimCall,
  type SimConnection,
  type SimConversation,
  type SimConversationState,
  type SimCustomer,
  type SimDeliveryMode,
  type SimFaults,
  type SimInitResponse,
  type SimLogin,
  type SimMethod,
  type SimReadReceipt,
  type SimScheduler,
  type SimScriptOptions,
  type SimServerState,
  type SimSettings,
  type SimState,
  type SimulatedKustomerCoreOptions,
  type SimUncaughtError,
} from "./simulator/types.ts";

export * from "./simulator/types.ts";
export { makeTestJwt } from "./simulator/jwt.ts";

interface _Timer {
  id: unknown;
  done: boolean;
}

interface _Step {
  delayMs: number;
  run: () => void;
}

interface _Satisfaction {
  satisfactionId: string;
  form: unknown;
  response: Record<string, unknown>;
}

interface _Conversation {
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
  scriptQueue: _Step[];
  scriptTimer?: _Timer;
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

interface _CallHooks {
  requiresInit?: boolean;
  /** Runs when a successful answer is delivered, before the callback. */
  onDelivered?: () => void;
  /** With a network: how long the answer takes (set once the request has reached the server). */
  answerMs?: number;
}

const _SATISFACTION_FORM = Object.freeze({
  id: "csat-form-sim",
  title: "How did we do?",
  questions: [
    { id: "rating", type: "rating", prompt: "How would you rate this chat?", scale: 5 },
    { id: "comment", type: "text", prompt: "Anything else you would like to tell us?" },
  ],
});

const _QUICK_REPLIES: readonly KustomerAction[] = [
  { displayText: "Keep chatting", value: "keep chatting" },
  { displayText: "End chat", value: "end chat" },
];

// ---------------------------------------------------------------------------------------------
// SimulatedKustomerCore
// ---------------------------------------------------------------------------------------------

/**
 * An in-memory Kustomer Chat Core SDK with an agent-control API, a scripted agent and fault
 * injection. Deterministic under an injected clock and scheduler.
 *
 * Behaviour worth knowing:
 * - Callbacks are always asynchronous: `queueMicrotask` when `latencyMs` is 0, else the
 *   injected scheduler. Events are delivered the same way, after the call's callback.
 * - The server-side effect of a call (and `callLog`, `messagesOf`, ...) happens synchronously
 *   when the call is made; only the answer and the events are delayed. With `network`, the
 *   effect comes part-way through the call's seeded latency (see {@linkcode SimNetworkOptions}).
 * - Ids are counters (`conv-1`, `msg-1`, `att-1`, `sat-1`, `anon-1`, `cust-1`). `createdAt` is
 *   `now()`, bumped to 1 ms after the previous stamp when `now()` did not advance, so stamps
 *   are strictly increasing.
 * - The customer's own `sendMessage` does not fire `onMessageReceived`; agent messages do.
 * - Events are delivered only for conversations of the current customer (all of them: clients
 *   must filter by `conversationId`). An agent message to an ended conversation reopens it
 *   (`onConversationUnended`).
 * - Exceptions thrown by listeners and callbacks are caught and kept in `uncaughtErrors`.
 *
 * @example Usage
 * ```ts
 * import { SimulatedKustomerCore } from "./simulator.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const core = new SimulatedKustomerCore({ objectUrls: false });
 * const call = <T>(fn: (cb: (r: T | undefined, e?: unknown) => void) => void) =>
 *   new Promise<T>((resolve, reject) => fn((r, e) => (e ? reject(e) : resolve(r as T))));
 *
 * await call((cb) => core.init({}, cb));
 * const conversation = await call<{ conversationId: string }>((cb) =>
 *   core.createConversation({ title: "Help" }, cb)
 * );
 * await call((cb) => core.sendMessage({ conversationId: conversation.conversationId, body: "Hi" }, cb));
 * const reply = core.agentSend(conversation.conversationId, "Hello, I'm Ada.");
 * assertEquals(reply.direction, "out");
 * assertEquals(core.messagesOf(conversation.conversationId).length, 2);
 * core.dispose();
 * ```
 */
export class SimulatedKustomerCore implements KustomerCore {
  /** Fault injection for the SDK methods. */
  readonly faults: SimFaults;

  #now: () => number;
  #scheduler: SimScheduler;
  #latencyMs: number;
  #script: Required<SimScriptOptions> | undefined;
  #agents: readonly [SimAgent, SimAgent];
  #deliveryMode: SimDeliveryMode;
  #availability: SimAvailability;
  #availabilityShape: "string" | "object";
  #allowEnd: boolean;
  #settings: Required<SimSettings>;
  #objectUrls: boolean;
  #rateLimit: number;
  #network: _Network | undefined;

  #state: SimState = "idle";
  #connection: SimConnection = "connected";
  #initBrandId: string | undefined;
  #takeFault: (method: SimMethod) => _FaultRule | undefined;
  #timers = new Set<_Timer>();
  #listeners = new Map<string, KustomerListener[]>();
  #outbox: { name: string; payload: unknown }[] = [];
  #flushPending = false;
  #conversations = new Map<string, _Conversation>();
  #customers = new Map<string, _CustomerRecord>();
  #customerKeys = new Map<string, string>();
  #customer: _CustomerRecord;
  #counters = { conv: 0, msg: 0, att: 0, sat: 0, anon: 0, cust: 0 };
  #lastStamp = -Infinity;
  #callLog: SimCall[] = [];
  #logins: SimLogin[] = [];
  #readReceipts: SimReadReceipt[] = [];
  #uncaught: SimUncaughtError[] = [];
  #objectUrlsCreated: string[] = [];

  /**
   * Creates a simulator. Nothing is scheduled until it is used.
   *
   * @param options Clock, scheduler, latency, scripted agent and behaviour switches.
   */
  constructor(options: SimulatedKustomerCoreOptions = {}) {
    this.#now = options.now ?? (() => Date.now());
    this.#scheduler = options.scheduler ?? {
      setTimeout: (fn: () => void, ms: number): unknown => globalThis.setTimeout(fn, ms),
      clearTimeout: (id: unknown): void => globalThis.clearTimeout(id as number),
    };
    this.#latencyMs = _checkDelay(options.latencyMs ?? 0, "latencyMs");
    if (options.script) {
      const s = options.script === true ? {} : options.script;
      this.#script = {
        joinDelayMs: _checkDelay(s.joinDelayMs ?? 1000, "script.joinDelayMs"),
        replyDelayMs: _checkDelay(s.replyDelayMs ?? 500, "script.replyDelayMs"),
        typingMs: _checkDelay(s.typingMs ?? 500, "script.typingMs"),
      };
    }
    this.#agents = options.agents ?? DEFAULT_AGENTS;
    this.#deliveryMode = options.deliveryMode ?? "normal";
    this.#availability = options.availability ?? "online";
    this.#availabilityShape = options.availabilityShape ?? "string";
    this.#allowEnd = options.allowEndConversation ?? true;
    this.#settings = {
      brandId: options.settings?.brandId ?? "brand-sim",
      teamName: options.settings?.teamName ?? "Simulated Support",
      greeting: options.settings?.greeting ?? "Hi! How can we help you today?",
    };
    this.#objectUrls = options.objectUrls ?? true;
    this.#rateLimit = options.rateLimitPerMinute ?? 120;
    this.#network = options.network === undefined ? undefined : new _Network(options.network);
    this.#customer = this.#newAnonymous();
    ({ faults: this.faults, take: this.#takeFault } = _makeFaults());
  }

  // -------------------------------------------------------------------------------------------
  // Inspection
  // -------------------------------------------------------------------------------------------

  /** The lifecycle state: `"ready"` once `init` has called back. */
  get state(): SimState {
    return this.#state;
  }

  /** Whether the simulated network is up. */
  get connection(): SimConnection {
    return this.#connection;
  }

  /** How events reach listeners; may be changed at any time. */
  get deliveryMode(): SimDeliveryMode {
    return this.#deliveryMode;
  }

  /** Sets how events reach listeners. */
  set deliveryMode(mode: SimDeliveryMode) {
    if (mode !== "normal" && mode !== "duplicate" && mode !== "reverse") {
      throw new TypeError(
        `Invalid deliveryMode: expected normal, duplicate or reverse, got ${mode}`,
      );
    }
    this.#deliveryMode = mode;
  }

  /** Every SDK call made, in order (listener management excluded; `jwtToken` redacted). */
  get callLog(): readonly SimCall[] {
    return this.#callLog;
  }

  /** Successful logins, in order: claims only, never the token. */
  get logins(): readonly SimLogin[] {
    return this.#logins;
  }

  /** `markRead` calls that took effect, in order. */
  get readReceipts(): readonly SimReadReceipt[] {
    return this.#readReceipts;
  }

  /** Exceptions thrown by listeners, callbacks and scripted steps, caught by the simulator. */
  get uncaughtErrors(): readonly SimUncaughtError[] {
    return this.#uncaught;
  }

  /** A snapshot of every conversation (of every customer), in creation order. */
  get conversations(): readonly SimConversation[] {
    return [...this.#conversations.values()].map((c) => this.#view(c));
  }

  /** A snapshot of the current customer. */
  get customer(): SimCustomer {
    const c = this.#customer;
    return {
      customerId: c.customerId,
      identified: c.identified,
      ...(c.email !== undefined ? { email: c.email } : {}),
      ...(c.externalId !== undefined ? { externalId: c.externalId } : {}),
      attributes: _clone(c.attributes),
      customAttributes: _clone(c.customAttributes),
    };
  }

  /** How many scheduler timers are pending (latency deliveries and scripted steps). */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * A conversation's messages (both directions), sorted by `createdAt`.
   *
   * @param conversationId The conversation.
   * @returns Copies of its messages.
   * @throws {RangeError} When the conversation is unknown.
   */
  messagesOf(conversationId: string): KustomerMessage[] {
    return _clone(this.#sorted(this.#known(conversationId).messages));
  }

  /**
   * Whether a conversation is still a draft (no message yet; agents cannot see it).
   *
   * @param conversationId The conversation.
   * @returns `true` while it has no message.
   * @throws {RangeError} When the conversation is unknown.
   */
  isDraft(conversationId: string): boolean {
    return this.#known(conversationId).messages.length === 0;
  }

  /**
   * A conversation's custom attributes, as set by `describeConversation`.
   *
   * @param conversationId The conversation.
   * @returns A copy of the attributes.
   * @throws {RangeError} When the conversation is unknown.
   */
  customAttributesOf(conversationId: string): Record<string, unknown> {
    return _clone(this.#known(conversationId).customAttributes);
  }

  /**
   * The customer's last `sendTypingActivity` value for a conversation.
   *
   * @param conversationId The conversation.
   * @returns `true`/`false`, or `undefined` when never sent.
   * @throws {RangeError} When the conversation is unknown.
   */
  typingOf(conversationId: string): boolean | undefined {
    return this.#known(conversationId).customerTyping;
  }

  /**
   * How many listeners are registered.
   *
   * @param name An event name, or none for all events.
   * @returns The number of registered listeners.
   */
  listenerCount(name?: KustomerEventName | string): number {
    if (name !== undefined) return this.#listeners.get(name)?.length ?? 0;
    let total = 0;
    for (const list of this.#listeners.values()) total += list.length;
    return total;
  }

  // -------------------------------------------------------------------------------------------
  // Network and lifecycle
  // -------------------------------------------------------------------------------------------

  /**
   * Drops the connection: from now on every SDK call hangs (never calls back, has no effect
   * server-side), answers and events in flight are lost, and events are not delivered. The
   * agent side keeps working: agent messages are stored and `getMessages` returns them after
   * `restoreConnection()`.
   */
  dropConnection(): void {
    this.#connection = "dropped";
    this.#outbox = [];
  }

  /** Restores the connection. Calls made while dropped stay unanswered. */
  restoreConnection(): void {
    this.#connection = "connected";
  }

  /**
   * Sets what `isChatAvailable()` reports.
   *
   * @param value The availability.
   */
  setAvailability(value: SimAvailability): void {
    if (!["online", "offline", "hidden", "disabled"].includes(value)) {
      throw new TypeError(
        `Invalid availability: expected online, offline, hidden or disabled, got ${value}`,
      );
    }
    this.#availability = value;
  }

  /**
   * The server side as data: conversations, customers and counters (not listeners, faults,
   * timers or logs). With {@linkcode importState} a page keeps its simulated Kustomer across a
   * reload, as the real one is kept on Kustomer's servers.
   *
   * @returns A JSON-safe copy of the state.
   */
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

  /**
   * Replaces the server side with a saved state (see {@linkcode exportState}). Scripted replies
   * that were still pending when the state was saved are not restored, but the scripted agent
   * answers (again) the customer messages that came after its last message.
   *
   * @param state A state from `exportState`.
   * @throws {TypeError} When `state` is not a state of this format.
   */
  importState(state: SimServerState): void {
    this.#checkAlive("importState");
    if (
      !_isObject(state) || state.v !== 1 || !Array.isArray(state.conversations) ||
      !Array.isArray(state.customers) || !Array.isArray(state.customerKeys) ||
      typeof state.currentCustomerId !== "string" || !_isObject(state.counters)
    ) {
      throw new TypeError("importState() needs a state from exportState() (format version 1)");
    }
    const copy = _clone(state);
    for (const c of this.#conversations.values()) {
      this.#cancel(c.scriptTimer);
      c.scriptTimer = undefined;
    }
    this.#conversations = new Map(copy.conversations.map((c) => [c.conversationId, {
      ...c,
      messages: [...c.messages],
      customAttributes: { ...c.customAttributes },
      ...(c.satisfaction
        ? { satisfaction: { ...c.satisfaction, response: { ...c.satisfaction.response } } }
        : {}),
      read: new Set(c.read),
      scriptQueue: [],
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
    // The scripted agent answers what the customer said while its replies were lost with the page.
    if (this.#script) {
      for (const conv of this.#conversations.values()) {
        if (conv.ended) continue;
        const lastOut = conv.messages.findLastIndex((m) => m.direction === "out");
        if (lastOut < 0) conv.scriptGreeted = false;
        for (const m of conv.messages.slice(lastOut + 1)) {
          if (m.direction === "in") this.#scriptOnCustomerMessage(conv, m, undefined);
        }
      }
    }
  }

  /**
   * Cancels every scheduled timer (latency, scripted agent), drops pending answers and events,
   * removes listeners and revokes object URLs. Afterwards SDK calls never call back and the
   * agent-control methods throw. Safe to call twice.
   */
  dispose(): void {
    if (this.#state === "disposed") return;
    this.#state = "disposed";
    for (const timer of this.#timers) {
      timer.done = true;
      this.#scheduler.clearTimeout(timer.id);
    }
    this.#timers.clear();
    for (const conv of this.#conversations.values()) {
      conv.scriptQueue = [];
      conv.scriptTimer = undefined;
    }
    this.#outbox = [];
    this.#listeners.clear();
    if (typeof URL.revokeObjectURL === "function") {
      for (const url of this.#objectUrlsCreated) URL.revokeObjectURL(url);
    }
    this.#objectUrlsCreated = [];
  }

  // -------------------------------------------------------------------------------------------
  // The Core SDK
  // -------------------------------------------------------------------------------------------

  /**
   * Initializes the SDK; every other call must come after this has called back.
   *
   * @param options `brandId?` and other init options.
   * @param callback Receives `{ settings: { brandId, teamName, greeting } }`.
   */
  init(options: KustomerInitOptions, callback?: KustomerCallback<SimInitResponse>): void {
    this.#call("init", options, callback, () => {
      if (options !== undefined && !_isObject(options)) {
        return _sdkError(400, "invalid_options", "init options must be an object");
      }
      const brandId = (options as KustomerInitOptions | undefined)?.brandId;
      if (typeof brandId === "string") this.#initBrandId = brandId;
      if (this.#state === "idle") this.#state = "initializing";
      return {
        settings: {
          ...this.#settings,
          brandId: this.#initBrandId ?? this.#settings.brandId,
        },
      };
    }, {
      requiresInit: false,
      onDelivered: () => {
        if (this.#state === "initializing") this.#state = "ready";
      },
    });
  }

  /**
   * Identifies the customer with a JWT: three base64url parts, claims `externalId` or `email`,
   * and `iat` (seconds) less than 15 minutes old by `now()`. The signature is not verified.
   * Anonymous conversations move to the identified customer. Fires `onLogin`.
   *
   * @param options `{ jwtToken }`.
   * @param callback Receives `{ identified: true, customerId, email, externalId }`, or a 401 error.
   */
  login(options: { jwtToken: string }, callback?: KustomerCallback<KustomerLoginResponse>): void {
    this.#call("login", options, callback, () => {
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
      this.#logins.push({ customerId, claims: Object.freeze(_clone(claims)), at: this.#now() });
      const response: KustomerLoginResponse = {
        identified: true,
        customerId,
        ...(record.email !== undefined ? { email: record.email } : {}),
        ...(record.externalId !== undefined ? { externalId: record.externalId } : {}),
      };
      this.#emit("onLogin", response);
      return response;
    });
  }

  /**
   * Clears the session: the customer becomes a new anonymous one, whose conversation list is
   * empty. Conversations of the previous customer stay stored server-side.
   *
   * @param callback Receives `{}`.
   */
  logout(callback?: KustomerCallback<unknown>): void {
    this.#call("logout", undefined, callback, () => {
      this.#customer = this.#newAnonymous();
      return {};
    });
  }

  /**
   * Creates a conversation (a draft until its first message). Fires `onConversationCreate`.
   *
   * @param options `title` (required, at most 256 characters), `brand?`, `assistant?`, `lang?`.
   * @param callback Receives `{ conversationId, createdAt, ended: false, isInAssistantMode: false }`.
   */
  createConversation(
    options: KustomerCreateConversationOptions,
    callback?: KustomerCallback<KustomerConversation>,
  ): void {
    this.#call("createConversation", options, callback, () => {
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
        scriptQueue: [],
      };
      this.#conversations.set(conversationId, conv);
      const response = this.#conversationPayload(conv, true);
      this.#emit("onConversationCreate", response, conv);
      return response;
    });
  }

  /**
   * Sends a customer message. Attachments: at most 5 MB each and 9.5 MB in all; JPG, PNG, PDF,
   * DOC, DOCX, XLS, XLSX, ZIP, TXT, MOV, MP4 (by extension or MIME type). Fails on an unknown or
   * ended conversation, an empty message, or beyond the rate limit (429).
   *
   * @param options `conversationId`, `body?`, `attachments?: [{ file }]`, `payload?`.
   * @param callback Receives the stored message.
   */
  sendMessage(
    options: KustomerSendMessageOptions,
    callback?: KustomerCallback<KustomerMessage>,
  ): void {
    this.#call("sendMessage", options, callback, () => {
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
      const now = this.#now();
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
      this.#scriptOnCustomerMessage(conv, message, options.payload);
      return _clone(message);
    });
  }

  /**
   * The messages of a conversation from the last 30 days (both directions). Newest first when
   * `deliveryMode` is `"reverse"`, else oldest first.
   *
   * @param options `{ conversationId }`.
   * @param callback Receives `{ conversationId, messages, satisfaction? }`.
   */
  getMessages(
    options: { conversationId: string },
    callback?: KustomerCallback<KustomerMessagesResponse>,
  ): void {
    this.#call("getMessages", options, callback, () => {
      const conv = this.#conversationFor(
        "getMessages",
        _isObject(options) ? options.conversationId : undefined,
      );
      if (conv instanceof Error) return conv;
      const since = this.#now() - 30 * _DAY_MS;
      const messages = conv.messages.filter((m) => Date.parse(m.createdAt) >= since);
      return {
        conversationId: conv.conversationId,
        messages: _clone(this.#ordered(messages)),
        ...this.#satisfactionField(conv),
      };
    });
  }

  /**
   * Older messages: the latest `count` (default 25) created before `before` (default: now),
   * with no 30-day limit.
   *
   * @param options `conversationId`, `count?`, `before?` (ISO date).
   * @param callback Receives `{ conversationId, messages, satisfaction? }`.
   */
  getHistoricalMessages(
    options: { conversationId: string; count?: number; before?: string },
    callback?: KustomerCallback<KustomerMessagesResponse>,
  ): void {
    this.#call("getHistoricalMessages", options, callback, () => {
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
        messages: _clone(this.#deliveryMode === "reverse" ? messages.reverse() : messages),
        ...this.#satisfactionField(conv),
      };
    });
  }

  /**
   * The current customer's conversations, most recent activity first, one page at a time
   * (pages are numbered from 1).
   *
   * @param options `page?` (1), `pageSize?` (100).
   * @param callback Receives `{ conversations, pages }`.
   */
  getConversations(
    options: { page?: number; pageSize?: number },
    callback?: KustomerCallback<{ conversations: KustomerConversationSummary[]; pages?: number }>,
  ): void {
    this.#call("getConversations", options, callback, () => {
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
    });
  }

  /**
   * Sets custom attributes on a conversation. Names must end with `Str`, `Txt`, `Num`, `At`,
   * `Bool` or `Url`; `Str`/`Txt` values are strings of at most 1024 characters, `Num` finite
   * numbers, `Bool` booleans, `At` ISO strings or epoch numbers, `Url` strings. `null` removes
   * an attribute. All or nothing.
   *
   * @param options `{ conversationId, customAttributes }`.
   * @param callback Receives `{ conversationId, customAttributes }` (all of them).
   */
  describeConversation(
    options: { conversationId: string; customAttributes: Record<string, unknown> },
    callback?: KustomerCallback<unknown>,
  ): void {
    this.#call("describeConversation", options, callback, () => {
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
    });
  }

  /**
   * Sets attributes (e.g. `sharedEmails`) and custom attributes (same rules as
   * `describeConversation`) on the current customer.
   *
   * @param options `{ attributes?, customAttributes? }`.
   * @param callback Receives `{ customerId, attributes, customAttributes }`.
   */
  describeCustomer(
    options: { attributes?: Record<string, unknown>; customAttributes?: Record<string, unknown> },
    callback?: KustomerCallback<unknown>,
  ): void {
    this.#call("describeCustomer", options, callback, () => {
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
      const c = this.#customer;
      Object.assign(c.attributes, _clone(options.attributes ?? {}));
      _mergeAttributes(c.customAttributes, options.customAttributes ?? {});
      return {
        customerId: c.customerId,
        attributes: _clone(c.attributes),
        customAttributes: _clone(c.customAttributes),
      };
    });
  }

  /**
   * Ends a conversation (fails with 403 when the org does not allow it). Fires
   * `onConversationEnded`, as the SDK does for every conversation. Ending an ended conversation
   * answers again without a second event.
   *
   * @param options `{ conversationId }`.
   * @param callback Receives `{ conversationId, createdAt, ended: true }`.
   */
  endConversation(
    options: { conversationId: string },
    callback?: KustomerCallback<KustomerConversation>,
  ): void {
    this.#call("endConversation", options, callback, () => {
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
    });
  }

  /**
   * Marks agent messages read (all of them when `messageIds` is omitted). The callback is not
   * documented, but is called when given.
   *
   * @param options `{ conversationId, messageIds? }`.
   * @param callback Optional; receives `{ conversationId, messageIds }`.
   */
  markRead(options: { conversationId: string; messageIds?: string[] }, callback?: unknown): void {
    this.#call("markRead", options, callback, () => {
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
      this.#readReceipts.push({
        conversationId: conv.conversationId,
        messageIds: ids ? [...ids] : undefined,
        at: this.#now(),
      });
      return { conversationId: conv.conversationId, messageIds: ids ? [...ids] : undefined };
    });
  }

  /**
   * Records that the customer types (see `typingOf`). No callback, errors are silent.
   *
   * @param options `{ conversationId, typing }`.
   */
  sendTypingActivity(options: { conversationId: string; typing: boolean }): void {
    this.#call("sendTypingActivity", options, undefined, () => {
      const conv = this.#conversationFor(
        "sendTypingActivity",
        _isObject(options) ? options.conversationId : undefined,
      );
      if (conv instanceof Error) return conv;
      conv.customerTyping = Boolean(options.typing);
      return undefined;
    });
  }

  /**
   * Synchronous: whether chat is available, as a string or `{ availability }` depending on
   * the `availabilityShape` option.
   *
   * @returns `"online"`, `"offline"`, `"hidden"` or `"disabled"` (or that in an object).
   */
  isChatAvailable(): KustomerAvailability {
    this.#callLog.push({ method: "isChatAvailable", options: undefined });
    return this.#availabilityShape === "object"
      ? { availability: this.#availability }
      : this.#availability;
  }

  /**
   * Synchronous: agent messages not marked read, over the current customer's conversations.
   *
   * @returns `{ total, conversations: { [conversationId]: count } }` (conversations with unread only).
   */
  getUnreadCount(): { total: number; conversations: Record<string, number> } {
    this.#callLog.push({ method: "getUnreadCount", options: undefined });
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

  /**
   * Answers a satisfaction survey sent with `sendSatisfaction`.
   *
   * @param options `satisfactionId`, `rating?`, `answers?`, `submittedAt` (ISO).
   * @param callback Receives `{ conversationId, satisfactionId, response }`.
   */
  submitSatisfactionForm(
    options: { satisfactionId: string; rating?: number; answers?: unknown[]; submittedAt: string },
    callback?: KustomerCallback<unknown>,
  ): void {
    this.#call("submitSatisfactionForm", options, callback, () => {
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
    });
  }

  /**
   * Adds an event listener. Adding the same function twice registers it twice.
   *
   * @param name The event name.
   * @param listener Called with each payload.
   */
  addListener(name: KustomerEventName | string, listener: KustomerListener): void {
    if (typeof listener !== "function") {
      throw new TypeError(`Cannot add listener for ${name}: listener must be a function`);
    }
    if (this.#state === "disposed") return;
    const list = this.#listeners.get(name) ?? [];
    list.push(listener);
    this.#listeners.set(name, list);
  }

  /**
   * Removes one registration of a listener; needs the same function reference.
   *
   * @param name The event name.
   * @param listener The function passed to `addListener`.
   */
  removeListener(name: KustomerEventName | string, listener: KustomerListener): void {
    const list = this.#listeners.get(name);
    if (!list) return;
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.#listeners.delete(name);
  }

  // -------------------------------------------------------------------------------------------
  // Agent control
  // -------------------------------------------------------------------------------------------

  /**
   * Sends an agent message (`direction: "out"`, `sentBy: { type: "user", ... }`) and fires
   * `onMessageReceived`. The sender becomes the conversation's current agent. A message to an
   * ended conversation reopens it (`onConversationUnended` first).
   *
   * @param conversationId The conversation (not a draft).
   * @param text The message, at most 1024 characters.
   * @param options The agent, quick replies, attachments.
   * @returns A copy of the stored message.
   * @throws {RangeError} On an unknown conversation or a text over 1024 characters.
   * @throws {Error} On a draft conversation (agents cannot see drafts) or after `dispose()`.
   */
  agentSend(
    conversationId: string,
    text: string,
    options: SimAgentSendOptions = {},
  ): KustomerMessage {
    this.#checkAlive("agentSend");
    const conv = this.#known(conversationId);
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
    const agent = options.agent ?? this.#currentAgent(conv);
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

  /**
   * Fires `onAgentTypingActivity` for a conversation.
   *
   * @param conversationId The conversation.
   * @param typing Whether the agent types.
   * @param agent Who types (default: the current agent, else the first agent).
   * @throws {RangeError} On an unknown conversation.
   */
  agentTyping(conversationId: string, typing: boolean, agent?: SimAgent): void {
    this.#checkAlive("agentTyping");
    const conv = this.#known(conversationId);
    const who = agent ?? this.#currentAgent(conv);
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

  /**
   * The agent ends the conversation (always allowed) and `onConversationEnded` fires. Pending
   * scripted replies for it are cancelled.
   *
   * @param conversationId The conversation.
   * @returns `{ conversationId, createdAt, ended: true }`.
   * @throws {RangeError} On an unknown conversation.
   */
  agentEnd(conversationId: string): KustomerConversation {
    this.#checkAlive("agentEnd");
    const conv = this.#known(conversationId);
    if (!conv.ended) this.#end(conv);
    return this.#conversationPayload(conv, false);
  }

  /**
   * Transfers the conversation: the next `agentSend` (and scripted reply) comes from `toAgent`.
   * No event fires: the new `sentBy.id` is the only sign.
   *
   * @param conversationId The conversation.
   * @param toAgent The agent who takes over.
   * @throws {RangeError} On an unknown conversation.
   */
  transfer(conversationId: string, toAgent: SimAgent): void {
    this.#checkAlive("transfer");
    this.#known(conversationId).agent = toAgent;
  }

  /**
   * Sends a CSAT survey: fires `onSatisfactionReceived`, and `getMessages` then carries
   * `satisfaction`. Allowed only when an agent had sent a message and the chat has ended.
   *
   * @param conversationId The conversation.
   * @returns The event payload `{ conversationId, satisfactionId, form, response }`.
   * @throws {Error} When no agent had joined or the conversation has not ended.
   */
  sendSatisfaction(conversationId: string): KustomerSatisfactionEvent {
    this.#checkAlive("sendSatisfaction");
    const conv = this.#known(conversationId);
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

  // -------------------------------------------------------------------------------------------
  // Private machinery
  // -------------------------------------------------------------------------------------------

  /** The single path of every asynchronous SDK call. */
  #call<T>(
    method: SimMethod,
    options: unknown,
    callback: unknown,
    run: () => T | KustomerSdkError,
    hooks: _CallHooks = {},
  ): void {
    this.#callLog.push({ method, options: _redact(options) });
    if (this.#state === "disposed" || this.#connection === "dropped") return;
    if (this.#network) {
      const { requestMs, answerMs } = this.#network.call();
      this.#schedule(() => this.#arrive(method, callback, run, { ...hooks, answerMs }), requestMs);
      return;
    }
    this.#arrive(method, callback, run, hooks);
  }

  /** A call that has reached the server: faults, checks, its effect, then the answer. */
  #arrive<T>(
    method: SimMethod,
    callback: unknown,
    run: () => T | KustomerSdkError,
    hooks: _CallHooks,
  ): void {
    if (this.#connection === "dropped") return;
    const fault = this.#takeFault(method);
    if (fault?.kind === "hang") {
      if (fault.applied && (hooks.requiresInit === false || this.#state === "ready")) run();
      return;
    }
    if (fault?.kind === "fail") {
      const e = fault.error ?? {};
      const error = _sdkError(
        e.status ?? 500,
        String(e.code ?? "simulated_fault"),
        e.message ?? `Simulated failure of ${method}`,
        e.source,
      );
      if (e.code !== undefined) error.code = e.code;
      if (e.title !== undefined) error.title = e.title;
      if (e.name !== undefined) error.name = e.name;
      this.#answer(method, callback, undefined, error, undefined, hooks.answerMs);
      return;
    }
    if (hooks.requiresInit !== false && this.#state !== "ready") {
      const error = _sdkError(
        400,
        "init_required",
        this.#state === "initializing"
          ? `Cannot call ${method}: init() has not called back yet; wait for its callback`
          : `Cannot call ${method}: init() is required first and must have called back`,
      );
      this.#answer(method, callback, undefined, error, undefined, hooks.answerMs);
      return;
    }
    let result: T | KustomerSdkError;
    try {
      result = run();
    } catch (thrown) {
      result = _sdkError(500, "simulator_error", `Simulator error in ${method}: ${String(thrown)}`);
    }
    if (result instanceof Error) {
      this.#answer(method, callback, undefined, result, undefined, hooks.answerMs);
    } else this.#answer(method, callback, result, undefined, hooks.onDelivered, hooks.answerMs);
  }

  #answer(
    method: string,
    callback: unknown,
    response: unknown,
    error: KustomerSdkError | undefined,
    onDelivered?: () => void,
    delayMs: number = this.#latencyMs,
  ): void {
    if (typeof callback !== "function" && !onDelivered) return;
    this.#later(delayMs, () => {
      if (this.#connection === "dropped") return;
      onDelivered?.();
      if (typeof callback !== "function") return;
      try {
        if (error) callback(undefined, error);
        else callback(response, undefined);
      } catch (thrown) {
        this.#uncaught.push({ source: `callback:${method}`, error: thrown });
      }
    });
  }

  /** Runs `fn` asynchronously: a microtask without delay, else through the scheduler. */
  #later(delayMs: number, fn: () => void): void {
    if (delayMs > 0) {
      this.#schedule(fn, delayMs);
    } else {
      queueMicrotask(() => {
        if (this.#state !== "disposed") fn();
      });
    }
  }

  #schedule(fn: () => void, ms: number): _Timer {
    const timer: _Timer = { id: undefined, done: false };
    this.#timers.add(timer);
    timer.id = this.#scheduler.setTimeout(() => {
      if (timer.done) return;
      timer.done = true;
      this.#timers.delete(timer);
      if (this.#state !== "disposed") fn();
    }, ms);
    return timer;
  }

  #cancel(timer: _Timer | undefined): void {
    if (!timer || timer.done) return;
    timer.done = true;
    this.#timers.delete(timer);
    this.#scheduler.clearTimeout(timer.id);
  }

  #emit(name: KustomerEventName, payload: unknown, conv?: _Conversation): void {
    if (this.#state === "disposed" || this.#connection === "dropped") return;
    if (conv && conv.customerId !== this.#customer.customerId) return;
    if (this.#network) {
      const copy = _clone(payload);
      this.#later(this.#network.event(), () => {
        if (this.#connection === "dropped") return;
        this.#deliver(name, copy);
        if (this.#deliveryMode === "duplicate" && name === "onMessageReceived") {
          this.#deliver(name, _clone(copy));
        }
      });
      return;
    }
    this.#outbox.push({ name, payload: _clone(payload) });
    if (this.#flushPending) return;
    this.#flushPending = true;
    this.#later(this.#latencyMs, () => this.#flush());
  }

  #flush(): void {
    this.#flushPending = false;
    const batch = this.#outbox;
    this.#outbox = [];
    if (this.#connection === "dropped") return;
    if (this.#deliveryMode === "reverse") {
      const slots = batch.flatMap((e, i) => (e.name === "onMessageReceived" ? [i] : []));
      const messages = slots.map((i) => batch[i]).reverse();
      slots.forEach((slot, k) => (batch[slot] = messages[k]));
    }
    for (const { name, payload } of batch) {
      this.#deliver(name, payload);
      if (this.#deliveryMode === "duplicate" && name === "onMessageReceived") {
        this.#deliver(name, _clone(payload));
      }
    }
  }

  #deliver(name: string, payload: unknown): void {
    for (const listener of [...(this.#listeners.get(name) ?? [])]) {
      if (this.#state === "disposed" || this.#connection === "dropped") return;
      try {
        listener(payload);
      } catch (thrown) {
        this.#uncaught.push({ source: name, error: thrown });
      }
    }
  }

  #stamp(): string {
    const ms = Math.max(this.#now(), this.#lastStamp + 1);
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
    const ageSeconds = this.#now() / 1000 - claims.iat;
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

  #known(conversationId: string): _Conversation {
    const conv = this.#conversations.get(conversationId);
    if (!conv) throw new RangeError(`Unknown conversation: ${conversationId}`);
    return conv;
  }

  #checkAlive(what: string): void {
    if (this.#state === "disposed") throw new Error(`Cannot ${what}: the simulator is disposed`);
  }

  #currentAgent(conv: _Conversation): SimAgent {
    return conv.agent ?? this.#agents[0];
  }

  #end(conv: _Conversation): void {
    conv.ended = true;
    this.#cancel(conv.scriptTimer);
    conv.scriptTimer = undefined;
    conv.scriptQueue = [];
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
    return this.#deliveryMode === "reverse" ? sorted.reverse() : sorted;
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

  // -------------------------------------------------------------------------------------------
  // Scripted agent
  // -------------------------------------------------------------------------------------------

  #scriptOnCustomerMessage(conv: _Conversation, message: KustomerMessage, payload: unknown): void {
    const script = this.#script;
    if (!script) return;
    const said = message.body ?? (payload !== undefined ? String(payload) : "");
    const text = `${message.body ?? ""} ${payload !== undefined ? String(payload) : ""}`
      .toLowerCase();
    const steps: _Step[] = [];
    const first = !conv.scriptGreeted;
    if (first) {
      conv.scriptGreeted = true;
      steps.push(
        ...this.#sayLater(
          conv,
          script.joinDelayMs,
          (agent) => `Hi, I'm ${agent.displayName}. How can I help you today?`,
        ),
      );
    }
    const delay = first ? 0 : script.replyDelayMs;
    const names = (message.attachments ?? []).map((a) => a.name ?? "a file");
    if (first) {
      // The first customer message is the hand-off context (written by the desk, not typed by the
      // customer): the agent only greets, as a person would after reading it.
    } else if (text.includes("bye") || text.includes("end chat")) {
      steps.push(
        ...this.#sayLater(conv, delay, () => "Goodbye! Thanks for chatting with us.", () => {
          this.agentEnd(conv.conversationId);
        }),
      );
    } else if (text.includes("transfer")) {
      const next = () => (this.#currentAgent(conv).id === this.#agents[1].id
        ? this.#agents[0]
        : this.#agents[1]);
      let target: SimAgent | undefined;
      steps.push(
        ...this.#sayLater(conv, delay, () => {
          target = next();
          return `I'm transferring you to ${target.displayName}. One moment, please.`;
        }, () =>
          this.transfer(conv.conversationId, target ?? next())),
        ...this.#sayLater(
          conv,
          script.joinDelayMs,
          (agent) =>
            `Hi, I'm ${agent.displayName}. I've read your conversation and I'll take it from here.`,
        ),
      );
    } else if (text.includes("quick")) {
      steps.push(
        ...this.#sayLater(
          conv,
          delay,
          () => "How would you like to continue?",
          undefined,
          _QUICK_REPLIES,
        ),
      );
    } else if (names.length > 0) {
      steps.push(...this.#sayLater(conv, delay, () => `Thanks, I received ${names.join(", ")}.`));
    } else if (text.includes("file")) {
      steps.push(
        ...this.#sayLater(conv, delay, () => "Please attach the file with the paperclip button."),
      );
    } else {
      steps.push(...this.#sayLater(conv, delay, () => `You said: ${said}`));
    }
    conv.scriptQueue.push(...steps);
    if (!conv.scriptTimer) this.#runScript(conv);
  }

  /** Two steps: after `delayMs` the agent types; after `typingMs` they stop and say `text`. */
  #sayLater(
    conv: _Conversation,
    delayMs: number,
    text: (agent: SimAgent) => string,
    after?: () => void,
    quickReplies?: readonly KustomerAction[],
  ): _Step[] {
    return [
      { delayMs, run: () => this.agentTyping(conv.conversationId, true) },
      {
        delayMs: this.#script!.typingMs,
        run: () => {
          const agent = this.#currentAgent(conv);
          const body = text(agent).slice(0, MAX_AGENT_REPLY_LENGTH);
          this.agentTyping(conv.conversationId, false, agent);
          this.agentSend(conv.conversationId, body, {
            agent,
            ...(quickReplies ? { quickReplies: [...quickReplies] } : {}),
          });
          after?.();
        },
      },
    ];
  }

  #runScript(conv: _Conversation): void {
    const step = conv.scriptQueue.shift();
    if (!step) return;
    conv.scriptTimer = this.#schedule(() => {
      conv.scriptTimer = undefined;
      if (conv.ended) {
        conv.scriptQueue = [];
        return;
      }
      try {
        step.run();
      } catch (thrown) {
        this.#uncaught.push({ source: "script", error: thrown });
      }
      this.#runScript(conv);
    }, step.delayMs);
  }
}

// `SimulatedKustomerCore` conforms to `KustomerCore`; checked here rather than with `implements`
// so that `deno doc --lint` does not walk into `KustomerCore` (whose `KustomerInitResponse`
// index signature lacks a doc comment in kustomer_types.ts).
const _conformsToKustomerCore: (core: SimulatedKustomerCore) => KustomerCore = (core) => core;
void _conformsToKustomerCore;
