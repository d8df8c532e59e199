/**
 * The desk's connection to Kustomer: finding or loading the Core, `init` once, a login with a fresh
 * JWT, the listeners, per-call timeouts, and the retry and heartbeat timers, with one status.
 *
 * @module
 */

import { errorText, KustomerError } from "./common.ts";
import {
  findCore,
  initOnce,
  KustomerClient,
  type KustomerMethod,
  type KustomerSignal,
  type OptionsOf,
  type ResponseOf,
} from "./kustomer.ts";
import type { KustomerCore, KustomerListener } from "./kustomer_types.ts";
import type { ResolvedOptions } from "./options.ts";

/**
 * Where the connection stands: nothing yet, logging in, working, or calls no longer answered
 * (the chat shows DISCONNECTED and a retry is scheduled).
 */
export type ConnectionStatus = "idle" | "connecting" | "online" | "lost";

/** The named timers a connection keeps. */
export type ConnectionTimer = "retry" | "heartbeat";

/** What a {@linkcode Connection} needs from the engine. */
export interface ConnectionOptions {
  /** The desk's options (Core source, timeouts, scheduler, `getJwt`, init options). */
  readonly options: ResolvedOptions;
  /** The host's locale, Kustomer's language when the options give none. */
  readonly locale: () => string | undefined;
  /** The Kustomer events the engine listens to. */
  readonly listeners: Readonly<Record<string, KustomerListener>>;
  /** Told of each status change. */
  readonly onStatus: (status: ConnectionStatus, previous: ConnectionStatus) => void;
  /** Told when a call timed out (not for quiet calls). */
  readonly onTimeout: (error: KustomerError) => void;
}

/** The Kustomer Core, connected: the only way the engine reaches Kustomer. */
export class Connection {
  #options: ResolvedOptions;
  #locale: () => string | undefined;
  #listeners: Readonly<Record<string, KustomerListener>>;
  #onStatus: ConnectionOptions["onStatus"];
  #onTimeout: ConnectionOptions["onTimeout"];
  #client?: Promise<KustomerClient>;
  #subscribed?: KustomerCore;
  #status: ConnectionStatus = "idle";
  #timers = new Map<ConnectionTimer, unknown>();

  /** Creates the connection; nothing is loaded until the first call. */
  constructor(options: ConnectionOptions) {
    this.#options = options.options;
    this.#locale = options.locale;
    this.#listeners = options.listeners;
    this.#onStatus = options.onStatus;
    this.#onTimeout = options.onTimeout;
  }

  /** The status. */
  get status(): ConnectionStatus {
    return this.#status;
  }

  /** Whether the listeners are on the Core (a login happened on this page). */
  get listening(): boolean {
    return this.#subscribed !== undefined;
  }

  /** Moves to `status`, telling the engine when it changed. */
  setStatus(status: ConnectionStatus): void {
    const previous = this.#status;
    if (previous === status) return;
    this.#status = status;
    this.#onStatus(status, previous);
  }

  /** The Core, found or loaded, with `init` done once; a failure is retried by the next call. */
  client(): Promise<KustomerClient> {
    if (!this.#client) {
      const options = this.#options;
      const pending = this.#client = (async () => {
        const client = new KustomerClient(
          await findCore(options),
          options.timeoutMs,
          options.scheduler,
        );
        const init = { ...options.init };
        const locale = this.#locale();
        if (!init.lang && locale) init.lang = locale;
        await initOnce(client, init);
        return client;
      })();
      pending.catch(() => {
        if (this.#client === pending) this.#client = undefined;
      });
    }
    return this.#client;
  }

  /**
   * Everything a chat needs before a conversation call: the Core, a login with a JWT fetched now
   * (Kustomer refuses one older than 15 minutes), and the listeners.
   */
  async connect(): Promise<KustomerClient> {
    if (this.#status === "idle") this.setStatus("connecting");
    const client = await this.client();
    const getJwt = this.#options.getJwt;
    if (getJwt) {
      let token: unknown;
      try {
        token = await getJwt();
      } catch (error) {
        throw new KustomerError("login", "rejected", `getJwt() failed: ${errorText(error)}`, {
          cause: error,
        });
      }
      if (token !== undefined && (typeof token !== "string" || token.split(".").length !== 3)) {
        throw new TypeError("getJwt() must resolve to a JWT string (a.b.c) or undefined");
      }
      if (token) await this.call("login", { jwtToken: token });
    }
    if (this.#subscribed !== client.core) {
      this.#listen("removeListener");
      this.#subscribed = client.core;
      this.#listen("addListener");
    }
    if (this.#status === "connecting") this.setStatus("online");
    return client;
  }

  /** Calls Kustomer; a timeout tells the engine the connection is lost, unless `quiet`. */
  async call<M extends KustomerMethod>(
    method: M,
    options: OptionsOf<M>,
    quiet?: boolean,
  ): Promise<ResponseOf<M>> {
    const client = await this.client();
    try {
      return await client.call(method, options);
    } catch (error) {
      if (!quiet && error instanceof KustomerError && error.reason === "timeout") {
        this.#onTimeout(error);
      }
      throw error;
    }
  }

  /** Calls a method that has no callback; false when it failed (the error is returned to `warn`). */
  async signal(
    method: KustomerSignal,
    options: unknown,
    warn: (message: string) => void,
  ): Promise<boolean> {
    let client: KustomerClient;
    try {
      client = await this.client();
    } catch {
      return false;
    }
    const error = client.fire(method, options);
    if (error) warn(error.message);
    return !error;
  }

  /** Whether Kustomer has agents online, as the Core says it (undefined when it cannot). */
  async availability(): Promise<unknown> {
    const client = await this.client();
    try {
      return client.core.isChatAvailable?.();
    } catch {
      return undefined;
    }
  }

  /** Whether the Core can fetch a conversation's latest messages alone (`getHistoricalMessages`). */
  async canFetchLatest(): Promise<boolean> {
    return typeof (await this.client()).core.getHistoricalMessages === "function";
  }

  /** Runs `run` once after `ms` (0: never), unless that timer is already set. */
  schedule(timer: ConnectionTimer, ms: number, run: () => void): void {
    if (!ms || this.#timers.has(timer)) return;
    this.#timers.set(
      timer,
      this.#options.scheduler.setTimeout(() => {
        this.#timers.delete(timer);
        run();
      }, ms),
    );
  }

  /** Clears every timer. */
  stopTimers(): void {
    for (const id of this.#timers.values()) this.#options.scheduler.clearTimeout(id);
    this.#timers.clear();
  }

  #listen(how: "addListener" | "removeListener"): void {
    for (const [name, fn] of Object.entries(this.#listeners)) this.#subscribed?.[how](name, fn);
  }
}
