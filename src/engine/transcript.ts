/**
 * The agent chat a host shows again after a reload (`loadChatHistory`): read from the log with the
 * engine, which the page needs anyway when there is a chat.
 *
 * @module
 */

import { type PendingUserMessage, type TranscriptEntry, withPending } from "../events.ts";
import type { LogStore } from "../log_store.ts";
import { type OutboxEntry, type OutboxStorage, resolveOutbox } from "../outbox.ts";
import { SessionLog } from "../session_log.ts";
import { readOutbox } from "./outbox.ts";

/**
 * The transcript of escalation `id` (the user's messages not yet confirmed included, at the time
 * they were typed, those only in the outbox too while the chat goes on); empty when there is no
 * such log or its chat never started. An ended chat's log is there only until the host has shown
 * its last messages (a page gone before then shows them once more), or for `retentionMs`.
 */
export async function chatTranscript(
  store: LogStore,
  id: string,
  outbox?: OutboxStorage | false,
): Promise<TranscriptEntry[]> {
  const log = await SessionLog.open(store, id);
  if (!log || log.state.status === "idle") return [];
  const transcript = await log.readTranscript();
  let { state } = log;
  let kept: OutboxEntry[] = [];
  try {
    if (log.state.status !== "ended") kept = readOutbox(resolveOutbox(outbox), id);
  } catch {
    // Web Storage is disabled here: nothing was kept.
  }
  const known = new Set([...transcript, ...state.pending].map((line) => line.id));
  const missing = kept.filter((entry) => !known.has(entry.id)).map((
    { id, at, text = "", fileNames = [] },
  ): PendingUserMessage => ({ id, at, text, files: fileNames }));
  if (missing.length) {
    state = { ...state, pending: [...state.pending, ...missing].sort((a, b) => a.at - b.at) };
  }
  return withPending(transcript, state);
}
