/**
 * The agent chat as the host's history, for Carbon AI Chat's `messaging.customLoadHistory`: after a
 * reload Carbon shows nothing unless the host gives it the transcript.
 *
 * @module
 */

import type { TranscriptEntry } from "./events.ts";
import type { MessageRequest, MessageResponse } from "./host_types.ts";
import { loadEngine } from "./load_engine.ts";
import type { LogStore } from "./log_store.ts";
import { profile, toMessageResponse } from "./messages.ts";
import { resolveStore, savedId } from "./options.ts";
import type { OutboxStorage } from "./outbox.ts";

/** A message with its time, as Carbon's `customLoadHistory` returns them. */
export interface HistoryItem {
  /** The message: a user's request or an agent's response. */
  readonly message: MessageRequest | MessageResponse;
  /** ISO time. */
  readonly time: string;
}

/** Turns the log's transcript into history items (agent messages carry the agent's profile). */
export function toHistoryItems(transcript: readonly TranscriptEntry[]): HistoryItem[] {
  return transcript.map((entry): HistoryItem => {
    const time = new Date(entry.at).toISOString();
    if (entry.from === "user" || !entry.message) {
      return {
        time,
        message: {
          id: entry.id,
          input: { text: entry.text ?? "", message_type: "text", agent_message_type: "from_user" },
        },
      };
    }
    const response = toMessageResponse(entry.message);
    return {
      time,
      message: {
        ...response,
        output: {
          generic: response.output.generic?.map((item) => ({
            ...item,
            agent_message_type: "from_agent",
          })),
        },
        message_options: { response_user_profile: profile(entry.message.agent) },
      },
    };
  });
}

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
 * user's messages not yet confirmed included, at the time they were typed); empty when there is
 * none. A chat that ended is there only until the desk has shown its last messages: a reload in
 * that moment shows them again, then the chat ends.
 */
export async function loadChatHistory(
  options: LoadChatHistoryOptions = {},
): Promise<HistoryItem[]> {
  const id = options.escalationId ?? savedId();
  if (!id) return [];
  // The log reader comes with the engine, loaded now rather than up front: the page needs it only
  // when there is a chat to show, and then the desk needs the engine too.
  const { chatTranscript } = await loadEngine();
  return toHistoryItems(await chatTranscript(resolveStore(options.store), id, options.outbox));
}
