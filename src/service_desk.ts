/**
 * The Kustomer service desk: web chat's ServiceDesk on one side, the Kustomer Core SDK on the other,
 * and an event log in between that lets a chat survive a page reload.
 *
 * @module
 */

import type { AgentMessage, DeskState, EventInput, TranscriptEntry } from "./events.ts";
import type {
  AgentAvailability,
  EndChatInfo,
  FileUpload,
  GenericItem,
  MessageRequest,
  MessageResponse,
  ServiceDesk,
  ServiceDeskCallback,
  ServiceDeskFactoryParameters,
  ServiceDeskHostState,
  StartChatOptions,
} from "./host_types.ts";
import { findCore, initOnce, KustomerClient, KustomerError } from "./kustomer.ts";
import type {
  KustomerCore,
  KustomerInitOptions,
  KustomerMessage,
  KustomerMessagesResponse,
  KustomerSatisfactionEvent,
  KustomerTypingEvent,
} from "./kustomer_types.ts";
import type { LogStore } from "./log_store.ts";
import {
  ALLOWED_FILE_TYPES,
  byTime,
  connectItem,
  FILE_LIMITS,
  fileProblem,
  mb,
  normalizeMessage,
  parseAvailability,
  profile,
  toMessageResponse,
} from "./messages.ts";
import {
  type KustomerServiceDeskOptions,
  PERSIST_KEY,
  type ResolvedOptions,
  resolveOptions,
  resolveStore,
  type SatisfactionSurvey,
} from "./options.ts";
import { errorText, SessionLog, sweepLogs } from "./session_log.ts";

/** The persisted-state shape the desk keeps in the host. */
interface Persisted {
  escalationId?: string;
}

