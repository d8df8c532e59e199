/**
 * The desk's engine: everything a chat needs once there is one (the session log, Kustomer calls and
 * events, reload recovery). The desk ({@linkcode KustomerServiceDesk}) loads it on first use, so a page
 * that never escalates never downloads it.
 *
 * @module
 */

import {
  type AgentMessage,
  type DeskState,
  type EventInput,
  isSeen,
  type TranscriptEntry,
} from "./events.ts";
import type {
  EndChatInfo,
  FileUpload,
  GenericItem,
  MessageRequest,
  MessageResponse,
  StartChatOptions,
} from "./host_types.ts";
import { type SafeHost, writePointer } from "./host.ts";
import { errorText, KustomerError } from "./common.ts";
import { byTime, findCore, initOnce, KustomerClient, normalizeMessage } from "./kustomer.ts";
import type {
  KustomerCore,
  KustomerListener,
  KustomerMessage,
  KustomerMessagesResponse,
  KustomerSatisfactionEvent,
  KustomerTypingEvent,
} from "./kustomer_types.ts";
import type { LogStore } from "./log_store.ts";
import {
  ALLOWED_FILE_TYPES,
  fileProblems,
  parseAvailability,
  profile,
  toMessageResponse,
} from "./messages.ts";
import { type ResolvedOptions, savedId } from "./options.ts";
import { SessionLog, sweepLogs } from "./session_log.ts";

export { SessionLog };
export type { SafeHost };

/** The desk's shared parts, made by {@linkcode KustomerServiceDesk} and read by the engine. */
export interface DeskContext {
  /** The host's callbacks, each safe to call: a throw or a rejection becomes a warning. */
  readonly h: SafeHost;
  readonly o: ResolvedOptions;
  readonly store: LogStore;
  /** This tab's open escalation (host persisted state or sessionStorage). */
  persistedId?: string;
  /** Its Kustomer conversation, from the host's persisted state (to rebuild a lost log). */
  persistedConversationId?: string;
  /** The host's locale (old web chat's updateState). */
  locale?: string;
  readonly warn: (message: string) => void;
  /** Runs a host-supplied function so that its errors never break the desk. */
  readonly guard: (what: string, fn: () => unknown) => void;
  readonly updateQueue: (info: { message?: string }) => void;
}

/** The `connect_to_agent` item of a message. */
function connectItem(message: MessageResponse): GenericItem | undefined {
  return message?.output?.generic?.find((item) => item?.response_type === "connect_to_agent");
}

const isAgentMessage = (m: KustomerMessage): boolean =>
  m?.direction === "out" && typeof m.messageId === "string" && m.messageId !== "";

/** Ended or never started. */
const over = (state: DeskState): boolean => state.status === "ended" || state.status === "idle";

