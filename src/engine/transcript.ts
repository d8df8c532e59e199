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
import { type HistoryItem, toHistoryItems } from "../history_items.ts";
import { readOutbox } from "./outbox.ts";

/** The history items of escalation `id` (see {@linkcode chatTranscript}), for `loadChatHistory`. */
export async function chatHistory(
  store: LogStore,
  id: string,
  outbox?: OutboxStorage | false,
): Promise<HistoryItem[]> {
  return toHistoryItems(await chatTranscript(store, id, outbox));
}

/**
 * The transcript of escalation `id` (the user's messages not yet confirmed included, at the time
 * they were typed, those only in the outbox too; those that failed marked `failed`); empty when
 * there is no such log or its chat never started. An ended chat's messages are there only until the
 * host has shown its last ones (a page gone before then shows them once more), or until Kustomer
 * confirmed the end: a log kept for `retentionMs` is compacted to its state, with no messages. A
 * message only its outbox kept was handed over as the chat ended and never sent: marked failed.
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
    kept = readOutbox(resolveOutbox(outbox), id);
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
  const lines = withPending(transcript, state);
  // An ended chat sends nothing more: a message only the outbox kept never went.
  return state.status === "ended"
    ? lines.map((line) => known.has(line.id) ? line : { ...line, failed: true })
    : lines;
}
