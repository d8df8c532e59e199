/**
 * The Kustomer service desk: web chat's ServiceDesk on one side, the Kustomer Core SDK on the other,
 * and an event log in between that lets a chat survive a page reload.
 *
 * This module is what a page loads up front: the checks, the host's callbacks, and the methods a
 * host calls synchronously. The engine (session log, Kustomer calls, reload recovery) is loaded on
 * first use — an escalation, a reconnect after a reload, an availability check — so a visitor who
 * never asks for an agent never downloads it.
 *
 * @module
 */

import type { DeskState, TranscriptEntry } from "./events.ts";
import type { DeskContext, DeskEngine } from "./engine.ts";
import { type HostInstance, readPointer, serialHost } from "./host.ts";
import type {
  AgentAvailability,
  EndChatInfo,
  FileUpload,
  MessageRequest,
  MessageResponse,
  ServiceDesk,
  ServiceDeskFactoryParameters,
  ServiceDeskHostState,
  StartChatOptions,
} from "./host_types.ts";
import { errorText, KustomerError } from "./common.ts";
import { loadEngine } from "./load_engine.ts";
import { quickReplyOf } from "./messages.ts";
import { checkHostState, checkUploads } from "./host_checks.ts";
import {
  badNumber,
  type DeskLocks,
  type KustomerServiceDeskOptions,
  lockName,
  resolveLocks,
  resolveOptions,
  resolveStore,
  savedId,
} from "./options.ts";

/**
 * How long `areAnyAgentsOnline()` may take before it answers `null` (unknown): Carbon waits 5 s and
 * counts a timeout as "no agents online".
 */
export const AVAILABILITY_WINDOW_MS = 4_000;

/**
 * The Kustomer service desk. Create it through {@linkcode kustomerServiceDeskFactory}; the host
 * calls its methods.
 */
export class KustomerServiceDesk implements ServiceDesk {
  #c: DeskContext;
  #engine?: Promise<DeskEngine>;
  #loaded?: DeskEngine;
  /** What to do once the engine loads, after a load failed (resume or end the chat). */
  #afterLoad?: (engine: DeskEngine) => Promise<void>;
  #instance?: HostInstance;
  /** The host called `reconnect()`: it has the chat, nothing to put back. */
  #reconnecting = false;

