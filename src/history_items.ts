/**
 * The agent chat as history items, the shape Carbon AI Chat's `messaging.customLoadHistory` returns
 * and `messaging.insertHistory` takes. The page's entry uses it for {@linkcode toHistoryItems}, and
 * the engine to show the chat a page takes up from a closed tab.
 *
 * @module
 */

import type { TranscriptEntry } from "./events.ts";
import type { MessageRequest, MessageResponse } from "./host_types.ts";
import { profile, toMessageResponse } from "./messages.ts";

/** A message with its time, as Carbon's `customLoadHistory` returns them. */
export interface HistoryItem {
  /** The message: a user's request or an agent's response. */
  readonly message: MessageRequest | MessageResponse;
  /** ISO time. */
  readonly time: string;
}

/**
 * Turns the log's transcript into history items (agent messages carry the agent's profile; a user
 * message that could not be sent is marked failed, which Carbon AI Chat draws with its "failed"
 * notice: `history.error_state` 2, its `MessageErrorState.FAILED`).
 */
export function toHistoryItems(transcript: readonly TranscriptEntry[]): HistoryItem[] {
  return transcript.map((entry): HistoryItem => {
    const time = new Date(entry.at).toISOString();
    if (entry.from === "user" || !entry.message) {
      return {
        time,
        message: {
          id: entry.id,
          input: { text: entry.text ?? "", message_type: "text", agent_message_type: "from_user" },
          ...entry.failed && { history: { error_state: 2 } },
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
