/**
 * The desk's engine: everything a chat needs once there is one (the session log, Kustomer calls and
 * events, reload recovery). The desk ({@linkcode KustomerServiceDesk}) loads it on first use, so a page
 * that never escalates never downloads it.
 *
 * Every input — a host call, a Kustomer event or answer, a timer — goes through one
 * {@linkcode Mailbox} and is handled one at a time; what happened is decided by the pure functions
 * of `engine/decide.ts`, recorded in the log (whose `evolve` is the only source of state), and
 * only then acted on.
 *
 * @module
 */

import {
  type DeskState,
  type EndedBy,
  type EventInput,
  isSeen,
  type TranscriptEntry,
  withPending,
} from "./events.ts";
import type {
  EndChatInfo,
  FileUpload,
  GenericItem,
  MessageRequest,
  MessageResponse,
  StartChatOptions,
} from "./host_types.ts";
import { type HostInstance, type SafeHost, writePointer } from "./host.ts";
import { errorText, type KustomerError } from "./common.ts";
import { Connection } from "./connection.ts";
import type { KustomerMethod, OptionsOf, ResponseOf } from "./kustomer.ts";
import type {
  KustomerConversationSummary,
  KustomerListener,
  KustomerMessage,
  KustomerSatisfactionEvent,
  KustomerTypingEvent,
} from "./kustomer_types.ts";
import type { LoadedLog, LogStore } from "./log_store.ts";
import { ALLOWED_FILE_TYPES, fileProblems } from "./engine/files.ts";
import { parseAvailability, profile, toMessageResponse } from "./messages.ts";
import {
  type DeskLocks,
  type DeskOptions,
  type ResolvedOptions,
  resolveLocks,
  savedId,
} from "./options.ts";
import { chatOptions } from "./engine/defaults.ts";
import { SessionLog, type SessionLogOptions, sweepLogs } from "./session_log.ts";
import { Mailbox } from "./engine/mailbox.ts";
import { checkSendMessage, checkStartChat } from "./engine/checks.ts";
import { openEscalations, tryHold } from "./engine/locks.ts";
import { backWith, lastWordsLost, REQUEUE_KEY } from "./engine/notices.ts";
import { dropOutbox, keepOutbox, readOutbox } from "./engine/outbox.ts";
import { type OutboxStorage, resolveOutbox } from "./outbox.ts";
import { toHistoryItems } from "./history_items.ts";
import {
  agentEnded,
  agentSteps,
  attachKey,
  chatEnded,
  confirmSent,
  createConversation,
  type Decision,
  deliverLast,
  deliverMessage,
  ENDED_BEFORE_SENT,
  endInKustomer,
  isAgentMessage,
  isLive,
  isOver,
  isTimeout,
  type KustomerCall,
  sendOpening,
  showAgentMessages,
} from "./engine/decide.ts";

export { SessionLog };
export {
  idbEvents,
  idbRemove,
  idbWrite,
  memoryEvents,
  memoryLoad,
  memoryWrite,
} from "./engine/log_io.ts";
export { chatHistory } from "./engine/transcript.ts";
export type { SafeHost };

/** The desk's shared parts, made by {@linkcode KustomerServiceDesk} and read by the engine. */
export interface DeskContext {
  /** The host's callbacks, each safe to call: a throw or a rejection becomes a warning. */
  readonly h: SafeHost;
  readonly o: DeskOptions;
  readonly store: LogStore;
  /** This tab's open escalation (host persisted state or sessionStorage). */
  persistedId?: string;
  /** Its Kustomer conversation, from the host's persisted state (to rebuild a lost log). */
  persistedConversationId?: string;
  /** The host's locale (old web chat's updateState). */
  locale?: string;
  readonly warn: (message: string) => void;
  readonly updateQueue: (info: { message?: string }) => void;
  /** The host's instance (Carbon AI Chat's `ChatInstance`), if it gave one. */
  readonly instance?: HostInstance;
}

/** Where this tab keeps the id of its open escalation (the host's persisted state, sessionStorage). */
interface EscalationPointer {
  /** The id, if this tab has an open escalation. */
  read(): string | undefined;
  /** The conversation it names, if any. */
  conversationId(): string | undefined;
  /** Points at `id` (and its conversation, once known). */
  write(id: string, conversationId?: string): void;
  /** Forgets the escalation. */
  clear(): void;
}

/** How a resume came out. */
type ResumeOutcome = "live" | "ended_away" | "ended";

/** A promise kept in an object, so that returning it from a mailbox handler does not await it. */
interface Settlement {
  readonly done: Promise<void>;
}

/** The `connect_to_agent` item of a message. */
function connectItem(message: MessageResponse | undefined): GenericItem | undefined {
  return message?.output?.generic?.find((item) => item?.response_type === "connect_to_agent");
}

/** Whether the host already has an agent chat (connected, connecting or reconnecting). */
function hostHasChat(instance: HostInstance): boolean {
  try {
    const agent = instance.getState?.()?.humanAgent as
      | { isConnected?: boolean; isConnecting?: boolean; isReconnecting?: boolean }
      | undefined;
    return !!(agent?.isConnected || agent?.isConnecting || agent?.isReconnecting);
  } catch {
    return false;
  }
}

/** Whether the user can see the chat (its main window is open, in a visible page). */
function chatOpen(instance: HostInstance): boolean {
  try {
    return globalThis.document?.visibilityState !== "hidden" &&
      instance.getState?.()?.viewState?.mainWindow === true;
  } catch {
    return false;
  }
}

