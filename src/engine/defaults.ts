/**
 * The defaults of the options only a chat reads: they come with the engine, so a page that never
 * has a chat does not download them.
 *
 * @module
 */

import type { DeskOptions, ResolvedOptions } from "../options.ts";

/** The Core script Kustomer documents. */
export const KUSTOMER_CORE_URL = "https://cdn.kustomerapp.com/chat-web/core.js";

const CHAT_DEFAULTS = {
  scriptUrl: KUSTOMER_CORE_URL,
  title: "Chat from the web assistant",
  sessionHistoryAttribute: "watsonAssistantSessionHistoryStr",
  transferMessage: "A customer was transferred to you from the web chat assistant.",
  timeoutMs: 15_000,
  heartbeatMs: 30_000,
  retentionMs: 0,
  abandonedMs: 86_400_000,
  waitingMessage: "Waiting for an agent to join.",
};

/** The defaults of the options only a chat reads. */
export type ChatDefaults = typeof CHAT_DEFAULTS;

/**
 * The desk's options with the chat's defaults filled in too (an option given wins; the desk's
 * options hold no `undefined`).
 */
export function chatOptions(options: DeskOptions): ResolvedOptions {
  return { ...CHAT_DEFAULTS, ...options };
}