function newId(): string {
  return globalThis.crypto?.randomUUID?.() ??
    `esc-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** The desk's engine; {@linkcode KustomerServiceDesk} forwards to it. */
export class DeskEngine {
  #c: DeskContext;
  #h: SafeHost;
  #o: ResolvedOptions;
  #store: LogStore;
  #warn: (message: string) => void;
  #guard: (what: string, fn: () => unknown) => void;
  #log?: SessionLog;
  #persistedLoad?: Promise<SessionLog | undefined>;
  #client?: Promise<KustomerClient>;
  #subscribed?: KustomerCore;
  #starting?: Promise<void>;
  #files = new Map<string, FileUpload[]>();
  #sending = new Map<string, Promise<void>>();
  #receiving: Promise<void> = Promise.resolve();
  #disconnected = false;
  #timers: Record<string, unknown> = {};
  #generation = 0;

  constructor(context: DeskContext) {
    this.#c = context;
    ({ h: this.#h, o: this.#o, store: this.#store, warn: this.#warn, guard: this.#guard } =
      context);
  }

  /**
   * A chat from before the reload that nobody took up (no reconnect, no new request): end it
   * rather than leave an agent talking to no one.
   */
  async endOrphan(id: string): Promise<void> {
    if (this.#log || this.#starting || this.#c.persistedId !== id) return;
    const log = await this.#loadPersisted();
    if (!log || over(log.state) || this.#log || this.#starting) return;
    this.#warn(
      `ended the chat left waiting by a page reload: no reconnect and no new request within ${this.#o.orphanTimeoutMs} ms`,
    );
    await this.#giveUp(log, "left open by a page reload");
  }

  /** The state of this tab's saved escalation (from before a reload), without resuming it. */
  async savedState(): Promise<DeskState | undefined> {
    return (await this.#loadPersisted())?.state;
  }

  /** The state replayed from the current escalation's log (`idle` before any). */
  get state(): DeskState | undefined {
    return this.#log?.state;
  }

  /** The agent chat so far (for the host's transcript after a reload). */
  get transcript(): readonly TranscriptEntry[] {
    return this.#log?.transcript ?? [];
  }

  // --- persisted escalation id -------------------------------------------------------------

  /** Points the host at an escalation (with its conversation once known), or clears it. */
  #persist(id?: string): void {
    const conversationId = id && this.#log?.id === id ? this.#log.state.conversationId : undefined;
    this.#c.persistedId = id;
    this.#c.persistedConversationId = conversationId;
    savedId(id ?? null);
    writePointer(
      this.#h,
      id ? { escalationId: id, ...(conversationId ? { conversationId } : {}) } : undefined,
    );
  }

  #loadPersisted(): Promise<SessionLog | undefined> {
    const id = this.#c.persistedId;
    if (!id) return Promise.resolve(undefined);
    if (this.#log?.id === id) return Promise.resolve(this.#log);
    return this.#persistedLoad ??= SessionLog.open(this.#store, id, this.#logOptions()).then(
      (log) => log ?? this.#rebuild(id),
      (error) => {
        this.#warn(`could not read the chat log (${errorText(error)}); starting fresh`);
        return this.#rebuild(id);
      },
    );
  }

  /**
   * The log is gone (storage evicted, a private window, the host's state restored elsewhere) but the
   * host still names the Kustomer conversation: a new log that knows the conversation, filled from
   * Kustomer (`getMessages`) when the chat resumes.
   */
  async #rebuild(id: string): Promise<SessionLog | undefined> {
    const conversationId = this.#c.persistedConversationId;
    if (!conversationId) return undefined;
    this.#warn("the chat log is gone; rebuilding the chat from Kustomer");
    const log = SessionLog.create(this.#store, id, this.#logOptions());
    await log.append(
      {
        type: "escalation_started",
        data: { title: this.#o.title, context: "", attribute: this.#o.sessionHistoryAttribute },
      },
      { type: "conversation_created", data: { conversationId } },
      { type: "conversation_opened", data: { messageId: "" } },
    );
    return log;
  }

  #logOptions() {
    return { now: this.#o.now, warn: this.#warn };
  }

  // --- Kustomer connection -----------------------------------------------------------------

  #connectCore(): Promise<KustomerClient> {
    if (!this.#client) {
      const o = this.#o;
      const pending = this.#client = (async () => {
        const client = new KustomerClient(await findCore(o), o.timeoutMs, o.scheduler);
        const init = { ...o.init };
        if (!init.lang && this.#c.locale) init.lang = this.#c.locale;
        await initOnce(client, init);
        return client;
      })();
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
          "getJwt() must resolve to a JWT string (a.b.c) or undefined",
        );
      }
      if (token) await this.#call("login", { jwtToken: token });
    }
    if (this.#subscribed !== client.core) {
      this.#listen("removeListener");
      this.#subscribed = client.core;
      this.#listen("addListener");
    }
    return client;
  }

  /** Calls Kustomer; a timeout means the connection is lost, unless `quiet`. */
  async #call<T>(method: string, options: unknown, quiet?: boolean): Promise<T> {
    const client = await this.#connectCore();
    try {
      return await client.call<T>(method, options);
    } catch (error) {
      if (!quiet && error instanceof KustomerError && error.reason === "timeout") {
        this.#lostConnection(error);
      }
      throw error;
    }
  }

  /** Calls a Kustomer method that has no callback; false (with a warning) when it failed. */
  #fire(method: string, options: unknown): Promise<boolean> {
    return this.#connectCore().then((client) => {
      const error = client.fire(method, options);
      if (error) this.#warn(error.message);
      return !error;
    }, () => false);
  }

  #listen(how: "addListener" | "removeListener"): void {
    for (const [name, fn] of Object.entries(this.#on)) this.#subscribed?.[how](name, fn);
  }

  /** Whether a Kustomer event is about this desk's conversation. */
  #mine(event: { conversationId?: unknown } | undefined): boolean {
    const id = this.#log?.state.conversationId;
    return !!id && id === event?.conversationId;
  }

  #live(): boolean {
    const status = this.#log?.state.status;
    return status === "waiting" || status === "connected";
  }

  #on: Record<string, KustomerListener> = {
    onMessageReceived: (message: KustomerMessage) => {
      if (this.#mine(message) && this.#live() && isAgentMessage(message)) {
        void this.#receive([message]);
      }
    },
    onAgentTypingActivity: (event: KustomerTypingEvent) => {
      if (this.#mine(event) && this.#live()) this.#h.agentTyping(event.typing === true);
    },
    onConversationEnded: (event: { conversationId: string; ended?: boolean }) => {
      if (this.#mine(event) && event.ended !== false) void this.#agentEnded();
    },
    onSatisfactionReceived: (event: KustomerSatisfactionEvent) => {
      const log = this.#log!;
      if (
        !this.#mine(event) || typeof event.satisfactionId !== "string" ||
        log.state.satisfactionIds.includes(event.satisfactionId)
      ) return;
      const { conversationId, satisfactionId, form } = event;
      void log.append({ type: "satisfaction_received", data: { satisfactionId } });
      const survey = {
        conversationId,
        satisfactionId,
        form,
        submit: (rating: number, answers?: unknown[]) =>
          this.#call<void>("submitSatisfactionForm", {
            satisfactionId,
            rating,
            answers,
            submittedAt: new Date(this.#o.now()).toISOString(),
          }),
      };
      if (this.#o.onSatisfaction) {
        this.#guard("onSatisfaction", () => this.#o.onSatisfaction!(survey));
      } else {
        this.#warn(`survey ${satisfactionId} arrived; pass onSatisfaction to show it`);
      }
    },
  };

  /**
   * Records agent messages at once, in time order, each once (messages arriving while a write is
   * in flight share the next write), and shows them once stored: a reload never shows one twice.
   */
  #receive(messages: KustomerMessage[]): Promise<void> {
    const log = this.#log;
    const fresh = new Map<string, AgentMessage>();
    let agent = log?.state.agent;
    let stored: Promise<void>;
    try {
      if (!log || !this.#live()) return this.#receiving;
      for (const m of [...messages].sort(byTime)) {
        if (!isSeen(log.state, m.messageId) && !fresh.has(m.messageId)) {
          fresh.set(m.messageId, normalizeMessage(m));
        }
      }
      if (!fresh.size) return this.#receiving;
      stored = log.append(
        ...[...fresh.values()].map((message): EventInput => ({
          type: "agent_message_received",
          data: { message },
        })),
      );
    } catch (error) {
      this.#warn(`could not show an agent message (${errorText(error)})`);
      return this.#receiving;
    }
    return this.#receiving = this.#receiving.then(() => stored).then(() => {
      if (this.#log !== log) return;
      for (const message of fresh.values()) {
        const p = profile(message.agent);
        if (agent?.id !== p.id) {
          if (agent) this.#h.beginTransferToAnotherAgent(p);
          this.#h.agentJoined(p);
        }
        this.#h.sendMessageToUser(toMessageResponse(message), p.id);
        agent = message.agent;
      }
    }).catch((error) => this.#warn(`could not show an agent message (${errorText(error)})`));
  }

  async #messages(conversationId: string, quiet?: boolean): Promise<KustomerMessage[]> {
    const r = await this.#call<KustomerMessagesResponse>("getMessages", { conversationId }, quiet);
    return Array.isArray(r?.messages) ? r.messages : [];
  }

  async #agentEnded(): Promise<void> {
    const log = this.#log;
    if (!log || over(log.state)) return;
    // An agent's last words often arrive just before the end: show them first (best effort).
    await this.#receiving;
    const messages = await this.#messages(log.state.conversationId!, true).catch(() => []);
    await this.#receive(messages.filter(isAgentMessage));
    if ((log.state.status as string) === "ended") return; // a concurrent end won
    await log.append({ type: "chat_ended", data: { by: "agent" } });
    this.#h.agentEndedChat();
    await this.#finish(log);
  }

  // --- lost and recovered connection -------------------------------------------------------

  #setDisconnected(on: boolean): void {
    if (this.#disconnected !== on) {
      this.#disconnected = on;
      this.#h.setErrorStatus({ type: 2, isDisconnected: on });
    }
  }

  #lostConnection(error: KustomerError): void {
    if (!this.#live()) return;
    if (!this.#disconnected) {
      this.#warn(`lost Kustomer (${error.message}); retrying every ${this.#o.retryIntervalMs} ms`);
    }
    this.#setDisconnected(true);
    this.#scheduleRetry();
  }

  /** Runs `run` once after `ms`, unless the chat ended or moved on meanwhile. */
  #timer(key: string, ms: number, run: () => unknown): void {
    if (!ms || this.#timers[key] !== undefined) return;
    const generation = this.#generation;
    this.#timers[key] = this.#o.scheduler.setTimeout(() => {
      delete this.#timers[key];
      if (generation === this.#generation && this.#live()) run();
    }, ms);
  }

  #scheduleRetry = (): void =>
    this.#timer("retry", this.#o.retryIntervalMs, () => this.#sync().catch(this.#scheduleRetry));

  #scheduleHeartbeat(): void {
    const generation = this.#generation;
    this.#timer(
      "heartbeat",
      this.#o.heartbeatMs,
      () =>
        this.#sync().catch(() => {/* #call reported it */}).finally(() => {
          if (generation === this.#generation) this.#scheduleHeartbeat();
        }),
    );
  }

  #stopTimers(): void {
    this.#generation++;
    for (const id of Object.values(this.#timers)) this.#o.scheduler.clearTimeout(id);
    this.#timers = {};
  }

  /**
   * Catches up with Kustomer: messages missed while away, user messages not yet confirmed, a
   * conversation ended meanwhile. Clears DISCONNECTED when it succeeds.
   */
  async #sync(): Promise<void> {
    const log = this.#log;
    const conversationId = log?.state.conversationId;
    if (!log || !conversationId || !this.#live()) return;
    // A resume that could not reach Kustomer never logged in nor listened: do it now.
    if (!this.#subscribed) await this.#connect();
    const messages = await this.#messages(conversationId);
    this.#setDisconnected(false);
    // User messages that reached Kustomer before a reload but were never confirmed: match by text.
    const unmatched = messages
      .filter((m) => m?.direction === "in" && !isSeen(log.state, m.messageId))
      .sort(byTime);
    const events: EventInput[] = [];
    for (const { id, text } of log.state.pending) {
      const i = this.#sending.has(id) ? -1 : unmatched.findIndex((m) => (m.body ?? "") === text);
      if (i >= 0) {
        events.push({ type: "user_message_sent", data: { id, messageId: unmatched[i].messageId } });
        unmatched.splice(i, 1);
      }
    }
    if (events.length) await log.append(...events);
    await this.#receive(messages.filter(isAgentMessage));
    if (await this.#endedRemotely(conversationId)) return this.#agentEnded();
    await this.#sendPending();
  }

  async #endedRemotely(conversationId: string): Promise<boolean> {
    try {
      if (typeof (await this.#connectCore()).core.getConversations !== "function") return false;
      const { conversations } = await this.#call<
        { conversations: { conversationId: string; ended?: boolean }[] }
      >("getConversations", { page: 1, pageSize: 100 });
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
    // The desk checked the connect message.
    if (this.#starting) throw new Error("Cannot start chat: a chat is already starting");
    if (this.#live()) throw new Error("Cannot start chat: a chat is already active");
    try {
      await (this.#starting = this.#start(connectMessage, options ?? {}));
    } finally {
      this.#starting = undefined;
    }
  }

  async #start(connectMessage: MessageResponse, options: StartChatOptions): Promise<void> {
    const previous = await this.#loadPersisted();
    if (previous && previous !== this.#log && previous.state.status !== "ended") {
      const orphan = "left open by a page reload";
      if (this.#o.orphanedChat === "end" || over(previous.state)) {
        await this.#giveUp(previous, orphan);
      } else if (
        await this.#resume(previous).catch((error) => {
          this.#warn(`could not resume the reloaded chat (${errorText(error)}); ending it`);
          return this.#giveUp(previous, orphan);
        })
      ) return;
    }
    this.#stopTimers();
    this.#disconnected = false;
    const item = connectItem(connectMessage);
    const historyKey = options.agentAppInfo?.sessionHistoryKey ??
      item?.transfer_info?.session_history_key;
    const context = await this.#context(item, historyKey);
    const log = this.#log = SessionLog.create(this.#store, newId(), this.#logOptions());
    const { now, retentionMs, abandonedMs, title, sessionHistoryAttribute } = this.#o;
    this.#persist(log.id);
    await log.append({
      type: "escalation_started",
      data: {
        title,
        context,
        attribute: sessionHistoryAttribute,
        ...(typeof historyKey === "string" && historyKey ? { historyKey } : {}),
      },
    });
    // Storage trouble is said once, by the log; the next chat sweeps again.
    sweepLogs(this.#store, { now: now(), retentionMs, abandonedMs, keep: log.id }).catch(() => {});
    try {
      await this.#open(log);
      void this.#sendPending();
    } catch (error) {
      const message = errorText(error);
      await log.append({ type: "error_recorded", data: { where: "startChat", message } });
      await this.#giveUp(log, message);
      this.#h.setErrorStatus({
        type: 1,
        messageToUser: "We could not connect you to an agent. Please try again.",
        logInfo: message,
      });
      throw error instanceof Error ? error : new Error(message);
    }
  }

  async #context(item: GenericItem | undefined, historyKey: unknown): Promise<string> {
    const lines = [this.#o.transferMessage];
    const request = item?.message_to_human_agent;
    const summary = item?.transfer_info?.summary_message_to_agent;
    if (request) lines.push(`Customer's request: ${request}`);
    if (summary) lines.push(`Summary: ${summary}`);
    if (historyKey) {
      lines.push(
        "The conversation with the assistant is in the Watson Assistant Chat History card.",
      );
    }
    if (this.#o.conversationSummary) {
      try {
        const transcript = await this.#o.conversationSummary();
        if (transcript) lines.push(`Conversation with the assistant:\n${transcript}`);
      } catch (error) {
        this.#warn(`conversationSummary() failed (${errorText(error)})`);
      }
    }
    return lines.join("\n");
  }

  /**
   * Creates the conversation if needed, opens it with the context message, attaches the key,
   * announces file uploads and starts the heartbeat.
   */
  async #open(log: SessionLog, client?: KustomerClient): Promise<void> {
    client ??= await this.#connect();
    if (!log.state.conversationId) {
      const brand = this.#o.init?.brandId;
      const created = await this.#call<{ conversationId: string }>("createConversation", {
        title: log.state.title ?? this.#o.title,
        ...(brand ? { brand } : {}),
      });
      if (typeof created?.conversationId !== "string") {
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
      if (this.#c.persistedId === log.id) this.#persist(log.id);
    }
    if (log.state.status === "ended") return this.#abandon(log);
    const opening = !log.state.opened;
    if (opening) {
      const sent = await this.#call<{ messageId: string }>("sendMessage", {
        conversationId: log.state.conversationId,
        body: log.state.context ?? this.#o.transferMessage,
      });
      await log.append({
        type: "conversation_opened",
        data: { messageId: String(sent?.messageId) },
      });
    }
    await this.#attachKey(log);
    if (this.#o.allowFileUploads !== false) {
      this.#h.updateCapabilities({
        allowFileUploads: true,
        allowMultipleFileUploads: true,
        allowedFileUploadTypes: ALLOWED_FILE_TYPES,
      });
    }
    if (opening && log.state.status === "waiting") {
      this.#c.updateQueue({
        message: parseAvailability(this.#availability(client)) === false
          ? "No agents are online right now. An agent will answer when one is available."
          : this.#o.waitingMessage,
      });
    }
    this.#scheduleHeartbeat();
  }

  #availability(client: KustomerClient): unknown {
    try {
      return client.core.isChatAvailable?.();
    } catch {
      return undefined;
    }
  }

  async #attachKey(log: SessionLog): Promise<void> {
    const { historyKey, historyKeyAttached, conversationId, attribute } = log.state;
    if (!historyKey || historyKeyAttached || !conversationId) return;
    try {
      await this.#call("describeConversation", {
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
      const reason = errorText(error);
      this.#warn(`could not attach the session-history key (${reason}); will retry on reconnect`);
      await log.append({ type: "history_key_failed", data: { reason } });
    }
  }

  /** Ends a Kustomer conversation this desk will not use (best effort). */
  async #abandon(log: SessionLog): Promise<void> {
    const conversationId = log.state.conversationId;
    if (conversationId) {
      await this.#call("endConversation", { conversationId }, true).catch((error) =>
        this.#warn(`could not end the abandoned Kustomer conversation (${errorText(error)})`)
      );
    }
  }

  /** Ends a chat the desk cannot go on with: records why, abandons the conversation, clears up. */
  async #giveUp(log: SessionLog, reason: string): Promise<void> {
    this.#log = log;
    if (log.state.status !== "ended") {
      await log.append({ type: "chat_ended", data: { by: "system", reason } });
    }
    await this.#abandon(log);
    await this.#finish(log);
  }

  /** Resumes a chat (not ended, not idle) from its log: true when it goes on. */
  async #resume(log: SessionLog): Promise<boolean> {
    this.#stopTimers();
    this.#log = log;
    this.#disconnected = false;
    const { conversationId } = log.state;
    const client = await this.#connect();
    if (conversationId && await this.#endedRemotely(conversationId)) {
      await log.append({
        type: "chat_ended",
        data: { by: "agent", reason: "ended while the page was away" },
      });
      await this.#finish(log);
      return false;
    }
    // The reload may have come before the conversation was created or opened: finish that first.
    await this.#open(log, client);
    if (conversationId) await this.#sync();
    else void this.#sendPending();
    return this.#live();
  }

  /** Sends queued user messages, in order, each once. */
  async #sendPending(): Promise<void> {
    const log = this.#log;
    if (!log?.state.opened) return;
    for (const { id } of log.state.pending) {
      await this.#deliver(log, id).catch(() => {/* reported in #deliver */});
    }
  }

  /** Tells the host a user message (and its files) could not go. */
  #failed(id: string, reason: string, files: readonly FileUpload[] = []): void {
    for (const f of files) this.#h.setFileUploadStatus(f.id, true, reason);
    this.#h.setErrorStatus({ type: 3, messageID: id, logInfo: reason });
  }

  #deliver(log: SessionLog, id: string): Promise<void> {
    const inFlight = this.#sending.get(id);
    if (inFlight) return inFlight;
    const run = (async () => {
      const pending = log.state.pending.find((p) => p.id === id);
      if (!pending) return;
      const { text, files: names } = pending;
      const files = this.#files.get(id) ?? [];
      const { conversationId, opened } = log.state;
      try {
        if (!conversationId || !opened) throw new Error("the conversation is not open");
        if (names.length && !files.length && !text) {
          throw new Error(`the files (${names.join(", ")}) were lost in a page reload`);
        }
        const sent = await this.#call<{ messageId: string }>("sendMessage", {
          conversationId,
          ...(text ? { body: text } : {}),
          ...(files.length ? { attachments: files.map((f) => ({ file: f.file })) } : {}),
        });
        await log.append({
          type: "user_message_sent",
          data: { id, messageId: String(sent?.messageId) },
        });
        for (const f of files) this.#h.setFileUploadStatus(f.id);
      } catch (error) {
        const reason = errorText(error);
        await log.append({ type: "user_message_failed", data: { id, reason } });
        this.#failed(id, reason, files);
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
    if (!log || over(log.state)) {
      throw new Error(
        `Cannot send the message: ${
          log?.state.status === "ended" ? "the chat has ended" : "no chat is active"
        }`,
      );
    }
    if (!text && !uploads.length) return;
    if (uploads.length && this.#o.allowFileUploads === false) {
      throw new TypeError(
        "Cannot send files: allowFileUploads is false",
      );
    }
    const problems = fileProblems(uploads).filter(Boolean).join("; ");
    if (problems) {
      this.#failed(id, problems, uploads);
      throw new RangeError(`Cannot send the files: ${problems}`);
    }
    if (uploads.length) this.#files.set(id, uploads);
    await log.append({
      type: "user_message_queued",
      data: {
        id,
        text,
        files: uploads.map(({ file: { name, size, type } }) => ({ name, size, type })),
      },
    });
    if (!log.state.opened) {
      // The chat is still starting: the message goes as soon as the conversation is open.
      await this.#starting?.catch(() => {});
      if (!log.state.opened) {
        const reason = "the chat did not start";
        if (log.state.pending.some((p) => p.id === id)) {
          await log.append({ type: "user_message_failed", data: { id, reason } });
          this.#failed(id, reason);
        }
        throw new Error(`Cannot send the message: ${reason}`);
      }
    }
    await this.#deliver(log, id);
  }

  /** Ends the chat: ends the Kustomer conversation (unless the agent did) and clears the saved state. */
  async endChat(info: EndChatInfo = {}): Promise<void> {
    const log = this.#log ?? (await this.#loadPersisted());
    if (!log || log.state.status === "idle") return this.#persist();
    if (log.state.status === "ended") return this.#finish(log);
    const byAgent = info?.endedByHumanAgent === true || info?.endedByAgent === true;
    await log.append({ type: "chat_ended", data: { by: byAgent ? "agent" : "user" } });
    const conversationId = log.state.conversationId;
    try {
      if (!byAgent && conversationId) await this.#call("endConversation", { conversationId });
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
    this.#setDisconnected(false);
    if (this.#c.persistedId === log.id) this.#persist();
    this.#persistedLoad = undefined;
    await (this.#o.retentionMs > 0 ? log.compact() : log.remove()).catch((error) =>
      this.#warn(`could not clean up the chat log (${errorText(error)})`)
    );
  }

  /** Tells the agent whether the user is typing (the desk checked `isTyping`). */
  async userTyping(isTyping: boolean): Promise<void> {
    const conversationId = this.#log?.state.conversationId;
    if (conversationId && this.#live()) {
      await this.#fire("sendTypingActivity", { conversationId, typing: isTyping });
    }
  }

  /** Tells Kustomer the user has read the agent's messages. */
  async userReadMessages(): Promise<void> {
    const log = this.#log;
    const { conversationId, unread = [] } = log?.state ?? {};
    const ids = [...unread];
    if (!conversationId) return;
    if (ids.length && await this.#fire("markRead", { conversationId, messageIds: ids })) {
      await log!.append({ type: "messages_read", data: { messageId: ids.at(-1)! } });
    }
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

  /**
   * After a page reload: rebuilds the chat from its log, logs in again, catches up on missed
   * messages, sends unconfirmed ones, and resolves true; false when there is no chat to resume.
   */
  async reconnect(): Promise<boolean> {
    const log = await this.#loadPersisted();
    if (!log || over(log.state)) {
      await (log ? this.#finish(log) : this.#persist());
      return false;
    }
    try {
      return await this.#resume(log);
    } catch (error) {
      if (error instanceof TypeError) throw error;
      this.#warn(`could not reach Kustomer to resume the chat (${errorText(error)}); retrying`);
      this.#setDisconnected(true);
      this.#scheduleRetry();
      return true;
    }
  }
}
