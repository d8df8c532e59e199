/**
 * The one place that talks to the Kustomer Core SDK: finding or loading it, and turning its
 * callbacks into promises that always settle (a call that never calls back times out).
 *
 * @module
 */

import { KustomerError, type KustomerErrorReason, type Scheduler } from "./common.ts";
import { KUSTOMER_CORE_URL } from "./engine/defaults.ts";
import type { AgentMessage } from "./events.ts";
import type {
  KustomerCallback,
  KustomerCore,
  KustomerInitOptions,
  KustomerInitResponse,
  KustomerMessage,
} from "./kustomer_types.ts";

/** The Core methods that answer through a callback. */
export type KustomerMethod =
  | "init"
  | "login"
  | "createConversation"
  | "sendMessage"
  | "getMessages"
  | "getHistoricalMessages"
  | "getConversations"
  | "describeConversation"
  | "endConversation"
  | "submitSatisfactionForm";

type _Method<M extends KustomerMethod> = NonNullable<KustomerCore[M]>;

/** The options a Core method takes. */
export type OptionsOf<M extends KustomerMethod> = Parameters<_Method<M>>[0];

/** What a Core method answers (its callback's first argument). */
export type ResponseOf<M extends KustomerMethod> = Parameters<_Method<M>> extends
  [unknown, (KustomerCallback<infer R> | undefined)?] ? R : never;

/** The Core methods with no callback: fired, never awaited. */
export type KustomerSignal = "markRead" | "sendTypingActivity";

/** Calls Core methods as promises with a timeout. */
export class KustomerClient {
  /** The wrapped Core. */
  readonly core: KustomerCore;
  #timeoutMs: number;
  #scheduler: Scheduler;

  /** Wraps a Core. */
  constructor(core: KustomerCore, timeoutMs: number, scheduler: Scheduler) {
    this.core = core;
    this.#timeoutMs = timeoutMs;
    this.#scheduler = scheduler;
  }

  /** Calls `method(options, callback)` and settles with its response, its error, or a timeout. */
  call<M extends KustomerMethod>(method: M, options: OptionsOf<M>): Promise<ResponseOf<M>> {
    type T = ResponseOf<M>;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const settle = (response: unknown, error?: unknown) => {
        if (done) return;
        done = true;
        this.#scheduler.clearTimeout(timer);
        if (error) reject(toKustomerError(method, error));
        else resolve(response as T);
      };
      const timer = this.#scheduler.setTimeout(
        () =>
          settle(
            0,
            new KustomerError(
              method,
              "timeout",
              `Kustomer did not answer ${method}() within ${this.#timeoutMs} ms`,
            ),
          ),
        this.#timeoutMs,
      );
      const error = this.fire(method, options, settle);
      if (error) settle(0, error);
    });
  }

  /**
   * Calls a method without waiting for an answer (`markRead`, `sendTypingActivity`, or a call whose
   * callback is `args`); a missing method or a throw is returned as an error.
   */
  fire(method: string, ...args: unknown[]): KustomerError | undefined {
    const fn = (this.core as unknown as Record<string, unknown>)[method];
    if (typeof fn !== "function") {
      return new KustomerError(method, "unavailable", `Kustomer Core has no method ${method}()`);
    }
    try {
      fn.apply(this.core, args);
    } catch (error) {
      return toKustomerError(method, error ?? new Error("threw"));
    }
  }
}

function toKustomerError(method: string, error: unknown): KustomerError {
  if (error instanceof KustomerError) return error;
  const e = Object(error);
  const detail = typeof e.message === "string" && e.message
    ? e.message
    : typeof e.title === "string"
    ? e.title
    : String(error);
  const status = typeof e.status === "number" ? e.status : undefined;
  const code = typeof e.code === "string" || typeof e.code === "number" ? e.code : undefined;
  return new KustomerError(
    method,
    "rejected",
    `Kustomer rejected ${method}(): ${detail}${status ? ` (status ${status})` : ""}`,
    { cause: error, status, code },
  );
}

const inits = new WeakMap<KustomerCore, Promise<KustomerInitResponse>>();

/**
 * Calls `init` once per Core (the SDK wants one init per page); a failed init is retried on the
 * next call.
 */
export function initOnce(
  client: KustomerClient,
  options: KustomerInitOptions,
): Promise<KustomerInitResponse> {
  let pending = inits.get(client.core);
  if (!pending) {
    pending = client.call("init", options) as Promise<KustomerInitResponse>;
    inits.set(client.core, pending);
    pending.catch(() => inits.delete(client.core));
  }
  return pending;
}

/** Where {@linkcode findCore} looks for and loads the Core. */
export interface CoreSource {
  /** A Core to use as it is. */
  core?: KustomerCore;
  /** The chat API key, to load the Core script when the page has none. */
  apiKey?: string;
  /** The script URL. */
  scriptUrl: string;
  /** How long to wait for the script. */
  timeoutMs: number;
  /** Timers. */
  scheduler: Scheduler;
}

