/**
 * The simulated Kustomer Core's SDK facade: {@linkcode SimulatedKustomerCore}, shaped as the
 * `KustomerCore` it stands in for. Every call takes one path (call log, the seeded network, fault
 * injection, the init check, then its effect on the {@linkcode _Server}); answers and events go
 * out through {@linkcode _Delivery}; the {@linkcode _ScriptedAgent} answers as an agent would.
 *
 * @module
 */

import type {
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
} from "../kustomer_types.ts";
import { _checkDelay, _clone, _redact, _sdkError } from "./checks.ts";
import { _Delivery } from "./delivery.ts";
import { type _FaultRule, _makeFaults } from "./faults.ts";
import { _Network } from "./network.ts";
import { type _AgentDesk, _ScriptedAgent } from "./script.ts";
import { _Server } from "./server.ts";
import {
  DEFAULT_AGENTS,
  type SimAgent,
  type SimAgentSendOptions,
  type SimAvailability,
  type SimCall,
  type SimConnection,
  type SimConversation,
  type SimCustomer,
  type SimDeliveryMode,
  type SimFaults,
  type SimInitResponse,
  type SimLogin,
  type SimMethod,
  type SimReadReceipt,
  type SimScriptOptions,
  type SimServerState,
  type SimState,
  type SimulatedKustomerCoreOptions,
  type SimUncaughtError,
} from "./types.ts";

