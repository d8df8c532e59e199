/**
 * The outbox: each user message kept in Web Storage the moment the host hands it over, before
 * anything asynchronous, so that a page that goes away before the log's IndexedDB write lands does
 * not lose it. The next page (a reload, or the page that takes up a closed tab's chat) puts the
 * messages its log lacks back in the chat; an entry goes once its message is in the log.
 *
 * `localStorage` by default, not `sessionStorage`: a closed tab's chat is taken up by another
 * page, which cannot read the closed tab's `sessionStorage`. Entries are keyed per escalation and
 * message (two tabs never write the same key), hold no file and no secret, and are capped in size.
 *
 * @module
 */

/**
 * The part of Web Storage (`localStorage`) the outbox uses.
 */
export interface OutboxStorage {
  /** The value of `key`, or `null`. */
  getItem(key: string): string | null;
  /** Sets `key`; may throw (storage full or disabled). */
  setItem(key: string, value: string): void;
  /** Removes `key`. */
  removeItem(key: string): void;
  /** The `index`th key, or `null`. */
  key(index: number): string | null;
  /** How many keys there are. */
  readonly length: number;
}

/** One user message in the outbox. */
export interface OutboxEntry {
  /** The escalation it belongs to. */
  readonly escalationId: string;
  /** The host's message id. */
  readonly id: string;
  /** The text (none for files alone). */
  readonly text?: string;
  /** The names of the files that went with it (the files themselves are not kept). */
  readonly fileNames?: readonly string[];
  /** When the host handed it over (ms since the epoch). */
  readonly at: number;
}

/**
 * The prefix of every outbox key (the site's lock names share it); then the escalation id, `:` and
 * the message id.
 */
export const OUTBOX_PREFIX = "kustomer-service-desk:outbox:";

/** The most characters an entry may take: a larger message is not kept (it is sent as before). */
export const OUTBOX_MAX_CHARS = 100_000;

/** The storage the `outbox` option names: the one given, none for `false`, else `localStorage` in a page. */
export function resolveOutbox(
  outbox: OutboxStorage | false | undefined,
): OutboxStorage | undefined {
  return outbox === false
    ? undefined
    : outbox ?? (globalThis.document ? globalThis.localStorage : undefined);
}
