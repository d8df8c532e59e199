/**
 * The agent chat a host shows again after a reload (`loadChatHistory`): read from the log with the
 * engine, which the page needs anyway when there is a chat.
 *
 * @module
 */

import { type TranscriptEntry, withPending } from "../events.ts";
import type { LogStore } from "../log_store.ts";
import { SessionLog } from "../session_log.ts";

/**
 * The transcript of escalation `id` (the user's messages not yet confirmed included, at the time
 * they were typed); empty when there is no such log, or its chat has ended or never started.
 */
export async function chatTranscript(store: LogStore, id: string): Promise<TranscriptEntry[]> {
  const log = await SessionLog.open(store, id);
  if (!log || log.state.status === "ended" || log.state.status === "idle") return [];
  return withPending(await log.readTranscript(), log.state);
}
