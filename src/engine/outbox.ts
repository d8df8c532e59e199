/**
 * The engine's side of the outbox (see `src/outbox.ts`): reading the entries of an escalation and
 * removing them. Web Storage may throw at any access (disabled, a sandboxed frame): these
 * functions never do; they report the problem to `warn` instead.
 *
 * @module
 */

import {
  OUTBOX_MAX_CHARS,
  OUTBOX_PREFIX,
  type OutboxEntry,
  type OutboxStorage,
} from "../outbox.ts";
import { errorText } from "../common.ts";

/** The keys of escalation `escalationId`'s entries. */
function keysOf(storage: OutboxStorage, escalationId: string): string[] {
  const prefix = `${OUTBOX_PREFIX}${escalationId}:`;
  const keys: string[] = [];
  for (let i = 0; i < storage.length; i++) {
    const key = storage.key(i);
    if (key?.startsWith(prefix)) keys.push(key);
  }
  return keys;
}

/** An entry from its stored text, or why it is not one. */
function parse(value: string | null, escalationId: string, key: string): OutboxEntry | string {
  if (value === null) return "gone";
  if (value.length > OUTBOX_MAX_CHARS) return "too long";
  let entry: Partial<Record<keyof OutboxEntry, unknown>>;
  try {
    entry = JSON.parse(value);
  } catch {
    return "not JSON";
  }
  const { id, text = "", fileNames = [], at } = entry ?? {};
  if (
    typeof id !== "string" || !id || key !== `${OUTBOX_PREFIX}${escalationId}:${id}` ||
    entry.escalationId !== escalationId || typeof text !== "string" ||
    !Array.isArray(fileNames) || !fileNames.every((n) => typeof n === "string") ||
    !Number.isFinite(at)
  ) return "not a message of this chat";
  return { escalationId, id, text, fileNames, at: at as number };
}

/**
 * The user messages the outbox holds for escalation `escalationId`, in the order they were handed
 * over. A corrupt or oversized entry is removed, with a warning.
 */
export function readOutbox(
  storage: OutboxStorage | undefined,
  escalationId: string,
  warn?: (message: string) => void,
): OutboxEntry[] {
  if (!storage) return [];
  const entries: OutboxEntry[] = [];
  try {
    for (const key of keysOf(storage, escalationId)) {
      const entry = parse(storage.getItem(key), escalationId, key);
      if (typeof entry !== "string") entries.push(entry);
      else if (warn) {
        warn(`skipped a message kept in Web Storage (${entry})`);
        storage.removeItem(key);
      }
    }
  } catch (error) {
    warn?.(`could not read Web Storage (${errorText(error)})`);
  }
  return entries.sort((a, b) => a.at - b.at);
}

/**
 * Keeps `entry` in the outbox. Throws when it cannot (too long, storage full or disabled): the
 * caller warns and sends the message as before.
 */
export function keepOutbox(storage: OutboxStorage | undefined, entry: OutboxEntry): void {
  const value = JSON.stringify(entry);
  if (value.length > OUTBOX_MAX_CHARS) throw new RangeError("too long");
  storage?.setItem(`${OUTBOX_PREFIX}${entry.escalationId}:${entry.id}`, value);
}

/** Removes from the outbox message `id` of escalation `escalationId`, or all of its messages. */
export function dropOutbox(
  storage: OutboxStorage | undefined,
  escalationId: string,
  id?: string,
): void {
  if (!storage) return;
  try {
    const keys = id === undefined
      ? keysOf(storage, escalationId)
      : [`${OUTBOX_PREFIX}${escalationId}:${id}`];
    for (const key of keys) storage.removeItem(key);
  } catch {
    // The entry stays; the log has the message, so the next page does not take it again.
  }
}