const isCore = (value: unknown): value is KustomerCore =>
  typeof value === "object" && value !== null &&
  typeof (value as KustomerCore).init === "function" &&
  typeof (value as KustomerCore).addListener === "function";

/**
 * Finds the Kustomer Core: the one given, `globalThis.KustomerCore`, the one a core.js script tag on
 * the page is loading (waiting for `kustomerCoreLoaded`), or the script loaded with `apiKey`.
 */
export function findCore(source: CoreSource): Promise<KustomerCore> {
  const g = globalThis as { KustomerCore?: unknown; document?: Document };
  if (source.core) return Promise.resolve(source.core);
  if (isCore(g.KustomerCore)) return Promise.resolve(g.KustomerCore);
  const doc = g.document;
  let script = doc?.querySelector?.('script[src*="chat-web/core.js"]') as
    | HTMLScriptElement
    | null
    | undefined;
  return new Promise<KustomerCore>((resolve, reject) => {
    if (!script && !source.apiKey) {
      throw new KustomerError(
        "load",
        "unavailable",
        "No KustomerCore on the page and no apiKey was given: add " +
          `<script src="${KUSTOMER_CORE_URL}" data-kustomer-api-key="…"> or pass { apiKey }`,
      );
    }
    if (!doc) {
      throw new KustomerError(
        "load",
        "unavailable",
        "Cannot load Kustomer Core: there is no document",
      );
    }
    const { scheduler, timeoutMs } = source;
    const finish = (reason?: KustomerErrorReason, message?: string) => {
      scheduler.clearTimeout(timer);
      globalThis.removeEventListener?.("kustomerCoreLoaded", onLoaded);
      script!.removeEventListener("error", onError);
      const core = g.KustomerCore;
      if (!reason && isCore(core)) resolve(core);
      else {
        reject(
          new KustomerError(
            "load",
            reason ?? "load",
            message ?? "Kustomer Core script loaded but KustomerCore is missing",
          ),
        );
      }
    };
    const onLoaded = () => finish();
    const onError = () => finish("load", `Could not load the Kustomer Core script ${script!.src}`);
    const timer = scheduler.setTimeout(
      () => finish("timeout", `Kustomer Core did not load within ${timeoutMs} ms`),
      timeoutMs,
    );
    globalThis.addEventListener?.("kustomerCoreLoaded", onLoaded);
    if (!script) {
      script = doc.createElement("script");
      script.src = source.scriptUrl;
      script.async = true;
      script.dataset.kustomerApiKey = source.apiKey;
      (doc.head ?? doc.documentElement).append(script);
    }
    script.addEventListener("error", onError);
  });
}

/** A non-empty string, or undefined: what the SDK sends is not trusted to have its types. */
const text = (value: unknown): string | undefined =>
  typeof value === "string" && value ? value : undefined;

/** The fields of an object, or none (for `null`, strings, numbers and other non-objects). */
const fields = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null ? value as Record<string, unknown> : {};

/**
 * Kustomer's message in the log's shape. Total over whatever the SDK delivers: a field of the wrong
 * type is treated as missing, so what the log stores always decodes and what the host gets is well
 * formed (the caller has checked `messageId`).
 */
export function normalizeMessage(message: KustomerMessage): AgentMessage {
  const { messageId, body, createdAt, sentBy } = fields(message);
  const template = fields(fields(fields(message).meta).template);
  const actions = template.templateType === "quick_replies" ? template.actions : undefined;
  const agent = fields(sentBy);
  const agentId = typeof agent.id === "number" ? String(agent.id) : text(agent.id);
  const avatarUrl = text(agent.avatarUrl);
  const attachments = fields(message).attachments;
  return {
    messageId: messageId as string,
    text: text(body) ?? text(template.body) ?? "",
    createdAt: text(createdAt) ?? new Date(0).toISOString(),
    agent: {
      id: agentId ?? "kustomer-agent",
      nickname: text(agent.displayName) ?? "Agent",
      ...(avatarUrl ? { avatarUrl } : {}),
    },
    attachments: (Array.isArray(attachments) ? attachments : []).map((a) => {
      const file = fields(a);
      const nested = fields(file.attributes);
      const url = text(file.url) ?? text(nested.url);
      const contentType = text(file.contentType) ?? text(nested.contentType);
      return {
        name: text(file.name) ?? text(nested.name) ?? "attachment",
        ...(url ? { url } : {}),
        ...(contentType ? { contentType } : {}),
      };
    }),
    quickReplies: (Array.isArray(actions) ? actions : []).map(fields)
      .filter((a) => typeof a.displayText === "string")
      .map((a) => ({
        label: a.displayText as string,
        value: typeof a.value === "string" || typeof a.value === "number"
          ? String(a.value)
          : a.displayText as string,
      })),
  };
}

/** Orders Kustomer messages by time, then id. */
export function byTime(a: KustomerMessage, b: KustomerMessage): number {
  return Date.parse(a.createdAt) - Date.parse(b.createdAt) ||
    (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0);
}
