/**
 * Checks of what a chat host passes to the desk: a wrong type is a `TypeError`, a wrong size a
 * `RangeError`, each naming the method and the field, thrown before anything is stored or sent.
 *
 * @module
 */

import { describe } from "./common.ts";

const isObject = (value: unknown): value is Record<string, unknown> =>
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
function check(
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
 * Checks `startChat`'s arguments: the connect message (an object whose `output.generic`, when
 * present, is a list) and the strings the desk reads from it and from the options.
 *
 * @throws {TypeError} naming the field of the wrong type.
 */
export function checkStartChat(connectMessage: unknown, options: unknown): void {
  if (!isObject(connectMessage)) {
    throw new TypeError("startChat() needs the connect message (a MessageResponse object)");
  }
  const where = "startChat(): connectMessage";
  const output = check(connectMessage.output, `${where}.output`, "object");
  const generic = output.generic as unknown[] | undefined;
  check(generic, `${where}.output.generic`, "array");
  const item = generic?.find((g) => isObject(g) && g.response_type === "connect_to_agent") as
    | Record<string, unknown>
    | undefined;
  if (item) {
    const at = `${where}'s connect_to_agent item: `;
    check(item.message_to_human_agent, `${at}message_to_human_agent`, "string");
    const transfer = check(item.transfer_info, `${at}transfer_info`, "object");
    for (const key of ["session_history_key", "summary_message_to_agent"]) {
      check(transfer[key], `${at}transfer_info.${key}`, "string");
    }
  }
  const info = check(
    check(options, "startChat(): options", "object").agentAppInfo,
    "startChat(): options.agentAppInfo",
    "object",
  );
  check(info.sessionHistoryKey, "startChat(): options.agentAppInfo.sessionHistoryKey", "string");
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
 * Checks `sendMessageToAgent`'s arguments: a message with an `input` object whose `text`, when
 * present, is a string; a message id (`message.id` or `messageID`); files as {@linkcode checkUploads}.
 *
 * @throws {TypeError | RangeError} naming the field.
 */
export function checkSendMessage(
  message: unknown,
  messageID: unknown,
  additionalData: unknown,
): void {
  if (!isObject(message)) throw new TypeError("sendMessageToAgent() needs a MessageRequest object");
  const where = "sendMessageToAgent(): ";
  check(
    check(message.input, `${where}message.input`, "object", false).text,
    `${where}message.input.text`,
    "string",
  );
  check(message.id || messageID, `${where}message.id or messageID`, "id", false);
  const files = check(additionalData, `${where}additionalData`, "object").filesToUpload;
  if (files !== undefined) checkUploads(files, `${where}filesToUpload`);
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
