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
import type { DeskContext, DeskEngine, SafeHost } from "./engine.ts";
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
import { fileProblems } from "./messages.ts";
import { checkHostState, checkSendMessage, checkStartChat, checkUploads } from "./host_checks.ts";
import {
  badNumber,
  type KustomerServiceDeskOptions,
  resolveOptions,
  resolveStore,
  savedId,
} from "./options.ts";

/** The host callbacks a host may leave out; calling a missing other one is a warning. */
const OPTIONAL = ["setFileUploadStatus", "updateCapabilities", "updatePersistedState"];

/** Loads the engine (a separate chunk in the browser bundle). */
const loadEngine = (): Promise<typeof import("./engine.ts")> => import("./engine.ts");

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

  /** Creates a desk for the host; cheap: nothing is loaded or opened until it is needed. */
  constructor(parameters: ServiceDeskFactoryParameters, options: KustomerServiceDeskOptions = {}) {
    const callback = parameters?.callback as unknown as Record<string, (...a: unknown[]) => void>;
    if (typeof parameters !== "object" || !callback) {
      throw new TypeError("Service desk parameters must have the chat host's callback");
    }
    const o = resolveOptions(options);
    const warn = (message: string) => o.logger.warn(`Kustomer service desk: ${message}`);
    const guard = (what: string, fn: () => unknown) => {
      const fail = (error: unknown) => warn(`the host's ${what}() failed (${errorText(error)})`);
      try {
        Promise.resolve(fn()).catch(fail);
      } catch (error) {
        fail(error);
      }
    };
    const persisted = (parameters.persistedState as { escalationId?: unknown })?.escalationId;
    this.#c = {
      o,
      warn,
      guard,
      store: resolveStore(o.store, o.logger),
      h: new Proxy({}, {
        get: (_, name: string) => (...args: unknown[]) => {
          if (callback[name] || !OPTIONAL.includes(name)) {
            guard(name, () => callback[name](...args));
          }
        },
      }) as SafeHost,
      persistedId: typeof persisted === "string"
        ? persisted
        : typeof callback.updatePersistedState === "function"
        ? undefined
        : savedId(),
      updateQueue: (info) => this.updateQueue(info),
    };
    const orphan = this.#c.persistedId;
    if (orphan && o.orphanTimeoutMs) {
      o.scheduler.setTimeout(
        () =>
          this.#run((engine) => engine.endOrphan(orphan)).catch((error) =>
            warn(`could not end the chat left waiting by a reload (${errorText(error)})`)
          ),
        o.orphanTimeoutMs,
      );
    }
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

  async #run<T>(fn: (engine: DeskEngine) => Promise<T>): Promise<T> {
    return fn(await this.#load());
  }

  /** The integration's name. */
  getName(): string {
    return this.#c.o.name;
  }

  /** The state replayed from the current escalation's log (`undefined` before any). */
  get state(): DeskState | undefined {
    return this.#loaded?.state;
  }

  /** The agent chat so far (for the host's transcript after a reload). */
  get transcript(): readonly TranscriptEntry[] {
    return this.#loaded?.transcript ?? [];
  }

  /**
   * Starts a chat: creates the Kustomer conversation, sends the agent the context (and the
   * session-history key), and resolves once the chat is requested. A chat of this tab left open by a
   * reload is resumed (or ended, per `orphanedChat`) instead of being orphaned.
   */
  async startChat(connectMessage: MessageResponse, options: StartChatOptions = {}): Promise<void> {
    checkStartChat(connectMessage, options);
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

  /** Sends a user message (and files) to the agent; rejects when it could not be delivered. */
  async sendMessageToAgent(
    message: MessageRequest,
    messageID: string,
    additionalData: { filesToUpload?: FileUpload[] } = {},
  ): Promise<void> {
    checkSendMessage(message, messageID, additionalData);
    return await this.#run((engine) =>
      engine.sendMessageToAgent(message, messageID, additionalData)
    );
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

  /** Whether agents are online: true, false, or null when Kustomer does not say. */
  async areAnyAgentsOnline(_connectMessage?: MessageResponse): Promise<boolean | null> {
    try {
      return await this.#run((engine) => engine.areAnyAgentsOnline());
    } catch (error) {
      this.#c.warn(`could not check agent availability (${errorText(error)})`);
      return null;
    }
  }

  /** Checks picked files against Kustomer's limits and tells the host which cannot go. */
  filesSelectedForUpload(uploads: FileUpload[]): void {
    checkUploads(uploads, "filesSelectedForUpload(): uploads");
    fileProblems(uploads).forEach((problem, i) => {
      if (problem) this.#c.h.setFileUploadStatus(uploads[i].id, true, problem);
    });
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
  screenShareStop(): Promise<void> {
    return Promise.resolve();
  }

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
    const c = this.#c;
    if (!c.persistedId) return false;
    try {
      return await (await this.#load()).reconnect();
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
        }, retry).catch((e) => c.warn(`could not go on with the chat (${errorText(e)})`));
      }, c.o.retryIntervalMs);
    retry();
  }
}

const engineError = (error: unknown): boolean =>
  error instanceof KustomerError && error.method === "engine";