  /** Creates a desk for the host; cheap: nothing is loaded or opened until it is needed. */
  constructor(parameters: ServiceDeskFactoryParameters, options: KustomerServiceDeskOptions = {}) {
    const callback = parameters?.callback;
    if (typeof parameters !== "object" || !callback) {
      throw new TypeError("Service desk parameters must have the chat host's callback");
    }
    const o = resolveOptions(options);
    const warn = (message: string) => o.logger.warn(`Kustomer service desk: ${message}`);
    const pointer = readPointer(parameters.persistedState);
    this.#c = {
      o,
      warn,
      store: resolveStore(o.store, o.logger, o.durability),
      h: serialHost(callback, warn),
      persistedId: pointer
        ? pointer.escalationId
        : typeof callback.updatePersistedState === "function"
        ? undefined
        : savedId(),
      persistedConversationId: pointer?.conversationId,
      updateQueue: (info) => this.updateQueue(info),
    };
    this.#instance = parameters.instance as HostInstance | undefined;
    this.#listen();
    const orphan = this.#c.persistedId;
    if (orphan && o.orphanTimeoutMs) {
      o.scheduler.setTimeout(
        () =>
          this.#run((engine) => engine.endOrphan(orphan)).catch(
            this.#couldNot("end the chat left waiting by a reload"),
          ),
        o.orphanTimeoutMs,
      );
    }
    const locks = resolveLocks(o.locks);
    if (locks && o.orphanTimeoutMs) {
      // Now and then, end the chats of closed tabs that nobody took up (the engine loads only then).
      const sweep = (): unknown =>
        o.scheduler.setTimeout(() => {
          this.#endUnheld(locks).catch(this.#couldNot("end the chats of closed tabs"))
            .finally(sweep);
        }, o.orphanTimeoutMs);
      sweep();
    }
  }

  /** A catch handler: warns that the desk could not do `what`, and why. */
  #couldNot(what: string): (error: unknown) => void {
    return (error) => this.#c.warn(`could not ${what} (${errorText(error)})`);
  }

  /** Ended logs of other tabs this page has looked at: each once, unless its end is still due. */
  #checkedEnds = new Set<string>();

  /**
   * Ends the chats no live page holds and nobody took up within `orphanTimeoutMs`, and finishes
   * the ends closed tabs asked for, if any (the engine loads only then).
   */
  async #endUnheld(locks: DeskLocks): Promise<void> {
    const { o, store, persistedId } = this.#c;
    const heads = await store.heads();
    const held = new Set(((await locks.query?.())?.held ?? []).map((lock) => lock.name));
    const now = o.now();
    let due = false;
    for (const h of heads) {
      if (h.id === persistedId || held.has(lockName(h.id))) continue;
      if (h.endedAt === undefined) due ||= now - h.updatedAt >= o.orphanTimeoutMs;
      else if (!this.#checkedEnds.has(h.id)) {
        this.#checkedEnds.add(h.id);
        due = true;
      }
    }
    if (!due) return;
    // An end Kustomer did not confirm (it did not answer) is tried again at the next sweep.
    for (const id of await this.#run((engine) => engine.endUnheld())) this.#checkedEnds.delete(id);
  }

  /**
   * What the host's instance lets the desk do itself (Carbon AI Chat's `instance.on`): mark agent
   * messages read when they are shown in an open chat (Carbon never calls `userReadMessages`),
   * send a clicked quick reply to the agent, and put a user whom a reload left waiting in the queue
   * back in it (Carbon calls `reconnect` only once an agent had joined). Only the registrations are
   * here; the work is the engine's (there is no chat without it).
   */
  #listen(): void {
    const instance = this.#instance;
    if (typeof instance?.on !== "function") return;
    const on = (type: string, handler: (event: Record<string, unknown>) => unknown) =>
      instance.on!({
        type,
        // Never awaited by the host: its events run one at a time, and our work may call it back.
        handler: (event) => {
          Promise.resolve().then(() => handler((event ?? {}) as Record<string, unknown>)).catch(
            this.#couldNot(`handle the host's ${type} event`),
          );
          return Promise.resolve();
        },
      });
    on("human_agent:receive", () => this.#loaded?.markRead(instance));
    on("view:change", (event) => {
      if ((event.newViewState as { mainWindow?: boolean })?.mainWindow) {
        return this.#loaded?.markRead();
      }
    });
    on("messageItemCustom", (event) => {
      const reply = quickReplyOf(event.messageItem);
      if (reply) return this.#run((engine) => engine.sendQuickReply(reply));
    });
    on("chat:ready", () => {
      if (
        this.#c.persistedId && !this.#reconnecting && !this.#loaded?.state &&
        typeof instance.messaging?.addMessage === "function"
      ) {
        return this.#run((engine) => engine.requeue(instance));
      }
    });
    globalThis.document?.addEventListener?.(
      "visibilitychange",
      () => void this.#loaded?.markRead(instance),
    );
  }

  /** The engine, loaded once; a failed load is retried by the next call. */
  #load(): Promise<DeskEngine> {
    return this.#engine ??= loadEngine().then(
      ({ DeskEngine }) => this.#loaded = new DeskEngine(this.#c),
      (error) => {
        this.#engine = undefined;
        throw new KustomerError(
          "engine",
          "load",
          `could not load the desk's chat code (${errorText(error)})`,
          { cause: error },
        );
      },
    );
  }

  /** Runs `fn` with the engine: in this task when it is loaded, else once it is. */
  async #run<T>(fn: (engine: DeskEngine) => T | Promise<T>): Promise<T> {
    return fn(this.#loaded ?? await this.#load());
  }

  /** The integration's name. */
  getName(): string {
    return this.#c.o.name;
  }

  /** The state replayed from the current escalation's log (`undefined` before any). */
  get state(): DeskState | undefined {
    return this.#loaded?.state;
  }

  /**
   * The agent chat as this page recorded it; after a reload, the part since the log's last
   * snapshot (the whole chat comes from `loadChatHistory()`, read when asked).
   */
  get transcript(): readonly TranscriptEntry[] {
    return this.#loaded?.transcript ?? [];
  }

  /**
   * Starts a chat: creates the Kustomer conversation, sends the agent the context (and the
   * session-history key), and resolves once the chat is requested. A chat of this tab left open by a
   * reload is resumed (or ended, per `orphanedChat`) instead of being orphaned.
   */
  async startChat(connectMessage: MessageResponse, options: StartChatOptions = {}): Promise<void> {
    // The engine checks the arguments (a page that never starts a chat does not download checks).
    let engine: DeskEngine;
    try {
      engine = await this.#load();
    } catch (error) {
      this.#c.h.setErrorStatus({
        type: 1,
        messageToUser: "We could not connect you to an agent. Please try again.",
        logInfo: errorText(error),
      });
      throw error;
    }
    return engine.startChat(connectMessage, options);
  }

  /**
   * Sends a user message (and files) to the agent; rejects when it could not be delivered. Once the
   * engine is loaded (it is, in a live chat), it is called in this task and keeps the message in
   * the outbox before anything asynchronous.
   */
  sendMessageToAgent(
    message: MessageRequest,
    messageID: string,
    additionalData: { filesToUpload?: FileUpload[] } = {},
  ): Promise<void> {
    return this.#run((engine) => engine.sendMessageToAgent(message, messageID, additionalData));
  }

  /**
   * Ends the chat: ends the Kustomer conversation (unless the agent did) and clears the saved state.
   * If the engine cannot be loaded, rejects, and ends the chat as soon as it can be.
   */
  async endChat(info: EndChatInfo = {}): Promise<void> {
    if (!this.#loaded && !this.#c.persistedId) return; // no chat: nothing to end
    try {
      await this.#run((engine) => engine.endChat(info));
    } catch (error) {
      if (engineError(error)) this.#whenLoaded((engine) => engine.endChat(info));
      throw error;
    }
  }

  /** Tells the agent whether the user is typing. */
  async userTyping(isTyping: boolean): Promise<void> {
    if (typeof isTyping !== "boolean") throw new TypeError("userTyping() needs a boolean");
    await this.#loaded?.userTyping(isTyping);
  }

  /** Tells Kustomer the user has read the agent's messages. */
  async userReadMessages(): Promise<void> {
    await this.#loaded?.userReadMessages();
  }

  /**
   * Whether agents are online: true, false, or null when Kustomer does not say, or cannot say
   * within {@linkcode AVAILABILITY_WINDOW_MS} (the Core is still loading). True for the hand-off
   * the desk showed again to a user a reload left waiting.
   */
  areAnyAgentsOnline(connectMessage?: MessageResponse): Promise<boolean | null> {
    const { scheduler } = this.#c.o;
    return new Promise((resolve) => {
      const timer = scheduler.setTimeout(() => resolve(null), AVAILABILITY_WINDOW_MS);
      this.#run((engine) => engine.areAnyAgentsOnline(connectMessage)).catch(
        this.#couldNot("check agent availability"),
      ).then((online) => {
        scheduler.clearTimeout(timer);
        resolve(online ?? null);
      });
    });
  }

  /**
   * Checks picked files against Kustomer's limits and tells the host which cannot go (the limits
   * come with the engine, loaded by then: files are picked in a chat).
   */
  filesSelectedForUpload(uploads: FileUpload[]): void {
    checkUploads(uploads, "filesSelectedForUpload(): uploads");
    this.#run((engine) => engine.filesSelected(uploads)).catch(
      this.#couldNot("check the picked files"),
    );
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
    const availability: Record<string, unknown> = {};
    for (const key of ["positionInQueue", "estimatedWaitTime"] as const) {
      const v = info[key];
      if (v === undefined) continue;
      if (badNumber(v)) throw new RangeError(`${key} must be a finite number ≥ 0, got ${v}`);
      availability[key] = availability[key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())] = v;
    }
    if (info.message !== undefined) availability.message = String(info.message);
    this.#c.h.updateAgentAvailability(availability as AgentAvailability);
  }

  /** Kustomer has no screen sharing: nothing to stop. */
  async screenShareStop(): Promise<void> {}

  /** Old web chat's session details; the locale becomes Kustomer's language. */
  updateState(state: ServiceDeskHostState): void {
    checkHostState(state);
    this.#c.locale = state.locale;
  }

  /**
   * After a page reload: rebuilds the chat from its log, logs in again, catches up on missed
   * messages, sends unconfirmed ones, and resolves true; false when there is no chat to resume.
   * If the engine cannot be loaded (the network is down), the chat shows as disconnected and the
   * load is retried every `retryIntervalMs` until it works.
   */
  async reconnect(): Promise<boolean> {
    this.#reconnecting = true;
    const c = this.#c;
    const id = c.persistedId;
    if (!id) return false;
    // The log is read while the engine loads; the engine takes the read over.
    const loaded = c.store.load(id);
    loaded.catch(() => {/* the engine's to report */});
    try {
      return await (await this.#load()).reconnect(id, loaded);
    } catch (error) {
      if (!engineError(error)) throw error;
      this.#whenLoaded(async (engine) => {
        if (!await engine.reconnect()) c.h.agentEndedChat();
      });
      return true;
    }
  }

  /**
   * The engine could not be loaded: show DISCONNECTED, try again every `retryIntervalMs`, and once
   * it loads, clear the banner and run `then` (the latest wish wins: resume, or end).
   */
  #whenLoaded(then: (engine: DeskEngine) => Promise<void>): void {
    const c = this.#c;
    const waiting = this.#afterLoad;
    this.#afterLoad = then;
    if (waiting) return;
    c.warn(`could not load the desk's chat code; retrying every ${c.o.retryIntervalMs} ms`);
    c.h.setErrorStatus({ type: 2, isDisconnected: true });
    const retry = () =>
      c.o.scheduler.setTimeout(() => {
        this.#load().then((engine) => {
          const run = this.#afterLoad!;
          this.#afterLoad = undefined;
          c.h.setErrorStatus({ type: 2, isDisconnected: false });
          return run(engine);
        }, retry).catch(this.#couldNot("go on with the chat"));
      }, c.o.retryIntervalMs);
    retry();
  }
}

/** Whether an error is the engine failing to load. */
const engineError = (error: unknown): boolean =>
  error instanceof KustomerError && error.method === "engine";