interface _CallHooks {
  requiresInit?: boolean;
  /** Runs when a successful answer is delivered, before the callback. */
  onDelivered?: () => void;
  /** With a network: how long the answer takes (set once the request has reached the server). */
  answerMs?: number;
}

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
 * import { SimulatedKustomerCore } from "../simulator.ts";
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

  #state: SimState = "idle";
  #delivery: _Delivery;
  #server: _Server;
  #script: _ScriptedAgent | undefined;
  #takeFault: (method: SimMethod) => _FaultRule | undefined;
  #callLog: SimCall[] = [];

  /**
   * Creates a simulator. Nothing is scheduled until it is used.
   *
   * @param options Clock, scheduler, latency, scripted agent and behaviour switches.
   */
  constructor(options: SimulatedKustomerCoreOptions = {}) {
    const scheduler = options.scheduler ?? {
      setTimeout: (fn: () => void, ms: number): unknown => globalThis.setTimeout(fn, ms),
      clearTimeout: (id: unknown): void => globalThis.clearTimeout(id as number),
    };
    const latencyMs = _checkDelay(options.latencyMs ?? 0, "latencyMs");
    let script: Required<SimScriptOptions> | undefined;
    if (options.script) {
      const timing = options.script === true ? {} : options.script;
      script = {
        joinDelayMs: _checkDelay(timing.joinDelayMs ?? 1000, "script.joinDelayMs"),
        replyDelayMs: _checkDelay(timing.replyDelayMs ?? 500, "script.replyDelayMs"),
        typingMs: _checkDelay(timing.typingMs ?? 500, "script.typingMs"),
      };
    }
    const now = options.now ?? (() => Date.now());
    const network = options.network === undefined ? undefined : new _Network(options.network);
    const delivery = new _Delivery({
      scheduler,
      latencyMs,
      ...(network ? { network } : {}),
      deliveryMode: options.deliveryMode ?? "normal",
    });
    this.#delivery = delivery;
    this.#server = new _Server({
      agents: options.agents ?? DEFAULT_AGENTS,
      availability: options.availability ?? "online",
      availabilityShape: options.availabilityShape ?? "string",
      allowEnd: options.allowEndConversation ?? true,
      settings: {
        brandId: options.settings?.brandId ?? "brand-sim",
        teamName: options.settings?.teamName ?? "Simulated Support",
        greeting: options.settings?.greeting ?? "Hi! How can we help you today?",
      },
      objectUrls: options.objectUrls ?? true,
      rateLimit: options.rateLimitPerMinute ?? 120,
    }, {
      now,
      emit: (name, payload) => delivery.emit(name, payload),
      deliveryMode: () => delivery.mode,
      customerMessage: (conversation, message, payload) =>
        this.#script?.onCustomerMessage(conversation, message, payload),
      ended: (conversationId) => this.#script?.stop(conversationId),
    });
    if (script) this.#script = new _ScriptedAgent(script, delivery, this.#agentDesk());
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
    return this.#delivery.connection;
  }

  /** How events reach listeners; may be changed at any time. */
  get deliveryMode(): SimDeliveryMode {
    return this.#delivery.mode;
  }

  /** Sets how events reach listeners. */
  set deliveryMode(mode: SimDeliveryMode) {
    if (mode !== "normal" && mode !== "duplicate" && mode !== "reverse") {
      throw new TypeError(
        `Invalid deliveryMode: expected normal, duplicate or reverse, got ${mode}`,
      );
    }
    this.#delivery.mode = mode;
  }

  /** Every SDK call made, in order (listener management excluded; `jwtToken` redacted). */
  get callLog(): readonly SimCall[] {
    return this.#callLog;
  }

  /** Successful logins, in order: claims only, never the token. */
  get logins(): readonly SimLogin[] {
    return this.#server.logins;
  }

  /** `markRead` calls that took effect, in order. */
  get readReceipts(): readonly SimReadReceipt[] {
    return this.#server.readReceipts;
  }

  /** Exceptions thrown by listeners, callbacks and scripted steps, caught by the simulator. */
  get uncaughtErrors(): readonly SimUncaughtError[] {
    return this.#delivery.uncaught;
  }

  /** A snapshot of every conversation (of every customer), in creation order. */
  get conversations(): readonly SimConversation[] {
    return this.#server.conversations();
  }

  /** A snapshot of the current customer. */
  get customer(): SimCustomer {
    return this.#server.customer();
  }

  /** How many scheduler timers are pending (latency deliveries and scripted steps). */
  get pendingTimers(): number {
    return this.#delivery.pendingTimers;
  }

  /**
   * A conversation's messages (both directions), sorted by `createdAt`.
   *
   * @param conversationId The conversation.
   * @returns Copies of its messages.
   * @throws {RangeError} When the conversation is unknown.
   */
  messagesOf(conversationId: string): KustomerMessage[] {
    return this.#server.messagesOf(conversationId);
  }

  /**
   * Whether a conversation is still a draft (no message yet; agents cannot see it).
   *
   * @param conversationId The conversation.
   * @returns `true` while it has no message.
   * @throws {RangeError} When the conversation is unknown.
   */
  isDraft(conversationId: string): boolean {
    return this.#server.known(conversationId).messages.length === 0;
  }

  /**
   * A conversation's custom attributes, as set by `describeConversation`.
   *
   * @param conversationId The conversation.
   * @returns A copy of the attributes.
   * @throws {RangeError} When the conversation is unknown.
   */
  customAttributesOf(conversationId: string): Record<string, unknown> {
    return _clone(this.#server.known(conversationId).customAttributes);
  }

  /**
   * The customer's last `sendTypingActivity` value for a conversation.
   *
   * @param conversationId The conversation.
   * @returns `true`/`false`, or `undefined` when never sent.
   * @throws {RangeError} When the conversation is unknown.
   */
  typingOf(conversationId: string): boolean | undefined {
    return this.#server.known(conversationId).customerTyping;
  }

  /**
   * How many listeners are registered.
   *
   * @param name An event name, or none for all events.
   * @returns The number of registered listeners.
   */
  listenerCount(name?: KustomerEventName | string): number {
    return this.#delivery.listenerCount(name);
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
    this.#delivery.drop();
  }

  /** Restores the connection. Calls made while dropped stay unanswered. */
  restoreConnection(): void {
    this.#delivery.restore();
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
    this.#server.setAvailability(value);
  }

  /**
   * The server side as data: conversations, customers and counters (not listeners, faults,
   * timers or logs). With {@linkcode importState} a page keeps its simulated Kustomer across a
   * reload, as the real one is kept on Kustomer's servers.
   *
   * @returns A JSON-safe copy of the state.
   */
  exportState(): SimServerState {
    return this.#server.exportState();
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
    this.#server.importState(state);
    const script = this.#script;
    if (!script) return;
    script.stopAll();
    // The scripted agent answers what the customer said while its replies were lost with the page.
    for (const conv of this.#server.records()) {
      if (conv.ended) continue;
      const lastOut = conv.messages.findLastIndex((m) => m.direction === "out");
      if (lastOut < 0) conv.scriptGreeted = false;
      for (const m of conv.messages.slice(lastOut + 1)) {
        if (m.direction === "in") script.onCustomerMessage(conv, m, undefined);
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
    this.#delivery.dispose();
    this.#script?.stopAll();
    this.#server.revokeObjectUrls();
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
      const response = this.#server.init(options);
      if (!(response instanceof Error) && this.#state === "idle") this.#state = "initializing";
      return response;
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
    this.#call("login", options, callback, () => this.#server.login(options));
  }

  /**
   * Clears the session: the customer becomes a new anonymous one, whose conversation list is
   * empty. Conversations of the previous customer stay stored server-side.
   *
   * @param callback Receives `{}`.
   */
  logout(callback?: KustomerCallback<unknown>): void {
    this.#call("logout", undefined, callback, () => this.#server.logout());
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
    this.#call(
      "createConversation",
      options,
      callback,
      () => this.#server.createConversation(options),
    );
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
    this.#call("sendMessage", options, callback, () => this.#server.sendMessage(options));
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
    this.#call("getMessages", options, callback, () => this.#server.getMessages(options));
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
    this.#call(
      "getHistoricalMessages",
      options,
      callback,
      () => this.#server.getHistoricalMessages(options),
    );
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
    this.#call("getConversations", options, callback, () => this.#server.getConversations(options));
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
    this.#call(
      "describeConversation",
      options,
      callback,
      () => this.#server.describeConversation(options),
    );
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
    this.#call("describeCustomer", options, callback, () => this.#server.describeCustomer(options));
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
    this.#call("endConversation", options, callback, () => this.#server.endConversation(options));
  }

  /**
   * Marks agent messages read (all of them when `messageIds` is omitted). The callback is not
   * documented, but is called when given.
   *
   * @param options `{ conversationId, messageIds? }`.
   * @param callback Optional; receives `{ conversationId, messageIds }`.
   */
  markRead(options: { conversationId: string; messageIds?: string[] }, callback?: unknown): void {
    this.#call("markRead", options, callback, () => this.#server.markRead(options));
  }

  /**
   * Records that the customer types (see `typingOf`). No callback, errors are silent.
   *
   * @param options `{ conversationId, typing }`.
   */
  sendTypingActivity(options: { conversationId: string; typing: boolean }): void {
    this.#call(
      "sendTypingActivity",
      options,
      undefined,
      () => this.#server.sendTypingActivity(options),
    );
  }

  /**
   * Synchronous: whether chat is available, as a string or `{ availability }` depending on
   * the `availabilityShape` option.
   *
   * @returns `"online"`, `"offline"`, `"hidden"` or `"disabled"` (or that in an object).
   */
  isChatAvailable(): KustomerAvailability {
    this.#callLog.push({ method: "isChatAvailable", options: undefined });
    return this.#server.isChatAvailable();
  }

  /**
   * Synchronous: agent messages not marked read, over the current customer's conversations.
   *
   * @returns `{ total, conversations: { [conversationId]: count } }` (conversations with unread only).
   */
  getUnreadCount(): { total: number; conversations: Record<string, number> } {
    this.#callLog.push({ method: "getUnreadCount", options: undefined });
    return this.#server.getUnreadCount();
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
    this.#call(
      "submitSatisfactionForm",
      options,
      callback,
      () => this.#server.submitSatisfactionForm(options),
    );
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
    this.#delivery.addListener(name, listener);
  }

  /**
   * Removes one registration of a listener; needs the same function reference.
   *
   * @param name The event name.
   * @param listener The function passed to `addListener`.
   */
  removeListener(name: KustomerEventName | string, listener: KustomerListener): void {
    this.#delivery.removeListener(name, listener);
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
    return this.#server.agentSend(conversationId, text, options);
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
    this.#server.agentTyping(conversationId, typing, agent);
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
    return this.#server.agentEnd(conversationId);
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
    this.#server.transfer(conversationId, toAgent);
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
    return this.#server.sendSatisfaction(conversationId);
  }
  // -------------------------------------------------------------------------------------------
  // Private machinery
  // -------------------------------------------------------------------------------------------

  /** What the scripted agent may do: what an agent does at Kustomer's desk. */
  #agentDesk(): _AgentDesk {
    const server = this.#server;
    return {
      agents: server.agents,
      currentAgent: (id) => server.currentAgent(id),
      typing: (id, typing, agent) => server.agentTyping(id, typing, agent),
      send: (id, text, options) => void server.agentSend(id, text, options),
      end: (id) => void server.agentEnd(id),
      transfer: (id, toAgent) => server.transfer(id, toAgent),
    };
  }

  #checkAlive(what: string): void {
    if (this.#state === "disposed") throw new Error(`Cannot ${what}: the simulator is disposed`);
  }

  /** The single path of every asynchronous SDK call. */
  #call<T>(
    method: SimMethod,
    options: unknown,
    callback: unknown,
    run: () => T | KustomerSdkError,
    hooks: _CallHooks = {},
  ): void {
    this.#callLog.push({ method, options: _redact(options) });
    if (this.#state === "disposed" || this.#delivery.dropped) return;
    const delays = this.#delivery.callDelays();
    if (delays) {
      const { requestMs, answerMs } = delays;
      this.#delivery.schedule(
        () => this.#arrive(method, callback, run, { ...hooks, answerMs }),
        requestMs,
      );
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
    const delivery = this.#delivery;
    if (delivery.dropped) return;
    const fault = this.#takeFault(method);
    if (fault?.kind === "hang") {
      if (fault.applied && (hooks.requiresInit === false || this.#state === "ready")) run();
      return;
    }
    if (fault?.kind === "fail") {
      const wanted = fault.error ?? {};
      const error = _sdkError(
        wanted.status ?? 500,
        String(wanted.code ?? "simulated_fault"),
        wanted.message ?? `Simulated failure of ${method}`,
        wanted.source,
      );
      if (wanted.code !== undefined) error.code = wanted.code;
      if (wanted.title !== undefined) error.title = wanted.title;
      if (wanted.name !== undefined) error.name = wanted.name;
      delivery.answer(method, callback, undefined, error, undefined, hooks.answerMs);
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
      delivery.answer(method, callback, undefined, error, undefined, hooks.answerMs);
      return;
    }
    let result: T | KustomerSdkError;
    try {
      result = run();
    } catch (thrown) {
      result = _sdkError(500, "simulator_error", `Simulator error in ${method}: ${String(thrown)}`);
    }
    if (result instanceof Error) {
      delivery.answer(method, callback, undefined, result, undefined, hooks.answerMs);
    } else delivery.answer(method, callback, result, undefined, hooks.onDelivered, hooks.answerMs);
  }
}

// `SimulatedKustomerCore` conforms to `KustomerCore`; checked here rather than with `implements`
// so that `deno doc --lint` does not walk into `KustomerCore` (whose `KustomerInitResponse`
// index signature lacks a doc comment in kustomer_types.ts).
const _conformsToKustomerCore: (core: SimulatedKustomerCore) => KustomerCore = (core) => core;
void _conformsToKustomerCore;
