/**
 * The agent chat as the host's history, for Carbon AI Chat's `messaging.customLoadHistory`: after a
 * reload Carbon shows nothing unless the host gives it the transcript.
 *
 * @module
 */

import { loadEngine } from "./load_engine.ts";
import type { LogStore } from "./log_store.ts";
import { resolveStore, savedId } from "./options.ts";
import type { OutboxStorage } from "./outbox.ts";
import type { HistoryItem } from "./history_items.ts";

export { type HistoryItem, toHistoryItems } from "./history_items.ts";

/** Options of {@linkcode loadChatHistory}. */
export interface LoadChatHistoryOptions {
  /** The store the desk uses. @default {the desk's default store} */
  store?: LogStore | "indexeddb" | "memory";
  /** The escalation; by default the one this tab's desk saved in `sessionStorage`. */
  escalationId?: string;
  /**
   * The outbox the desk uses (its `outbox` option): messages the page handed over just before a
   * reload, not yet in the log, are shown too.
   * @default {`localStorage` in a browser page, else none}
   */
  outbox?: OutboxStorage | false;
}

/**
 * Reads this tab's open escalation from its log and returns the agent chat as history items (the
 * user's messages not yet confirmed included, at the time they were typed; those that could not be
 * sent marked failed); empty when there is none. A chat that ended is there only until the desk has
 * shown its last messages: a reload in that moment shows them again (with a message handed over as
 * the chat ended, failed), then the chat ends.
 */
export async function loadChatHistory(
  options: LoadChatHistoryOptions = {},
): Promise<HistoryItem[]> {
  const id = options.escalationId ?? savedId();
  if (!id) return [];
  // The log reader comes with the engine, loaded now rather than up front: the page needs it only
  // when there is a chat to show, and then the desk needs the engine too.
  const { chatHistory } = await loadEngine();
  return chatHistory(resolveStore(options.store), id, options.outbox);
}