function readSessionStorage(): string | undefined {
  try {
    return globalThis.sessionStorage?.getItem(PERSIST_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

function writeSessionStorage(id: string | undefined): void {
  try {
    if (id) globalThis.sessionStorage?.setItem(PERSIST_KEY, id);
    else globalThis.sessionStorage?.removeItem(PERSIST_KEY);
  } catch {
    // Storage may be disabled; the host's persisted state still carries the id.
  }
}

/** The agent's messages of a `getMessages` answer. */
function agentMessages(messages: KustomerMessage[]): KustomerMessage[] {
  return messages.filter((m) => m?.direction === "out" && typeof m.messageId === "string");
}

function newId(): string {
  return globalThis.crypto?.randomUUID?.() ??
    `esc-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * The Kustomer service desk. Create it through {@linkcode kustomerServiceDeskFactory}; the host
 * calls its methods.
 */
export class KustomerServiceDesk implements ServiceDesk {
  #callback: ServiceDeskCallback;
  #o: ResolvedOptions;
  #store: LogStore;
  #log?: SessionLog;
  #persistedId?: string;
  #persistedLoad?: Promise<SessionLog | undefined>;
  #client?: Promise<KustomerClient>;
  #subscribed?: KustomerCore;
  #hostState: ServiceDeskHostState = {};
  #starting?: Promise<void>;
  #files = new Map<string, FileUpload[]>();
  #sending = new Map<string, Promise<void>>();
  #receiving: Promise<void> = Promise.resolve();
  #disconnected = false;
  #retryTimer?: unknown;
  #heartbeatTimer?: unknown;
  #generation = 0;

  /** Creates a desk for the host; cheap: nothing is loaded or opened until it is needed. */
  constructor(parameters: ServiceDeskFactoryParameters, options: KustomerServiceDeskOptions = {}) {
    if (!parameters || typeof parameters !== "object" || !parameters.callback) {
      throw new TypeError(
        "Service desk parameters must be an object with a callback (from the chat host)",
      );
    }
    this.#callback = parameters.callback;
    this.#o = resolveOptions(options);
    this.#store = resolveStore(this.#o.store, this.#o.logger);
    const persisted = parameters.persistedState as Persisted | undefined;
    const fromHost = typeof persisted?.escalationId === "string"
      ? persisted.escalationId
      : undefined;
    this.#persistedId = fromHost ??
      (typeof this.#callback.updatePersistedState === "function"
        ? undefined
        : readSessionStorage());
  }

  /** The integration's name. */
  getName(): string {
    return this.#o.name;
  }

  /** The state replayed from the current escalation's log (`idle` before any). */
  get state(): DeskState | undefined {
    return this.#log?.state;
  }

  /** The agent chat so far (for the host's transcript after a reload). */
  get transcript(): readonly TranscriptEntry[] {
    return this.#log?.state.transcript ?? [];
  }

  // --- persisted escalation id -------------------------------------------------------------

  #persist(id: string | undefined): void {
    this.#persistedId = id;
    writeSessionStorage(id);
    try {
      this.#callback.updatePersistedState?.({ escalationId: id }, true);
    } catch (error) {
      this.#warn(`could not update the host's persisted state (${errorText(error)})`);
    }
  }

  #loadPersisted(): Promise<SessionLog | undefined> {
    const id = this.#persistedId;
    if (!id) return Promise.resolve(undefined);
    if (this.#log?.id === id) return Promise.resolve(this.#log);
    this.#persistedLoad ??= SessionLog.open(this.#store, id, this.#logOptions()).catch((error) => {
      this.#warn(`could not read the chat log (${errorText(error)}); starting fresh`);
      return undefined;
    });
    return this.#persistedLoad;
  }

  #logOptions() {
    return { now: this.#o.now, warn: (m: string) => this.#warn(m) };
  }

  #warn(message: string): void {
    this.#o.logger.warn(`Kustomer service desk: ${message}`);
  }

  // --- Kustomer connection -----------------------------------------------------------------

  #connectCore(): Promise<KustomerClient> {
    if (!this.#client) {
      const { core, apiKey, scriptUrl, timeoutMs, scheduler } = this.#o;
      const pending = (async () => {
        const found = await findCore({ core, apiKey, scriptUrl, timeoutMs, scheduler });
        const client = new KustomerClient(found, timeoutMs, scheduler);
        const init: KustomerInitOptions = { ...this.#o.init };
        if (!init.lang && this.#hostState.locale) init.lang = this.#hostState.locale;
        await initOnce(client, init);
        return client;
      })();
      this.#client = pending;
      pending.catch(() => {
        if (this.#client === pending) this.#client = undefined;
      });
    }
    return this.#client;
  }

  /** Core, init, a fresh login, and listeners: what a chat needs before any conversation call. */
  async #connect(): Promise<KustomerClient> {
    const client = await this.#connectCore();
    if (this.#o.getJwt) {
      let token: unknown;
      try {
        token = await this.#o.getJwt();
      } catch (error) {
        throw new KustomerError("login", "rejected", `getJwt() failed: ${errorText(error)}`, {
          cause: error,
        });
      }
      if (token !== undefined && (typeof token !== "string" || token.split(".").length !== 3)) {
        throw new TypeError(
          "getJwt() must resolve to a JWT string (three dot-separated parts) or undefined",
        );
      }
      if (token) await this.#call(client, "login", { jwtToken: token });
    }
    this.#subscribe(client.core);
    return client;
  }

  async #call<T>(client: KustomerClient, method: string, options: unknown): Promise<T> {
    try {
      return await client.call<T>(method, options);
    } catch (error) {
      if (error instanceof KustomerError && error.reason === "timeout") this.#lostConnection(error);
      throw error;
    }
  }

  #subscribe(core: KustomerCore): void {
    if (this.#subscribed === core) return;
    this.#unsubscribe();
    core.addListener("onMessageReceived", this.#onMessage);
    core.addListener("onAgentTypingActivity", this.#onTyping);
    core.addListener("onConversationEnded", this.#onEnded);
    core.addListener("onSatisfactionReceived", this.#onSatisfaction);
    this.#subscribed = core;
  }

  #unsubscribe(): void {
    const core = this.#subscribed;
    if (!core) return;
    core.removeListener("onMessageReceived", this.#onMessage);
    core.removeListener("onAgentTypingActivity", this.#onTyping);
    core.removeListener("onConversationEnded", this.#onEnded);
    core.removeListener("onSatisfactionReceived", this.#onSatisfaction);
    this.#subscribed = undefined;
  }

  #mine(conversationId: unknown): boolean {
    const state = this.#log?.state;
    return !!state?.conversationId && state.conversationId === conversationId;
  }

  #live(): boolean {
    const status = this.#log?.state.status;
    return status === "waiting" || status === "connected";
  }

  #onMessage = (message: KustomerMessage): void => {
    if (!message || !this.#mine(message.conversationId) || !this.#live()) return;
    if (message.direction !== "out" || typeof message.messageId !== "string") return;
    void this.#receive([message]);
  };

  #onTyping = (event: KustomerTypingEvent): void => {
    if (!event || !this.#mine(event.conversationId) || !this.#live()) return;
    this.#host("agentTyping", () => this.#callback.agentTyping(event.typing === true));
  };

  #onEnded = (event: { conversationId: string; ended?: boolean }): void => {
    if (!event || !this.#mine(event.conversationId) || event.ended === false) return;
    void this.#agentEnded();
  };

  #onSatisfaction = (event: KustomerSatisfactionEvent): void => {
    if (!event || !this.#mine(event.conversationId) || typeof event.satisfactionId !== "string") {
      return;
    }
    const log = this.#log!;
    if (log.state.satisfactionIds.includes(event.satisfactionId)) return;
    void log.append({
      type: "satisfaction_received",
      data: { satisfactionId: event.satisfactionId },
    });
    const conversationId = event.conversationId;
    const survey: SatisfactionSurvey = {
      conversationId,
      satisfactionId: event.satisfactionId,
      form: event.form,
      submit: async (rating, answers) => {
        const client = await this.#connectCore();
        await this.#call(client, "submitSatisfactionForm", {
          satisfactionId: event.satisfactionId,
          rating,
          answers,
          submittedAt: new Date(this.#o.now()).toISOString(),
        });
      },
    };
    if (this.#o.onSatisfaction) {
      this.#host("onSatisfaction", () => this.#o.onSatisfaction!(survey));
    } else {
      this.#warn(
        `a satisfaction survey (${event.satisfactionId}) arrived; pass onSatisfaction to show it`,
      );
    }
  };

  /** Calls the host, so that a host error never breaks the desk. */
  #host(what: string, fn: () => unknown): void {
    try {
      const result = fn();
      if (result instanceof Promise) {
        result.catch((error) =>
          this.#warn(`the chat host failed in ${what} (${errorText(error)})`)
        );
      }
    } catch (error) {
      this.#warn(`the chat host failed in ${what} (${errorText(error)})`);
    }
  }

  /** Records and shows agent messages, in time order, each once. */
  #receive(messages: KustomerMessage[]): Promise<void> {
    const run = this.#receiving.then(async () => {
      const log = this.#log;
      if (!log || !this.#live()) return;
      const fresh = new Map<string, AgentMessage>();
      for (const message of [...messages].sort(byTime)) {
        if (!log.state.seen[message.messageId] && !fresh.has(message.messageId)) {
          fresh.set(message.messageId, normalizeMessage(message));
        }
      }
      if (fresh.size === 0) return;
      // Recorded together (one transaction), then shown: a reload never shows one twice.
      const before = log.state.agent;
      await log.append(
        ...[...fresh.values()].map((message): EventInput => ({
          type: "agent_message_received",
          data: { message },
        })),
      );
      if (this.#log !== log) return;
      let agent = before;
      for (const message of fresh.values()) {
        this.#showAgentMessage(message, agent);
        agent = message.agent;
      }
    });
    this.#receiving = run.catch((error) =>
      this.#warn(`could not show an agent message (${errorText(error)})`)
    );
    return this.#receiving;
  }

  #showAgentMessage(message: AgentMessage, before: AgentMessage["agent"] | undefined): void {
    const agent = profile(message.agent);
    if (!before) {
      this.#host("agentJoined", () => this.#callback.agentJoined(agent));
    } else if (before.id !== message.agent.id) {
      this.#host(
        "beginTransferToAnotherAgent",
        () => this.#callback.beginTransferToAnotherAgent(agent),
      );
      this.#host("agentJoined", () => this.#callback.agentJoined(agent));
    }
    this.#host(
      "sendMessageToUser",
      () => this.#callback.sendMessageToUser(toMessageResponse(message), agent.id),
    );
  }

  async #agentEnded(): Promise<void> {
    const log = this.#log;
    if (!log || log.state.status === "ended" || log.state.status === "idle") return;
    // An agent's last words often arrive just before the end: show them first.
    await this.#receiving;
    await this.#catchUp(log);
    if ((log.state.status as string) === "ended") return; // a concurrent end won
    await log.append({ type: "chat_ended", data: { by: "agent" } });
    this.#host("agentEndedChat", () => this.#callback.agentEndedChat());
    await this.#finish(log);
  }

  /** Shows agent messages Kustomer has and the log lacks (best effort: never throws). */
  async #catchUp(log: SessionLog): Promise<void> {
    const conversationId = log.state.conversationId;
    if (!conversationId) return;
    try {
      const client = await this.#connectCore();
      const response = await client.call<KustomerMessagesResponse>("getMessages", {
        conversationId,
      });
      const messages = Array.isArray(response?.messages) ? response.messages : [];
      await this.#receive(agentMessages(messages));
    } catch {
      // The end goes on without them: the agent ended the chat anyway.
    }
  }

  // --- lost and recovered connection -------------------------------------------------------

  #lostConnection(error: KustomerError): void {
    if (!this.#log || !this.#live()) return;
    if (!this.#disconnected) {
      this.#disconnected = true;
      this.#warn(`lost Kustomer (${error.message}); retrying every ${this.#o.retryIntervalMs} ms`);
      this.#host(
        "setErrorStatus",
        () => this.#callback.setErrorStatus({ type: 2, isDisconnected: true }),
      );
    }
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined) return;
    const generation = this.#generation;
    this.#retryTimer = this.#o.scheduler.setTimeout(() => {
      this.#retryTimer = undefined;
      if (generation !== this.#generation || !this.#live()) return;
      void this.#sync().catch(() => this.#scheduleRetry());
    }, this.#o.retryIntervalMs);
  }

  #scheduleHeartbeat(): void {
    if (!this.#o.heartbeatMs || this.#heartbeatTimer !== undefined) return;
    const generation = this.#generation;
    this.#heartbeatTimer = this.#o.scheduler.setTimeout(() => {
      this.#heartbeatTimer = undefined;
      if (generation !== this.#generation || !this.#live()) return;
      void this.#sync().catch(() => {/* #call reported it */}).finally(() => {
        if (generation === this.#generation) this.#scheduleHeartbeat();
      });
    }, this.#o.heartbeatMs);
  }

  #stopTimers(): void {
    this.#generation++;
    if (this.#retryTimer !== undefined) this.#o.scheduler.clearTimeout(this.#retryTimer);
    if (this.#heartbeatTimer !== undefined) this.#o.scheduler.clearTimeout(this.#heartbeatTimer);
    this.#retryTimer = undefined;
    this.#heartbeatTimer = undefined;
  }

  /**
   * Catches up with Kustomer: messages missed while away, user messages not yet confirmed, a
   * conversation ended meanwhile. Clears DISCONNECTED when it succeeds.
   */
  async #sync(): Promise<void> {
    const log = this.#log;
    const conversationId = log?.state.conversationId;
    if (!log || !conversationId || !this.#live()) return;
    const client = await this.#connectCore();
    const response = await this.#call<KustomerMessagesResponse>(client, "getMessages", {
      conversationId,
    });
    if (this.#disconnected) {
      this.#disconnected = false;
      this.#host(
        "setErrorStatus",
        () => this.#callback.setErrorStatus({ type: 2, isDisconnected: false }),
      );
    }
    const messages = Array.isArray(response?.messages) ? response.messages : [];
    await this.#matchSentMessages(log, messages);
    await this.#receive(agentMessages(messages));
    if (await this.#endedRemotely(client, conversationId)) {
      await this.#agentEnded();
      return;
    }
    await this.#sendPending();
  }

  /** User messages that reached Kustomer before a reload but were never confirmed: match by text. */
  async #matchSentMessages(log: SessionLog, messages: KustomerMessage[]): Promise<void> {
    const unmatched = messages
      .filter((m) => m?.direction === "in" && !log.state.seen[m.messageId])
      .sort(byTime);
    const events: EventInput[] = [];
    for (const pending of log.state.pending) {
      if (this.#sending.has(pending.id)) continue;
      const i = unmatched.findIndex((m) => (m.body ?? "") === pending.text);
      if (i < 0) continue;
      events.push({
        type: "user_message_sent",
        data: { id: pending.id, messageId: unmatched[i].messageId },
      });
      unmatched.splice(i, 1);
    }
    if (events.length) await log.append(...events);
  }

  async #endedRemotely(client: KustomerClient, conversationId: string): Promise<boolean> {
    if (typeof client.core.getConversations !== "function") return false;
    try {
      const { conversations } = await this.#call<
        { conversations: { conversationId: string; ended?: boolean }[] }
      >(
        client,
        "getConversations",
        { page: 1, pageSize: 100 },
      );
      return conversations?.find((c) => c.conversationId === conversationId)?.ended === true;
    } catch {
      return false;
    }
  }

  // --- ServiceDesk ---------------------------------------------------------------------------

  /**
   * Starts a chat: creates the Kustomer conversation, sends the agent the context (and the
   * session-history key), and resolves once the chat is requested. A chat of this tab left open by a
   * reload is resumed (or ended, per `orphanedChat`) instead of being orphaned.
   */
  async startChat(connectMessage: MessageResponse, options: StartChatOptions = {}): Promise<void> {
    if (!connectMessage || typeof connectMessage !== "object") {
      throw new TypeError("startChat() needs the connect message (a MessageResponse object)");
    }
    if (this.#starting) throw new Error("Cannot start chat: a chat is already starting");
    if (this.#log && this.#live()) throw new Error("Cannot start chat: a chat is already active");
    const run = this.#start(connectMessage, options ?? {});
    this.#starting = run;
    try {
      await run;
    } finally {
      this.#starting = undefined;
    }
  }

  async #start(connectMessage: MessageResponse, options: StartChatOptions): Promise<void> {
    const previous = await this.#loadPersisted();
    if (previous && previous !== this.#log && previous.state.status !== "ended") {
      if (this.#o.orphanedChat !== "end" && previous.state.status !== "idle") {
        try {
          if (await this.#resume(previous)) return;
        } catch (error) {
          this.#warn(`could not resume the chat from before the reload (${errorText(error)})`);
          await this.#endOrphan(previous);
        }
      } else {
        await this.#endOrphan(previous);
      }
    }
    this.#stopTimers();
    this.#disconnected = false;
    const item = connectItem(connectMessage);
    const historyKey = options.agentAppInfo?.sessionHistoryKey ??
      item?.transfer_info?.session_history_key;
    const context = await this.#context(item, historyKey);
    const log = SessionLog.create(this.#store, newId(), this.#logOptions());
    this.#log = log;
    this.#persist(log.id);
    await log.append({
      type: "escalation_started",
      data: {
        title: this.#o.title,
        context,
        attribute: this.#o.sessionHistoryAttribute,
        ...(typeof historyKey === "string" && historyKey ? { historyKey } : {}),
      },
    });
    void this.#sweep(log.id);
    try {
      await this.#open(log);
    } catch (error) {
      const message = errorText(error);
      await log.append({ type: "error_recorded", data: { where: "startChat", message } });
      if (log.state.status !== "ended") {
        await log.append({ type: "chat_ended", data: { by: "system", reason: message } });
      }
      await this.#abandonConversation(log);
      await this.#finish(log);
      this.#host("setErrorStatus", () =>
        this.#callback.setErrorStatus({
          type: 1,
          messageToUser: "We could not connect you to an agent. Please try again.",
          logInfo: message,
        }));
      throw error instanceof Error ? error : new Error(message);
    }
  }

  async #context(item: GenericItem | undefined, historyKey: unknown): Promise<string> {
    const lines = [this.#o.transferMessage];
    if (item?.message_to_human_agent) {
      lines.push(`Customer's request: ${item.message_to_human_agent}`);
    }
    const summary = item?.transfer_info?.summary_message_to_agent;
    if (summary) lines.push(`Summary: ${summary}`);
    if (historyKey) {
      lines.push(
        "The conversation with the assistant is in the Watson Assistant Chat History card.",
      );
    } else if (this.#o.conversationSummary) {
      try {
        const transcript = await this.#o.conversationSummary();
        if (transcript) lines.push(`Conversation with the assistant:\n${transcript}`);
      } catch (error) {
        this.#warn(`conversationSummary() failed (${errorText(error)})`);
      }
    }
    return lines.join("\n");
  }

  /** Creates the conversation if needed, opens it with the context message, attaches the key. */
  async #open(log: SessionLog): Promise<void> {
    const client = await this.#connect();
    if (!log.state.conversationId) {
      const created = await this.#call<{ conversationId: string }>(client, "createConversation", {
        title: log.state.title ?? this.#o.title,
        ...(this.#o.init?.brandId ? { brand: this.#o.init.brandId } : {}),
      });
      if (!created || typeof created.conversationId !== "string") {
        throw new KustomerError(
          "createConversation",
          "rejected",
          "Kustomer created no conversation id",
        );
      }
      await log.append({
        type: "conversation_created",
        data: { conversationId: created.conversationId },
      });
    }
    if (log.state.status === "ended") {
      await this.#abandonConversation(log);
      return;
    }
    const conversationId = log.state.conversationId!;
    if (!log.state.opened) {
      const sent = await this.#call<{ messageId: string }>(client, "sendMessage", {
        conversationId,
        body: log.state.context ?? this.#o.transferMessage,
      });
      await log.append({
        type: "conversation_opened",
        data: { messageId: String(sent?.messageId) },
      });
    }
    await this.#attachKey(client, log);
    this.#announceCapabilities();
    if (log.state.status === "waiting") {
      const available = parseAvailability(this.#availability(client));
      const message = available === false
        ? "No agents are online right now. Your message is in the queue and an agent will answer when one is available."
        : this.#o.waitingMessage;
      this.updateQueue({ message });
    }
    this.#scheduleHeartbeat();
    void this.#sendPending();
  }

  #announceCapabilities(): void {
    if (this.#o.allowFileUploads === false) return;
    this.#host("updateCapabilities", () =>
      this.#callback.updateCapabilities?.({
        allowFileUploads: true,
        allowMultipleFileUploads: true,
        allowedFileUploadTypes: ALLOWED_FILE_TYPES,
      }));
  }

  #availability(client: KustomerClient): unknown {
    try {
      return client.core.isChatAvailable?.();
    } catch {
      return undefined;
    }
  }

  async #attachKey(client: KustomerClient, log: SessionLog): Promise<void> {
    const { historyKey, historyKeyAttached, conversationId, attribute } = log.state;
    if (!historyKey || historyKeyAttached || !conversationId) return;
    try {
      await this.#call(client, "describeConversation", {
        conversationId,
        customAttributes: { [attribute ?? this.#o.sessionHistoryAttribute]: historyKey },
      });
      await log.append({ type: "history_key_attached", data: {} });
      // Keep a snapshot and drop the events, so the key leaves IndexedDB as soon as Kustomer has it.
      await log.compact().catch((error) =>
        this.#warn(`could not compact the chat log (${errorText(error)})`)
      );
    } catch (error) {
      // The chat goes on; the agent lacks the bot history until a reconnect attaches it.
      this.#warn(
        `could not attach the session-history key (${errorText(error)}); will retry on reconnect`,
      );
      await log.append({ type: "history_key_failed", data: { reason: errorText(error) } });
    }
  }

  /** Ends a Kustomer conversation this desk will not use (best effort). */
  async #abandonConversation(log: SessionLog): Promise<void> {
    const conversationId = log.state.conversationId;
    if (!conversationId) return;
    try {
      const client = await this.#connectCore();
      await client.call("endConversation", { conversationId });
    } catch (error) {
      this.#warn(`could not end the abandoned Kustomer conversation (${errorText(error)})`);
    }
  }

  async #endOrphan(log: SessionLog): Promise<void> {
    this.#log = log;
    await log.append({
      type: "chat_ended",
      data: { by: "system", reason: "left open by a page reload" },
    });
    await this.#abandonConversation(log);
    await this.#finish(log);
  }

  /** Resumes a chat from its log: true when it goes on. */
  async #resume(log: SessionLog): Promise<boolean> {
    this.#stopTimers();
    this.#log = log;
    this.#disconnected = false;
    const state = log.state;
    if (state.status === "ended" || state.status === "idle") return false;
    if (state.status === "starting") {
      // The reload came before the conversation was ready: finish opening it.
      await this.#open(log);
      return log.state.status !== "ended";
    }
    const client = await this.#connect();
    if (await this.#endedRemotely(client, state.conversationId!)) {
      await log.append({
        type: "chat_ended",
        data: { by: "agent", reason: "ended while the page was away" },
      });
      await this.#finish(log);
      return false;
    }
    if (!state.opened) {
      await this.#open(log);
    } else {
      await this.#attachKey(client, log);
      this.#announceCapabilities();
    }
    await this.#sync();
    this.#scheduleHeartbeat();
    return this.#live();
  }

  /** Sends queued user messages, in order, each once. */
  async #sendPending(): Promise<void> {
    const log = this.#log;
    if (!log?.state.opened) return;
    for (const pending of log.state.pending) {
      await this.#deliver(log, pending.id).catch(() => {/* reported in #deliver */});
    }
  }

  #deliver(log: SessionLog, id: string): Promise<void> {
    const inFlight = this.#sending.get(id);
    if (inFlight) return inFlight;
    const run = (async () => {
      const pending = log.state.pending.find((p) => p.id === id);
      if (!pending) return;
      const files = this.#files.get(id) ?? [];
      const conversationId = log.state.conversationId;
      try {
        if (!conversationId || !log.state.opened) throw new Error("the conversation is not open");
        if (pending.files.length > 0 && files.length === 0 && !pending.text) {
          throw new Error(`the files (${pending.files.join(", ")}) were lost in a page reload`);
        }
        const client = await this.#connectCore();
        const sent = await this.#call<{ messageId: string }>(client, "sendMessage", {
          conversationId,
          ...(pending.text ? { body: pending.text } : {}),
          ...(files.length ? { attachments: files.map((f) => ({ file: f.file })) } : {}),
        });
        await log.append({
          type: "user_message_sent",
          data: { id, messageId: String(sent?.messageId) },
        });
        for (const f of files) {
          this.#host("setFileUploadStatus", () => this.#callback.setFileUploadStatus?.(f.id));
        }
      } catch (error) {
        const reason = errorText(error);
        await log.append({ type: "user_message_failed", data: { id, reason } });
        this.#host(
          "setErrorStatus",
          () => this.#callback.setErrorStatus({ type: 3, messageID: id, logInfo: reason }),
        );
        for (const f of files) {
          this.#host(
            "setFileUploadStatus",
            () => this.#callback.setFileUploadStatus?.(f.id, true, reason),
          );
        }
        throw error;
      } finally {
        this.#files.delete(id);
        this.#sending.delete(id);
      }
    })();
    this.#sending.set(id, run);
    return run;
  }

  /** Sends a user message (and files) to the agent; rejects when it could not be delivered. */
  async sendMessageToAgent(
    message: MessageRequest,
    messageID: string,
    additionalData: { filesToUpload?: FileUpload[] } = {},
  ): Promise<void> {
    if (!message || typeof message !== "object") {
      throw new TypeError("sendMessageToAgent() needs a MessageRequest object");
    }
    const text = message.input?.text ?? "";
    if (typeof text !== "string") throw new TypeError("message.input.text must be a string");
    const id = typeof message.id === "string" && message.id ? message.id : messageID;
    if (typeof id !== "string" || !id) {
      throw new TypeError("sendMessageToAgent() needs a message id");
    }
    const uploads = additionalData?.filesToUpload ?? [];
    if (!Array.isArray(uploads)) throw new TypeError("filesToUpload must be an array");
    const log = this.#log ?? (await this.#loadPersisted());
    if (!log || log.state.status === "idle") {
      throw new Error("Cannot send the message: no chat is active");
    }
    if (log.state.status === "ended") {
      throw new Error("Cannot send the message: the chat has ended");
    }
    if (!text && uploads.length === 0) return;
    if (uploads.length && this.#o.allowFileUploads === false) {
      throw new TypeError(
        "Cannot send files: file uploads are turned off (allowFileUploads: false)",
      );
    }
    const problems = uploads.map((u) => fileProblem(u.file)).filter((p): p is string => !!p);
    const total = uploads.reduce((sum, u) => sum + u.file.size, 0);
    if (total > FILE_LIMITS.maxMessageBytes) {
      problems.push(`the files add up to ${mb(total)}; Kustomer accepts up to 9.5 MB per message`);
    }
    if (problems.length) {
      for (const u of uploads) {
        this.#host(
          "setFileUploadStatus",
          () => this.#callback.setFileUploadStatus?.(u.id, true, problems.join("; ")),
        );
      }
      this.#host("setErrorStatus", () => this.#callback.setErrorStatus({ type: 3, messageID: id }));
      throw new RangeError(`Cannot send the files: ${problems.join("; ")}`);
    }
    if (uploads.length) this.#files.set(id, uploads);
    await log.append({
      type: "user_message_queued",
      data: {
        id,
        text,
        files: uploads.map((u) => ({ name: u.file.name, size: u.file.size, type: u.file.type })),
      },
    });
    if (!log.state.opened) {
      // The chat is still starting: the message goes as soon as the conversation is open.
      await this.#starting?.catch(() => {});
      if (!log.state.opened) {
        if (log.state.pending.some((p) => p.id === id)) {
          await log.append({
            type: "user_message_failed",
            data: { id, reason: "the chat did not start" },
          });
          this.#host(
            "setErrorStatus",
            () => this.#callback.setErrorStatus({ type: 3, messageID: id }),
          );
        }
        throw new Error("Cannot send the message: the chat did not start");
      }
    }
    await this.#deliver(log, id);
  }

  /** Ends the chat: ends the Kustomer conversation (unless the agent did) and clears the saved state. */
  async endChat(info: EndChatInfo = {}): Promise<void> {
    const log = this.#log ?? (await this.#loadPersisted());
    if (!log || log.state.status === "idle") {
      this.#persist(undefined);
      return;
    }
    if (log.state.status === "ended") {
      await this.#finish(log);
      return;
    }
    const byAgent = info?.endedByHumanAgent === true || info?.endedByAgent === true;
    await log.append({ type: "chat_ended", data: { by: byAgent ? "agent" : "user" } });
    const conversationId = log.state.conversationId;
    try {
      if (!byAgent && conversationId) {
        const client = await this.#connectCore();
        await this.#call(client, "endConversation", { conversationId });
      }
    } catch (error) {
      await log.append({
        type: "error_recorded",
        data: { where: "endChat", message: errorText(error) },
      });
      throw error;
    } finally {
      await this.#finish(log);
    }
  }

  /** Stops timers, forgets the escalation in the host, and deletes or compacts the log. */
  async #finish(log: SessionLog): Promise<void> {
    this.#stopTimers();
    if (this.#disconnected) {
      this.#disconnected = false;
      this.#host(
        "setErrorStatus",
        () => this.#callback.setErrorStatus({ type: 2, isDisconnected: false }),
      );
    }
    if (this.#persistedId === log.id) this.#persist(undefined);
    this.#persistedLoad = undefined;
    try {
      if (this.#o.retentionMs > 0) await log.compact();
      else await log.remove();
    } catch (error) {
      this.#warn(`could not clean up the chat log (${errorText(error)})`);
    }
  }

  async #sweep(keep: string): Promise<void> {
    try {
      await sweepLogs(this.#store, {
        now: this.#o.now(),
        retentionMs: this.#o.retentionMs,
        abandonedMs: this.#o.abandonedMs,
        keep,
      });
    } catch (error) {
      this.#warn(`could not sweep old chat logs (${errorText(error)})`);
    }
  }

  /** Tells the agent whether the user is typing. */
  userTyping(isTyping: boolean): Promise<void> {
    if (typeof isTyping !== "boolean") {
      return Promise.reject(new TypeError("userTyping() needs a boolean"));
    }
    const conversationId = this.#log?.state.conversationId;
    if (!conversationId || !this.#live()) return Promise.resolve();
    return this.#connectCore().then((client) => {
      const error = client.fire("sendTypingActivity", { conversationId, typing: isTyping });
      if (error) this.#warn(error.message);
    }, () => {});
  }

  /** Tells Kustomer the user has read the agent's messages. */
  async userReadMessages(): Promise<void> {
    const log = this.#log;
    const conversationId = log?.state.conversationId;
    if (!log || !conversationId) return;
    const transcript = log.state.transcript;
    const lastRead = transcript.findIndex((t) => t.id === log.state.lastReadId);
    const unread = transcript.slice(lastRead + 1).filter((t) => t.from === "agent").map((t) =>
      t.id
    );
    if (unread.length === 0) return;
    const client = await this.#connectCore().catch(() => undefined);
    if (!client) return;
    const error = client.fire("markRead", { conversationId, messageIds: unread });
    if (error) {
      this.#warn(error.message);
      return;
    }
    await log.append({ type: "messages_read", data: { messageId: unread[unread.length - 1] } });
  }

  /** Whether agents are online: true, false, or null when Kustomer does not say. */
  async areAnyAgentsOnline(_connectMessage?: MessageResponse): Promise<boolean | null> {
    try {
      return parseAvailability(this.#availability(await this.#connectCore()));
    } catch (error) {
      this.#warn(`could not check agent availability (${errorText(error)})`);
      return null;
    }
  }

  /** Checks picked files against Kustomer's limits and tells the host which cannot go. */
  filesSelectedForUpload(uploads: FileUpload[]): void {
    if (!Array.isArray(uploads)) {
      throw new TypeError("filesSelectedForUpload() needs an array of uploads");
    }
    let total = 0;
    for (const upload of uploads) {
      const problem = fileProblem(upload.file) ??
        (total + upload.file.size > FILE_LIMITS.maxMessageBytes
          ? `${upload.file.name}: the files add up to more than 9.5 MB, Kustomer's limit per message`
          : undefined);
      if (problem) {
        this.#host(
          "setFileUploadStatus",
          () => this.#callback.setFileUploadStatus?.(upload.id, true, problem),
        );
      } else {
        total += upload.file.size;
      }
    }
  }

  /**
   * Shows the user queue information while no agent has joined. Kustomer's Core SDK reports no queue
   * position, so the desk sends only a waiting message itself; call this with figures from your own
   * routing. Both hosts' spellings are sent (Carbon reads camelCase, older web chat snake_case).
   *
   * @throws {RangeError} when a figure is negative or not a finite number.
   */
  updateQueue(
    info: { positionInQueue?: number; estimatedWaitTime?: number; message?: string },
  ): void {
    if (!info || typeof info !== "object") throw new TypeError("updateQueue() needs an object");
    for (const key of ["positionInQueue", "estimatedWaitTime"] as const) {
      const v = info[key];
      if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v < 0)) {
        throw new RangeError(`${key} must be a finite number of at least 0, got ${v}`);
      }
    }
    const availability: AgentAvailability = {};
    if (info.positionInQueue !== undefined) {
      availability.positionInQueue = availability.position_in_queue = info.positionInQueue;
    }
    if (info.estimatedWaitTime !== undefined) {
      availability.estimatedWaitTime = availability.estimated_wait_time = info.estimatedWaitTime;
    }
    if (info.message !== undefined) availability.message = String(info.message);
    this.#host(
      "updateAgentAvailability",
      () => this.#callback.updateAgentAvailability(availability),
    );
  }

  /** Kustomer has no screen sharing: nothing to stop. */
  screenShareStop(): Promise<void> {
    return Promise.resolve();
  }

  /** Old web chat's session details; the locale becomes Kustomer's language. */
  updateState(state: ServiceDeskHostState): void {
    if (!state || typeof state !== "object") throw new TypeError("updateState() needs an object");
    this.#hostState = { ...state };
  }

  /**
   * After a page reload: rebuilds the chat from its log, logs in again, catches up on missed
   * messages, sends unconfirmed ones, and resolves true; false when there is no chat to resume.
   */
  async reconnect(): Promise<boolean> {
    const log = await this.#loadPersisted();
    if (!log || log.state.status === "idle" || log.state.status === "ended") {
      if (log) await this.#finish(log);
      else this.#persist(undefined);
      return false;
    }
    try {
      return await this.#resume(log);
    } catch (error) {
      if (error instanceof TypeError) throw error;
      this.#warn(`could not reach Kustomer to resume the chat (${errorText(error)}); retrying`);
      this.#disconnected = true;
      this.#host(
        "setErrorStatus",
        () => this.#callback.setErrorStatus({ type: 2, isDisconnected: true }),
      );
      this.#scheduleRetry();
      return true;
    }
  }
}
