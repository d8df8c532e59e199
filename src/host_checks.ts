/**
 * Checks of what a chat host passes to the desk: a wrong type is a `TypeError`, a wrong size a
 * `RangeError`, each naming the method and the field, thrown before anything is stored or sent.
 * The checks of the synchronous methods; the engine checks `startChat`'s and
 * `sendMessageToAgent`'s arguments with these (src/engine/checks.ts), so a page that never starts a
 * chat does not download them.
 *
 * @module
 */

import { describe } from "./common.ts";

/** Whether a value is a plain object (not null, not an array). */
export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** What each kind of field must be: its test, and the words for the message. */
const KINDS = {
  object: [isObject, "an object"],
  string: [(v: unknown) => typeof v === "string", "a string"],
  id: [(v: unknown) => typeof v === "string" && v !== "", "a non-empty string"],
  array: [Array.isArray, "an array"],
  size: [(v: unknown) => typeof v === "number" && v >= 0 && v < Infinity, "a number of bytes ≥ 0"],
} as const;

/**
 * Checks `value` (`undefined` passes when `optional`) and returns it as an object (or `{}`).
 *
 * @throws {TypeError | RangeError} `"<what> must be <kind>, got <value>"` (RangeError for a size).
 */
export function check(
  value: unknown,
  what: string,
  kind: keyof typeof KINDS,
  optional = true,
): Record<string, unknown> {
  if (value === undefined && optional) return {};
  const [test, words] = KINDS[kind];
  if (!test(value)) {
    const message = `${what} must be ${words}, got ${describe(value)}`;
    throw kind === "size" ? new RangeError(message) : new TypeError(message);
  }
  return value as Record<string, unknown>;
}

/**
 * Checks a host's file uploads: a list of `{ id, file }`, each file with a name, a type and a
 * size in bytes.
 *
 * @param uploads What the host passed.
 * @param where The method and argument, for the message (`"filesSelectedForUpload(): uploads"`).
 * @throws {TypeError | RangeError} naming the upload and the field.
 */
export function checkUploads(uploads: unknown, where: string): void {
  (check(uploads, where, "array", false) as unknown as unknown[]).forEach((upload, i) => {
    const at = `${where}[${i}]`;
    const { id, file } = check(upload, at, "object", false);
    check(id, `${at}.id`, "id", false);
    const { name, type, size } = check(file, `${at}.file`, "object", false);
    check(name, `${at}.file.name`, "string", false);
    check(type, `${at}.file.type`, "string", false);
    check(size, `${at}.file.size`, "size", false);
  });
}

/**
 * Checks `updateState`'s argument: an object whose `sessionID`, `userID` and `locale`, when present,
 * are strings.
 *
 * @throws {TypeError} naming the field.
 */
export function checkHostState(state: unknown): void {
  const fields = check(state, "updateState(): state", "object", false);
  for (const key of ["sessionID", "userID", "locale"]) {
    check(fields[key], `updateState(): state.${key}`, "string");
  }
}