function newId(): string {
  return globalThis.crypto?.randomUUID?.() ??
    `esc-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * How many of the latest messages a live catch-up fetches: more than a burst between two catch-ups
 * holds, so the whole chat is fetched only after a gap this long.
 */
const LATEST_COUNT = 50;

/**
 * How many times the messages of a conversation that ended are fetched before the desk gives up
 * on showing the agent's last words (each try within `timeoutMs`).
 */
const LAST_WORDS_TRIES = 3;

/** The desk's engine; {@linkcode KustomerServiceDesk} forwards to it. */
export class DeskEngine {
  #host: SafeHost;
  #options: ResolvedOptions;
  #store: LogStore;
  #warn: (message: string) => void;
  #updateQueue: (info: { message?: string }) => void;
  #pointer: EscalationPointer;
  #mailbox = new Mailbox();
  #connection: Connection;
  #log?: SessionLog;
  #persistedLoad?: Promise<SessionLog | undefined>;
  #starting = false;
  /** Files of user messages not yet sent (files are not stored). */
  #files = new Map<string, FileUpload[]>();
  /** User messages this page is sending now. */
  #sending = new Set<string>();
  /** The callers waiting for each user message to be sent or to fail. */
  #waiters = new Map<string, { resolve(): void; reject(error: unknown): void }>();
  /** Live agent messages waiting for the catch-up that puts them in Kustomer's order. */
  #held = new Map<string, KustomerMessage>();
  #catchingUp = false;
  #catchUpAgain = false;
  /**
   * The log this page took up from a reload or a closed tab and has not yet caught up with
   * Kustomer: its pending messages may be there already (sent before the page went, the answer
   * lost), so none goes until the catch-up has looked.
   */
  #unconfirmed?: SessionLog;
  /** The site's Web Locks (none: every page acts as if alone). */
  #locks?: DeskLocks;
  /** The lock this page holds: its live escalation's. */
  #lock?: { readonly id: string; readonly release: () => void };
  /** Where the desk keeps each user message until the log has it (none: storage is off or fails). */
  #outbox?: OutboxStorage;
  /** The host's instance, if it gave one. */
  #instance?: HostInstance;

  constructor(context: DeskContext) {
    this.#host = context.h;
    this.#options = chatOptions(context.o);
    this.#store = context.store;
    this.#warn = context.warn;
    this.#updateQueue = context.updateQueue;
    this.#locks = resolveLocks(this.#options.locks);
    this.#instance = context.instance;
    try {
      this.#outbox = resolveOutbox(this.#options.outbox);
    } catch {
      // Web Storage is disabled here: the entry says so at the first message.
    }
    const host = this.#host;
    this.#pointer = {
      read: () => context.persistedId,
      conversationId: () => context.persistedConversationId,
      write: (id, conversationId) => {
        context.persistedId = id;
        context.persistedConversationId = conversationId;
        savedId(id);
        writePointer(host, { escalationId: id, ...(conversationId ? { conversationId } : {}) });
      },
      clear: () => {
        context.persistedId = undefined;
        context.persistedConversationId = undefined;
        savedId(null);
        writePointer(host, undefined);
      },
    };
    this.#connection = new Connection({
      options: this.#options,
      locale: () => context.locale,
      listeners: this.#listeners(),
      onStatus: (status, previous) => {
        if (status === "lost") host.setErrorStatus({ type: 2, isDisconnected: true });
        else if (previous === "lost") host.setErrorStatus({ type: 2, isDisconnected: false });
      },
      onTimeout: (error) => this.#lost(error),
    });
  }

  /** The state of this tab's saved escalation (from before a reload), without resuming it. */
  async savedState(): Promise<DeskState | undefined> {
    return (await this.#loadPersisted())?.state;
  }

  /** The state replayed from the current escalation's log (`idle` before any). */
  get state(): DeskState | undefined {
    return this.#log?.state;
  }

  /** The agent chat so far (for the host's transcript after a reload); failed messages left out. */
  get transcript(): readonly TranscriptEntry[] {
    return this.#log?.transcript.filter((line) => !line.failed) ?? [];
  }

  // --- the mailbox ---------------------------------------------------------------------------

  /** Queues an input. */
  #post<T>(handler: () => T | Promise<T>): Promise<T> {
    return this.#mailbox.post(handler);
  }

  /** From inside a handler: waits for something slow with the mailbox free meanwhile. */
  #wait<T>(slow: Promise<T>): Promise<T> {
    return this.#mailbox.wait(slow);
  }

  /** Calls Kustomer from inside a handler (the answer comes back as a new input). */
  #ask<M extends KustomerMethod>(
    method: M,
    options: OptionsOf<M>,
    quiet?: boolean,
  ) {
    return this.#wait(this.#connection.call(method, options, quiet));
  }

  /** Whether `log` is still this desk's chat and not over (checked after each wait). */
  #current(log: SessionLog): boolean {
    return this.#log === log && !isOver(log.state);
  }

  // --- locks: which page holds which escalation -----------------------------------------------

  /** Holds the lock of escalation `id`: false when another live page holds it. */
  async #hold(id: string): Promise<boolean> {
    if (!this.#locks || this.#lock?.id === id) return true;
    const release = await tryHold(this.#locks, id);
    if (!release) return false;
    this.#letGo();
    this.#lock = { id, release };
    return true;
  }

  /** Lets go of the lock this page holds (of escalation `id` only, when given). */
  #letGo(id?: string): void {
    if (this.#lock && (id === undefined || this.#lock.id === id)) {
      this.#lock.release();
      this.#lock = undefined;
    }
  }

  // --- persisted escalation ------------------------------------------------------------------

  /** This tab's saved escalation's log (`loaded`: its read, begun already), read once. */
  #loadPersisted(loaded?: Promise<LoadedLog>): Promise<SessionLog | undefined> {
    const id = this.#pointer.read();
    if (!id) return Promise.resolve(undefined);
    if (this.#log?.id === id) return Promise.resolve(this.#log);
    return this.#persistedLoad ??= SessionLog.open(this.#store, id, this.#logOptions(loaded)).then(
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
    const conversationId = this.#pointer.conversationId();
    if (!conversationId) return undefined;
    this.#warn("the chat log is gone; rebuilding the chat from Kustomer");
    const log = SessionLog.create(this.#store, id, this.#logOptions());
    await log.append(
      {
        type: "escalation_started",
        data: {
          title: this.#options.title,
          context: "",
          attribute: this.#options.sessionHistoryAttribute,
        },
      },
      { type: "conversation_created", data: { conversationId } },
      { type: "conversation_opened", data: { messageId: "" } },
    );
    return log;
  }

  /** The log's options (with the read of it already begun, if any). */
  #logOptions(loaded?: Promise<LoadedLog>): SessionLogOptions {
    return { now: this.#options.now, warn: this.#warn, loaded };
  }

  // --- Kustomer events -----------------------------------------------------------------------

  /** Whether a Kustomer event is about this desk's conversation. */
  #mine(event: { conversationId?: unknown } | undefined): boolean {
    const id = this.#log?.state.conversationId;
    return !!id && id === event?.conversationId;
  }

  #listeners(): Record<string, KustomerListener> {
    const input = (name: string, run: () => Promise<void> | void) => {
      this.#post(run).catch((error) =>
        this.#warn(`could not handle Kustomer's ${name} (${errorText(error)})`)
      );
    };
    return {
      onMessageReceived: (message: KustomerMessage) =>
        input("message", () => {
          const log = this.#log;
          if (!log || !this.#mine(message) || !isLive(log.state) || !isAgentMessage(message)) {
            return;
          }
          this.#held.set(message.messageId, message);
          return this.#catchUp(log);
        }),
      onAgentTypingActivity: (event: KustomerTypingEvent) =>
        input("typing", () => {
          if (this.#mine(event) && isLive(this.#log?.state)) {
            this.#host.agentTyping(event.typing === true);
          }
        }),
      onConversationEnded: (event: { conversationId: string; ended?: boolean }) =>
        input("end", () => {
          const log = this.#log;
          if (log && this.#mine(event) && event.ended !== false) return this.#agentEnded(log);
        }),
      onSatisfactionReceived: (event: KustomerSatisfactionEvent) =>
        input("survey", () => this.#survey(event)),
    };
  }

  async #survey(event: KustomerSatisfactionEvent): Promise<void> {
    const log = this.#log;
    if (
      !log || !this.#mine(event) || typeof event.satisfactionId !== "string" ||
      log.state.satisfactionIds.includes(event.satisfactionId)
    ) return;
    const { conversationId, satisfactionId, form } = event;
    await log.append({ type: "satisfaction_received", data: { satisfactionId } });
    const survey = {
      conversationId,
      satisfactionId,
      form,
      submit: async (rating: number, answers?: unknown[]) => {
        await this.#connection.call("submitSatisfactionForm", {
          satisfactionId,
          rating,
          answers,
          submittedAt: new Date(this.#options.now()).toISOString(),
        });
      },
    };
    const onSatisfaction = this.#options.onSatisfaction;
    if (onSatisfaction) {
      // The page's function: its throw or rejection is a warning, never the desk's failure.
      const fail = (error: unknown) =>
        this.#warn(`the host's onSatisfaction() failed (${errorText(error)})`);
      try {
        Promise.resolve(onSatisfaction(survey)).catch(fail);
      } catch (error) {
        fail(error);
      }
    } else this.#warn(`survey ${satisfactionId} arrived; pass onSatisfaction to show it`);
  }

  /**
   * Shows held live agent messages in Kustomer's order: fetches the conversation's messages (one
   * fetch for any number of live messages that arrive meanwhile) and shows everything not yet seen.
   */
  async #catchUp(log: SessionLog): Promise<void> {
    if (this.#catchingUp) {
      this.#catchUpAgain = true;
      return;
    }
    this.#catchingUp = true;
    try {
      do {
        this.#catchUpAgain = false;
        let messages: KustomerMessage[] = [];
        try {
          messages = await this.#latestOf(log);
        } catch (error) {
          // Lost, or a page that took the chat up and has not caught up yet: the retry's
          // catch-up shows them, after what it missed. Refused: show what arrived, as it is.
          if (isTimeout(error) || this.#unconfirmed === log) return;
        }
        if (!this.#current(log)) return;
        await this.#show(log, messages);
      } while (this.#catchUpAgain);
    } finally {
      this.#catchingUp = false;
    }
  }

  /** Records, then shows, the agent messages not yet seen (and those held), in Kustomer's order. */
  async #show(log: SessionLog, messages: readonly KustomerMessage[]): Promise<void> {
    const decision = showAgentMessages(log.state, [...messages, ...this.#held.values()]);
    this.#held.clear();
    await this.#decided(log, decision);
  }

  async #messagesOf(log: SessionLog, quiet?: boolean): Promise<KustomerMessage[]> {
    const conversationId = log.state.conversationId;
    if (!conversationId) return [];
    const r = await this.#ask("getMessages", { conversationId }, quiet);
    return Array.isArray(r?.messages) ? r.messages : [];
  }

  /**
   * The messages a catch-up (live, after a reload, on a heartbeat) needs, at a cost that does not
   * grow with the chat: the latest
   * {@linkcode LATEST_COUNT} (`getHistoricalMessages`), enough when the chat is that short or one of
   * them was seen before (what precedes it was caught up then). Otherwise, or when the Core lacks
   * the call, every message (`getMessages`), so a gap reaching further back is still filled.
   */
  async #latestOf(log: SessionLog): Promise<KustomerMessage[]> {
    const conversationId = log.state.conversationId;
    if (conversationId && await this.#wait(this.#connection.canFetchLatest())) {
      const r = await this.#ask("getHistoricalMessages", { conversationId, count: LATEST_COUNT });
      const latest = Array.isArray(r?.messages) ? r.messages : [];
      if (
        latest.length < LATEST_COUNT ||
        latest.some((m) => typeof m?.messageId === "string" && isSeen(log.state, m.messageId))
      ) return latest;
    }
    return this.#messagesOf(log);
  }

  /**
   * The messages of a conversation that ended, for the agent's last words: an ended conversation
   * still answers, so a refused or lost fetch is tried again, up to {@linkcode LAST_WORDS_TRIES}
   * times (each within the connection's timeout). `undefined` when every try failed (warned once),
   * or when the chat ended otherwise meanwhile.
   */
  async #lastMessagesOf(log: SessionLog): Promise<KustomerMessage[] | undefined> {
    for (let tries = 1;; tries++) {
      try {
        return await this.#messagesOf(log, true);
      } catch (error) {
        if (!this.#current(log)) return undefined;
        if (tries >= LAST_WORDS_TRIES) {
          this.#warn(`could not fetch the agent's last messages (${errorText(error)})`);
          return undefined;
        }
      }
    }
  }

  /** Tells the user in the chat that some of the agent's last messages could not be loaded. */
  #lastWordsLost(log: SessionLog): void {
    const agent = log.state.agent;
    this.#host.sendMessageToUser(lastWordsLost(agent), agent?.id);
  }

  /**
   * The agent ended the chat: their last words first (or a line saying they could not be
   * loaded), then the end.
   */
  async #agentEnded(log: SessionLog): Promise<void> {
    if (!this.#current(log)) return;
    const messages = await this.#lastMessagesOf(log);
    if (!this.#current(log)) return; // a concurrent end won
    await this.#decided(
      log,
      agentEnded(log.state, [...messages ?? [], ...this.#held.values()], { tellHost: false }),
    );
    if (!messages) this.#lastWordsLost(log);
    await this.#finish(log, this.#host.agentEndedChat());
  }

  /**
   * Records a decision's events (one write), then runs its effects in order: a Kustomer call's
   * answer is decided and recorded in turn (see {@linkcode DeskEngine.#run}); the host is told
   * only while `log` is this desk's chat; a `fail` rejects with its error. Resolves once the
   * effects are started; `done` settles when the host has taken every failure.
   */
  async #decided(log: SessionLog, decision: Decision): Promise<Settlement> {
    if (decision.events.length) await log.append(...decision.events);
    const told: Promise<void>[] = [];
    for (const effect of decision.effects) {
      if ("onAnswer" in effect) {
        told.push((await this.#run(log, effect)).done);
        continue;
      }
      switch (effect.call) {
        case "fail":
          throw effect.error;
        case "warn":
          this.#warn(effect.message);
          continue;
      }
      if (this.#log !== log) continue;
      switch (effect.call) {
        case "sendMessageToUser":
          this.#host.sendMessageToUser(toMessageResponse(effect.message), effect.message.agent.id);
          break;
        case "agentJoined":
        case "beginTransferToAnotherAgent":
          this.#host[effect.call](profile(effect.agent));
          break;
        case "userMessageSent":
          for (const f of this.#files.get(effect.id) ?? []) this.#host.setFileUploadStatus(f.id);
          this.#files.delete(effect.id);
          this.#settle(effect.id);
          break;
        case "userMessageFailed": {
          const files = this.#files.get(effect.id) ?? [];
          this.#files.delete(effect.id);
          if (!effect.quiet) told.push(this.#failed(effect.id, effect.reason, files));
          this.#settle(
            effect.id,
            effect.error ?? new Error(`Cannot send the message: ${effect.reason}`),
          );
          break;
        }
        case "agentEndedChat":
          this.#host.agentEndedChat();
          break;
        case "compactLog":
          await log.compact().catch((error) =>
            this.#warn(`could not compact the chat log (${errorText(error)})`)
          );
      }
    }
    return { done: Promise.all(told).then(() => {}) };
  }

  /**
   * The effect runner: makes a Kustomer call (logged in first when this page is not yet) with the
   * mailbox free meanwhile, then records and runs what its answer (or error) means.
   */
  async #run<M extends KustomerMethod>(
    log: SessionLog,
    effect: KustomerCall<M>,
  ): Promise<Settlement> {
    let response: ResponseOf<M>;
    try {
      if (!this.#connection.listening) await this.#wait(this.#connection.connect());
      response = await this.#ask(effect.call, effect.options, effect.quiet);
    } catch (error) {
      if (!effect.onError) throw error;
      return this.#decided(log, effect.onError(log.state, error));
    }
    return this.#decided(log, effect.onAnswer(log.state, response));
  }

  // --- lost and recovered connection -------------------------------------------------------

  #lost(error: KustomerError): void {
    if (!isLive(this.#log?.state)) return;
    if (this.#connection.status !== "lost") {
      this.#warn(
        `lost Kustomer (${error.message}); retrying every ${this.#options.retryIntervalMs} ms`,
      );
    }
    this.#connection.setStatus("lost");
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    this.#connection.schedule("retry", this.#options.retryIntervalMs, () => {
      this.#post(async () => {
        const log = this.#log;
        if (!log || !isLive(log.state)) return;
        await this.#sync(log).catch(() => this.#scheduleRetry());
      }).catch((error) => this.#warn(`could not catch up (${errorText(error)})`));
    });
  }

  #scheduleHeartbeat(): void {
    this.#connection.schedule("heartbeat", this.#options.heartbeatMs, () => {
      this.#post(async () => {
        const log = this.#log;
        if (!log || !isLive(log.state)) return;
        await this.#sync(log).catch(() => {/* the call reported it */});
        if (this.#current(log)) this.#scheduleHeartbeat();
      }).catch((error) => this.#warn(`could not check on Kustomer (${errorText(error)})`));
    });
  }

  /**
   * Catches up with Kustomer: messages missed while away, user messages that reached it
   * unconfirmed, queued ones not yet sent, a conversation ended meanwhile. Online again when it
   * succeeds.
   */
  async #sync(log: SessionLog): Promise<void> {
    // A resume that could not reach Kustomer never logged in nor listened: do it now.
    if (!this.#connection.listening) await this.#wait(this.#connection.connect());
    const messages = await this.#latestOf(log);
    if (!this.#current(log)) return;
    this.#connection.setStatus("online");
    await this.#decided(log, confirmSent(log.state, messages, this.#sending));
    this.#unconfirmed = undefined;
    await this.#show(log, messages);
    await this.#sendPending(log);
    if (this.#current(log) && await this.#endedRemotely(log)) return this.#agentEnded(log);
  }

  /**
   * The customer's conversations; none when Kustomer cannot say (a Core without
   * `getConversations()` refuses the call).
   */
  async #conversations(): Promise<KustomerConversationSummary[]> {
    try {
      const { conversations } = await this.#ask("getConversations", { page: 1, pageSize: 100 });
      return Array.isArray(conversations) ? conversations : [];
    } catch {
      return [];
    }
  }

  async #endedRemotely(log: SessionLog): Promise<boolean> {
    const conversationId = log.state.conversationId;
    return !!conversationId &&
      (await this.#conversations()).find((c) => c?.conversationId === conversationId)?.ended ===
        true;
  }

  // --- ending --------------------------------------------------------------------------------

  /**
   * Records the end (and the request to end the Kustomer conversation when this desk must), and
   * fails the user messages that never went.
   */
  #end(
    log: SessionLog,
    by: EndedBy,
    options: { reason?: string; endInKustomer?: boolean } = {},
  ): Promise<Settlement> {
    return this.#decided(log, chatEnded(log.state, by, options));
  }

  /** Warns that Kustomer did not end a conversation (a decision's `fail`, when no caller hears). */
  #endFailed = (error: unknown): void =>
    this.#warn(`could not end the Kustomer conversation (${errorText(error)})`);

  /**
   * Ends a chat the desk cannot go on with: its last user messages first (see
   * {@linkcode DeskEngine.#sendLast}; `unsendable`: why none can go), then records why, ends the
   * conversation, clears up.
   */
  async #giveUp(log: SessionLog, reason: string, unsendable?: string): Promise<void> {
    this.#log = log;
    await this.#sendLast(log, unsendable);
    await this.#end(log, "system", { reason }).catch(this.#endFailed);
    await this.#finish(log);
  }

  /**
   * Before the desk ends a chat itself: takes in the user messages only the outbox kept, then sends
   * those pending while the conversation is open on Kustomer, once each (those a lost answer left on
   * Kustomer are found first), in order, until one cannot go; each call is bounded by `timeoutMs`.
   * Nothing is tried when `why` says why none can go. Warns once of those left (the end fails
   * them), and why.
   */
  async #sendLast(log: SessionLog, why?: string): Promise<void> {
    await this.#fromOutbox(log);
    if (!why && log.state.pending.length) {
      try {
        if (!this.#connection.listening) await this.#wait(this.#connection.connect());
        const messages = await this.#messagesOf(log, true);
        await this.#decided(log, confirmSent(log.state, messages, this.#sending));
        for (const { id } of log.state.pending) await this.#deliver(log, id, deliverLast);
      } catch (error) {
        why = errorText(error);
      }
    }
    const left = log.state.pending.length;
    if (left) this.#warn(`${left} user message(s) were not sent: ${why ?? ENDED_BEFORE_SENT}`);
  }

  /** Stops timers, forgets the escalation in the host, and deletes or compacts the log. */
  async #finish(log: SessionLog, shown?: Promise<void>): Promise<void> {
    this.#connection.stopTimers();
    this.#connection.setStatus("idle");
    this.#held.clear();
    this.#persistedLoad = undefined;
    // What the host is still to show (the agent's last words, a failure) stays findable until it
    // has: a page gone before then finds the ended chat, and its history shows them.
    if (shown) await this.#wait(shown);
    dropOutbox(this.#outbox, log.id);
    if (this.#pointer.read() === log.id) this.#pointer.clear();
    // A conversation still to be ended in Kustomer keeps its (compacted, secret-free) log.
    const keep = this.#options.retentionMs > 0 || log.state.endRequested;
    await (keep ? log.compact() : log.remove()).catch((error) =>
      this.#warn(`could not clean up the chat log (${errorText(error)})`)
    );
    this.#letGo(log.id);
  }

  /**
   * Settles a log found ended: a message the outbox kept for it is recorded failed, and an end not
   * confirmed by Kustomer (a reload during `endChat`) is finished.
   */
  async #settleEnd(log: SessionLog): Promise<void> {
    await this.#fromOutbox(log);
    if (log.state.endRequested) {
      this.#log ??= log;
      await this.#decided(log, endInKustomer(log.state)).catch(this.#endFailed);
    }
    await this.#finish(log);
  }

  // --- starting and opening ------------------------------------------------------------------

  /**
   * Starts a chat: creates the Kustomer conversation, sends the agent the context (and the
   * session-history key), and resolves once the chat is requested. A chat of this tab left open by a
   * reload is resumed (or ended, per `orphanedChat`) instead of being orphaned.
   */
  async startChat(connectMessage: MessageResponse, options: StartChatOptions = {}): Promise<void> {
    checkStartChat(connectMessage, options);
    if (this.#starting) throw new Error("Cannot start chat: a chat is already starting");
    if (isLive(this.#log?.state)) throw new Error("Cannot start chat: a chat is already active");
    this.#starting = true;
    try {
      await this.#post(() => this.#start(connectMessage, options ?? {}));
    } finally {
      this.#starting = false;
    }
  }

  async #start(connectMessage: MessageResponse, options: StartChatOptions): Promise<void> {
    // The desk's own hand-off after a reload while queued: the user is waiting for the old chat and
    // asked for no new one, so if that chat cannot go on, it ends here (no second conversation).
    const requeued = (connectItem(connectMessage) as Record<string, unknown> | undefined)
      ?.[REQUEUE_KEY] === true;
    let previous = await this.#loadPersisted();
    // A chat another live tab holds (a duplicated tab) is that tab's, not ours.
    if (previous && previous !== this.#log && !(await this.#hold(previous.id))) {
      previous = undefined;
    }
    if (previous && previous !== this.#log) {
      const orphan = "left open by a page reload";
      if (previous.state.status === "ended") {
        await this.#settleEnd(previous);
      } else if (this.#options.orphanedChat === "end" || isOver(previous.state)) {
        await this.#giveUp(previous, orphan);
      } else {
        let outcome: ResumeOutcome | "failed";
        try {
          outcome = await this.#resume(previous, { showEndedAway: requeued });
        } catch (error) {
          outcome = isOver(previous.state) ? "ended" : "failed";
          if (outcome === "failed") {
            this.#warn(`could not resume the reloaded chat (${errorText(error)}); ending it`);
            await this.#giveUp(previous, orphan, errorText(error));
          }
        }
        // Live again, or ended by the agent meanwhile (the host was told): no new conversation.
        if (outcome === "live" || outcome === "ended") return;
      }
    } else if (this.#options.orphanedChat !== "end" && await this.#adopt()) {
      return;
    }
    if (requeued) {
      // The chat the user waited for ended (or is gone) meanwhile: say so, start nothing new.
      this.#host.agentEndedChat();
      return;
    }
    this.#connection.stopTimers();
    this.#connection.setStatus("idle");
    const item = connectItem(connectMessage);
    const historyKey = options.agentAppInfo?.sessionHistoryKey ??
      item?.transfer_info?.session_history_key;
    const context = await this.#context(item, historyKey);
    const id = newId();
    await this.#hold(id);
    const log = this.#log = SessionLog.create(this.#store, id, this.#logOptions());
    const { now, retentionMs, abandonedMs, title, sessionHistoryAttribute } = this.#options;
    this.#pointer.write(log.id);
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
    sweepLogs(this.#store, { now: now(), retentionMs, abandonedMs, keep: log.id }).then(
      (removed) => removed.forEach((id) => dropOutbox(this.#outbox, id)),
      () => {},
    );
    try {
      await this.#open(log);
    } catch (error) {
      const message = errorText(error);
      if (this.#log === log) {
        await log.append({ type: "error_recorded", data: { where: "startChat", message } });
        await this.#giveUp(log, message, message);
      }
      this.#host.setErrorStatus({
        type: 1,
        messageToUser: "We could not connect you to an agent. Please try again.",
        logInfo: message,
      });
      throw error instanceof Error ? error : new Error(message);
    }
    if (this.#current(log)) this.#spawnSendPending(log);
  }

  async #context(item: GenericItem | undefined, historyKey: unknown): Promise<string> {
    const lines = [this.#options.transferMessage];
    const request = item?.message_to_human_agent;
    const summary = item?.transfer_info?.summary_message_to_agent;
    if (request) lines.push(`Customer's request: ${request}`);
    if (summary) lines.push(`Summary: ${summary}`);
    if (historyKey) {
      lines.push(
        "The conversation with the assistant is in the Watson Assistant Chat History card.",
      );
    }
    if (this.#options.conversationSummary) {
      try {
        const transcript = await this.#options.conversationSummary();
        if (transcript) lines.push(`Conversation with the assistant:\n${transcript}`);
      } catch (error) {
        this.#warn(`conversationSummary() failed (${errorText(error)})`);
      }
    }
    return lines.join("\n");
  }

  /**
   * Creates the conversation if needed, opens it with the context message (once: a request whose
   * answer was lost is looked for on Kustomer first), attaches the key, announces file uploads and
   * starts the heartbeat. Stops when the chat ended meanwhile.
   */
  async #open(log: SessionLog, options: { connected?: boolean } = {}): Promise<void> {
    if (!options.connected) await this.#wait(this.#connection.connect());
    if (this.#log !== log || log.state.status === "ended") return;
    if (!log.state.conversationId) {
      // A request before a reload may have made a draft: look for it first.
      const conversations = log.state.conversationRequestedAt === undefined
        ? []
        : await this.#conversations();
      // Created, or the start fails; ended while Kustomer created it: ended there too.
      const brand = this.#options.init?.brandId;
      await this.#decided(log, createConversation(log.state, conversations, brand))
        .catch((error) => {
          if (!log.state.conversationId) throw error;
          this.#endFailed(error);
        });
      const { conversationId, status } = log.state;
      if (this.#pointer.read() === log.id) this.#pointer.write(log.id, conversationId);
      if ((status as string) === "ended") return this.#finish(log);
    }
    if (!this.#current(log)) return;
    const opening = !log.state.opened;
    if (opening) {
      // A request before a reload may have sent it: look for it first.
      const messages = log.state.openingRequested ? await this.#messagesOf(log) : [];
      if (!this.#current(log)) return;
      await this.#decided(log, sendOpening(log.state, messages));
    }
    if (!this.#current(log)) return;
    await this.#decided(log, attachKey(log.state));
    if (!this.#current(log)) return;
    if (this.#options.allowFileUploads !== false) {
      this.#host.updateCapabilities({
        allowFileUploads: true,
        allowMultipleFileUploads: true,
        allowedFileUploadTypes: ALLOWED_FILE_TYPES,
      });
    }
    if (opening && log.state.status === "waiting") {
      const online = parseAvailability(await this.#wait(this.#connection.availability()));
      this.#updateQueue({
        message: online === false
          ? "No agents are online right now. An agent will answer when one is available."
          : this.#options.waitingMessage,
      });
    }
    this.#scheduleHeartbeat();
  }

  // --- resuming ------------------------------------------------------------------------------

  /**
   * Resumes a chat (not ended, not idle) from its log. A conversation ended while the page was away
   * is closed here (its last agent messages shown when `showEndedAway`, pending messages failed).
   */
  async #resume(log: SessionLog, options: { showEndedAway: boolean }): Promise<ResumeOutcome> {
    this.#connection.stopTimers();
    this.#connection.setStatus("idle");
    this.#log = log;
    await this.#fromOutbox(log);
    const hadConversation = !!log.state.conversationId;
    if (hadConversation) this.#unconfirmed = log;
    await this.#wait(this.#connection.connect());
    if (!this.#current(log)) return "ended";
    if (hadConversation && await this.#endedRemotely(log)) {
      if (!this.#current(log)) return "ended";
      const messages = await this.#lastMessagesOf(log);
      if (!this.#current(log)) return "ended";
      const failures = await this.#decided(
        log,
        agentEnded(log.state, messages ?? [], {
          show: options.showEndedAway,
          tellHost: false,
          reason: "ended while the page was away",
        }),
      );
      if (!messages && options.showEndedAway) this.#lastWordsLost(log);
      await this.#finish(log);
      // Failures shown before the host hears the outcome: Carbon drops them once its chat ended.
      await this.#wait(failures.done);
      return "ended_away";
    }
    // The reload may have come before the conversation was created or opened: finish that first.
    await this.#open(log, { connected: true });
    if (!this.#current(log)) return "ended";
    if (hadConversation) await this.#sync(log);
    else this.#spawnSendPending(log);
    return this.#current(log) && isLive(log.state) ? "live" : "ended";
  }

  // --- user messages -------------------------------------------------------------------------

  /** Queues sending the pending user messages, as an input of its own. */
  #spawnSendPending(log: SessionLog): void {
    this.#post(() => this.#sendPending(log)).catch((error) =>
      this.#warn(`could not send queued messages (${errorText(error)})`)
    );
  }

  /** Sends queued user messages, in order, each once. */
  async #sendPending(log: SessionLog): Promise<void> {
    if (!log.state.opened || this.#unconfirmed === log) return;
    for (const { id } of log.state.pending) {
      if (!this.#current(log)) return;
      await this.#deliver(log, id);
    }
  }

  /** Tells the host a user message (and its files) could not go. */
  #failed(id: string, reason: string, files: readonly FileUpload[] = []): Promise<void> {
    for (const f of files) this.#host.setFileUploadStatus(f.id, true, reason);
    return this.#host.setErrorStatus({ type: 3, messageID: id, logInfo: reason });
  }

  /** Settles the caller waiting for user message `id`. */
  #settle(id: string, error?: unknown): void {
    const waiter = this.#waiters.get(id);
    if (!waiter) return;
    this.#waiters.delete(id);
    if (error === undefined) waiter.resolve();
    else waiter.reject(error);
  }

  /**
   * Sends one pending user message (see {@linkcode deliverMessage}, or `decide`), unless it is going
   * already.
   */
  async #deliver(log: SessionLog, id: string, decide = deliverMessage): Promise<void> {
    if (this.#sending.has(id)) return;
    this.#sending.add(id);
    try {
      await this.#decided(log, decide(log.state, id, this.#files.get(id)));
    } finally {
      this.#files.delete(id);
      this.#sending.delete(id);
      // Only once the log has it: with writes failing, the next page takes it from the outbox.
      if (!log.unsaved) dropOutbox(this.#outbox, log.id, id);
    }
  }

  /** Whether the outbox said it could not keep a message (it says so once). */
  #outboxFailed = false;

  /**
   * Sends a user message (and files) to the agent; rejects when it could not be delivered. The
   * message is kept in the outbox first, before anything asynchronous (the entry calls this in the
   * task the host called it in), so a page gone before the log's write does not lose it; it leaves
   * the outbox once the log has it, or when it is refused.
   */
  async sendMessageToAgent(
    message: MessageRequest,
    messageID: string,
    additionalData: { filesToUpload?: FileUpload[] } = {},
  ): Promise<void> {
    const escalationId = this.#pointer.read();
    let settlement: Settlement | undefined;
    try {
      checkSendMessage(message, messageID, additionalData);
      const text = message.input.text ?? "";
      const id = message.id || messageID;
      const uploads = additionalData?.filesToUpload ?? [];
      try {
        if (escalationId) {
          keepOutbox(this.#outbox, {
            escalationId,
            id,
            text,
            fileNames: uploads.map((f) => f.file.name),
            at: this.#options.now(),
          });
        }
      } catch (error) {
        if (!this.#outboxFailed) this.#warn(`could not keep the message (${errorText(error)})`);
        this.#outboxFailed = true;
      }
      settlement = await this.#post(() => this.#queueMessage(id, text, uploads));
    } catch (error) {
      const id = message?.id || messageID;
      if (escalationId && typeof id === "string") dropOutbox(this.#outbox, escalationId, id);
      throw error;
    }
    await settlement?.done;
  }

  async #queueMessage(
    id: string,
    text: string,
    uploads: FileUpload[],
  ): Promise<Settlement | undefined> {
    const log = this.#log ?? (await this.#loadPersisted());
    if (!log || isOver(log.state)) {
      throw new Error(
        `Cannot send the message: ${
          log?.state.status === "ended" ? "the chat has ended" : "no chat is active"
        }`,
      );
    }
    if (!text && !uploads.length) {
      dropOutbox(this.#outbox, log.id, id);
      return;
    }
    if (uploads.length && this.#options.allowFileUploads === false) {
      throw new TypeError("Cannot send files: allowFileUploads is false");
    }
    const problems = fileProblems(uploads).filter(Boolean).join("; ");
    if (problems) {
      this.#failed(id, problems, uploads);
      throw new RangeError(`Cannot send the files: ${problems}`);
    }
    if (uploads.length) this.#files.set(id, uploads);
    const done = new Promise<void>((resolve, reject) => this.#waiters.set(id, { resolve, reject }));
    const stored = await this.#durably(log, {
      type: "user_message_queued",
      data: {
        id,
        text,
        files: uploads.map(({ file: { name, size, type } }) => ({ name, size, type })),
      },
    });
    // In the log for good: the outbox can let it go.
    if (stored) dropOutbox(this.#outbox, log.id, id);
    // Sent now if the chat is open, else as soon as it opens (the start sends what is pending).
    if (log.state.opened) this.#spawnSendPending(log);
    return { done };
  }

  /** Appends `events`; resolves whether they are in storage now (a failed write is retried later). */
  async #durably(log: SessionLog, ...events: Parameters<SessionLog["append"]>): Promise<boolean> {
    const written = log.append(...events);
    const seq = log.seq;
    await written;
    return log.seq - log.unsaved >= seq;
  }

  /**
   * Puts back in the chat the user messages the outbox holds that the log lacks (the page went away
   * before their write landed), as queued messages: they are then sent once by the pending path, or
   * fail visibly. In a chat that ended they are recorded failed: handed over as it ended, they never
   * went (the chat's history shows them so). An entry the log already has (its write landed, the
   * page went before the entry went) is only let go.
   */
  async #fromOutbox(log: SessionLog): Promise<void> {
    const entries = readOutbox(this.#outbox, log.id, this.#warn);
    if (!entries.length) return;
    const known = new Set([...await log.readTranscript(), ...log.state.pending].map((m) => m.id));
    const missing = entries.filter((entry) => !known.has(entry.id));
    if (missing.length) {
      const ended = log.state.status === "ended";
      this.#warn(
        ended
          ? `${missing.length} user message(s) were not sent: ${ENDED_BEFORE_SENT}`
          : `took ${missing.length} user message(s) the log lacked from Web Storage`,
      );
      const stored = await this.#durably(
        log,
        ...missing.flatMap(({ id, text = "", fileNames = [] }): EventInput[] => [
          {
            type: "user_message_queued",
            data: { id, text, files: fileNames.map((name) => ({ name, size: 0, type: "" })) },
          },
          ...(ended
            ? [{ type: "user_message_failed", data: { id, reason: ENDED_BEFORE_SENT } } as const]
            : []),
        ]),
      );
      if (!stored) return;
    }
    for (const { id } of entries) dropOutbox(this.#outbox, log.id, id);
  }

  // --- ending, reading, typing ---------------------------------------------------------------

  /** Ends the chat: ends the Kustomer conversation (unless the agent did) and clears the saved state. */
  endChat(info: EndChatInfo = {}): Promise<void> {
    return this.#post(async () => {
      const log = this.#log ?? (await this.#loadPersisted());
      if (!log || log.state.status === "idle" || !(await this.#hold(log.id))) {
        if (this.#pointer.read()) this.#pointer.clear();
        return;
      }
      if (log.state.status === "ended") return this.#settleEnd(log);
      const byAgent = info?.endedByHumanAgent === true || info?.endedByAgent === true;
      this.#log = log;
      try {
        await this.#end(log, byAgent ? "agent" : "user");
      } finally {
        await this.#finish(log);
      }
    });
  }

  /** Tells the agent whether the user is typing (the desk checked `isTyping`). */
  async userTyping(isTyping: boolean): Promise<void> {
    const conversationId = this.#log?.state.conversationId;
    if (conversationId && isLive(this.#log?.state)) {
      await this.#connection.signal(
        "sendTypingActivity",
        { conversationId, typing: isTyping },
        this.#warn,
      );
    }
  }

  /** Tells Kustomer the user has read the agent's messages. */
  userReadMessages(): Promise<void> {
    return this.#post(async () => {
      const log = this.#log;
      const conversationId = log?.state.conversationId;
      if (!log || !conversationId) return;
      const unread = [...log.state.unread];
      if (
        unread.length &&
        await this.#wait(
          this.#connection.signal("markRead", { conversationId, messageIds: unread }, this.#warn),
        )
      ) {
        await log.append({ type: "messages_read", data: { messageId: unread.at(-1)! } });
      }
    });
  }

  /**
   * Whether agents are online: true, false, or null when Kustomer does not say. True for the
   * hand-off the desk showed again to a user a reload left waiting.
   */
  async areAnyAgentsOnline(connectMessage?: MessageResponse): Promise<boolean | null> {
    const item = connectItem(connectMessage) as Record<string, unknown> | undefined;
    if (item?.[REQUEUE_KEY] === true) return true;
    try {
      return parseAvailability(await this.#connection.availability());
    } catch (error) {
      this.#warn(`could not check agent availability (${errorText(error)})`);
      return null;
    }
  }

  /**
   * After a page reload: rebuilds the chat from its log, logs in again, catches up on missed
   * messages, sends unconfirmed ones, and resolves true; false when there is no chat to resume.
   * `loaded`: the read of escalation `readId`'s log that the desk began while the engine loaded,
   * taken over if that is this tab's escalation.
   */
  reconnect(readId?: string, loaded?: Promise<LoadedLog>): Promise<boolean> {
    return this.#post(async () => {
      // A fresh page asks for the chat's lock while it reads the log (both wait on the browser).
      const id = this.#pointer.read();
      const holding = id && !this.#log && !this.#lock ? this.#hold(id) : undefined;
      holding?.catch(() => {/* awaited below */});
      const log = await this.#loadPersisted(readId === id ? loaded : undefined);
      if (!log) {
        if (holding && await holding) this.#letGo(id);
        if (this.#pointer.read()) this.#pointer.clear();
        return false;
      }
      if (!(await (holding && log.id === id ? holding : this.#hold(log.id)))) {
        // Another live tab (a duplicate of this one) has the chat: leave it to that tab.
        this.#pointer.clear();
        return false;
      }
      if (isOver(log.state)) {
        await this.#settleEnd(log);
        return false;
      }
      try {
        return await this.#resume(log, { showEndedAway: true }) === "live";
      } catch (error) {
        if (error instanceof TypeError) throw error;
        if (!this.#current(log)) return false;
        this.#warn(`could not reach Kustomer to resume the chat (${errorText(error)}); retrying`);
        this.#connection.setStatus("lost");
        this.#scheduleRetry();
        return true;
      }
    });
  }

  /**
   * A chat from before the reload that nobody took up (no reconnect, no new request): end it
   * rather than leave an agent talking to no one (its last user messages sent first); and end in
   * Kustomer a chat whose end a reload interrupted.
   */
  endOrphan(id: string): Promise<void> {
    return this.#post(async () => {
      if (this.#log || this.#starting || this.#pointer.read() !== id) return;
      const log = await this.#loadPersisted();
      if (!log || this.#log || this.#starting || !(await this.#hold(log.id))) return;
      if (log.state.status === "ended") return this.#settleEnd(log);
      if (isOver(log.state)) return;
      this.#warn(
        `ended the chat left waiting by a page reload: no reconnect and no new request within ${this.#options.orphanTimeoutMs} ms`,
      );
      await this.#giveUp(log, "left open by a page reload");
    });
  }

  // --- the host's instance (Carbon AI Chat's events, registered by the desk) -----------------

  #reading: Promise<void> = Promise.resolve();

  /**
   * Marks the agent's messages read, one marking at a time (so each message is marked once); given
   * the host's `instance`, only when the user can see the chat.
   */
  markRead(instance?: HostInstance): Promise<void> {
    if (instance && !chatOpen(instance)) return Promise.resolve();
    return this.#reading = this.#reading.then(() => this.userReadMessages()).catch((error) =>
      this.#warn(`could not mark messages read (${errorText(error)})`)
    );
  }

  /** Tells the host which picked files cannot go to Kustomer, and why. */
  filesSelected(uploads: FileUpload[]): void {
    fileProblems(uploads).forEach((problem, i) => {
      if (problem) this.#host.setFileUploadStatus(uploads[i].id, true, problem);
    });
  }

  /** Sends a clicked quick reply to the agent (as the text the user saw). */
  async sendQuickReply(reply: { label: string; value: string }): Promise<void> {
    const id = `quick-reply-${globalThis.crypto?.randomUUID?.() ?? Date.now()}`;
    try {
      await this.sendMessageToAgent({ id, input: { text: reply.label || reply.value } }, id);
    } catch (error) {
      this.#warn(`could not send the quick reply to the agent (${errorText(error)})`);
    }
  }

  /**
   * After a reload while still waiting for an agent, the host knows of no chat: show the hand-off
   * again (a `connect_to_agent` message the desk marks as its own), so that the host starts the
   * chat and the desk resumes the waiting conversation.
   */
  async requeue(instance: HostInstance): Promise<void> {
    const messaging = instance.messaging;
    if (this.state || hostHasChat(instance) || typeof messaging?.addMessage !== "function") return;
    const state = await this.savedState();
    if (!state || state.agent || (state.status !== "starting" && state.status !== "waiting")) {
      return;
    }
    await messaging.addMessage({
      output: {
        generic: [{
          response_type: "connect_to_agent",
          message_to_human_agent: "",
          agent_available: { message: "You are still waiting for an agent." },
          [REQUEUE_KEY]: true,
        }],
      },
    });
  }

  // --- the closed tab ------------------------------------------------------------------------

  /**
   * Takes up a chat of this browser whose tab was closed (open, and no live page holds its lock),
   * newest first: the transcript back, missed agent messages and pending user messages once each.
   * True when one goes on in this page.
   */
  async #adopt(): Promise<boolean> {
    const locks = this.#locks;
    if (!locks) return false;
    const heads = await this.#store.heads().catch(() => []);
    for (const head of openEscalations(heads, { now: this.#options.now() })) {
      if (!(await this.#hold(head.id))) continue;
      const log = await SessionLog.open(this.#store, head.id, this.#logOptions()).catch(() =>
        undefined
      );
      if (!log || !isLive(log.state)) {
        this.#letGo(head.id);
        continue;
      }
      this.#log = log;
      this.#pointer.write(log.id, log.state.conversationId);
      await this.#fromOutbox(log);
      await this.#showChat(log);
      let outcome: ResumeOutcome | "failed";
      try {
        outcome = await this.#resume(log, { showEndedAway: true });
      } catch (error) {
        outcome = isOver(log.state) ? "ended" : "failed";
        if (outcome === "failed") {
          this.#warn(`could not take up the chat of a closed tab (${errorText(error)})`);
          await this.#giveUp(log, "left open by a closed tab", errorText(error));
        }
      }
      // Back in the chat: say with whom, after the transcript and what was missed.
      const agent = log.state.agent;
      if (outcome === "live" && agent) this.#host.sendMessageToUser(backWith(agent), agent.id);
      if (outcome === "live" || outcome === "ended") return true;
    }
    return false;
  }

  /**
   * Shows the chat a page takes up from a closed tab, as its log has it. A host that can insert
   * history (Carbon AI Chat's `messaging.insertHistory`) gets the whole chat, the user's own
   * messages too, in order and once: what of it the page shows already (its own history, loaded
   * with the page) is removed first, since Carbon puts history above every message shown; the
   * current agent joins. Any other host (watsonx web chat) is shown the agent's messages again,
   * as they came; it has no way to show the user's.
   */
  async #showChat(log: SessionLog): Promise<void> {
    const lines = withPending(await log.readTranscript(), log.state);
    const messaging = this.#instance?.messaging;
    const agent = log.state.agent;
    if (typeof messaging?.insertHistory !== "function") {
      const shown = lines.flatMap((line) => line.message ? [line.message] : []);
      await this.#decided(log, {
        events: [],
        effects: agentSteps(undefined, shown).filter((step) =>
          step.call !== "beginTransferToAnotherAgent"
        ),
      });
      return;
    }
    // Carbon's insertHistory reads the messages shown before it awaits and writes them back after:
    // one drawn meanwhile would vanish. The desk's callbacks are done before, and wait until after.
    if (agent) await this.#host.agentJoined(profile(agent));
    try {
      await messaging.removeMessages?.(lines.map((line) => line.id));
      await messaging.insertHistory(toHistoryItems(lines));
    } catch (error) {
      this.#warn(`could not show the earlier messages of the chat (${errorText(error)})`);
    }
  }

  /**
   * Ends in Kustomer the chats of this browser that no live page holds and nobody took up within
   * `orphanTimeoutMs` (their last user messages sent first, see {@linkcode DeskEngine.#sendLast}),
   * and finishes the ends that a closed tab asked for but never saw confirmed (one page does each:
   * the one that gets the lock). Resolves with the ids of the chats whose end Kustomer has still
   * not confirmed (to try again later).
   */
  endUnheld(): Promise<string[]> {
    return this.#post(async () => {
      const unconfirmed: string[] = [];
      const locks = this.#locks;
      if (!locks) return unconfirmed;
      const { now, orphanTimeoutMs, retentionMs } = this.#options;
      const heads = await this.#store.heads();
      const mine = [this.#log?.id, this.#pointer.read()];
      const candidates = [
        ...openEscalations(heads, { now: now(), idleMs: orphanTimeoutMs, except: this.#log?.id }),
        ...heads.filter((h) => h.endedAt !== undefined && !mine.includes(h.id)),
      ];
      for (const head of candidates) {
        const release = await tryHold(locks, head.id);
        if (!release) continue;
        try {
          const log = await SessionLog.open(this.#store, head.id, this.#logOptions());
          if (!log) continue;
          if (log.state.status === "ended") {
            // Ended by its tab, which went away before Kustomer confirmed the end.
            if (!log.state.endRequested) continue;
            this.#warn("finished ending a chat of a closed tab in Kustomer (it was not confirmed)");
          } else {
            if (isOver(log.state)) continue;
            this.#warn(
              `ended a chat left open by a closed tab: nobody took it up within ${orphanTimeoutMs} ms`,
            );
          }
          await this.#sendLast(log);
          const reason = "left open by a closed tab";
          await this.#decided(log, chatEnded(log.state, "system", { reason })).catch(
            this.#endFailed,
          );
          dropOutbox(this.#outbox, log.id);
          if (log.state.endRequested) unconfirmed.push(log.id);
          await (retentionMs > 0 || log.state.endRequested ? log.compact() : log.remove());
        } catch (error) {
          this.#warn(`could not end a chat left open by a closed tab (${errorText(error)})`);
        } finally {
          release();
        }
      }
      return unconfirmed;
    });
  }
}
