/**
 * Checks of the arguments of the host's asynchronous calls, `startChat` and `sendMessageToAgent`:
 * a wrong type is a `TypeError`, a wrong size a `RangeError`, each naming the method and the field,
 * thrown before anything is stored or sent. They live in the engine, which those calls load anyway.
 *
 * @module
 */

import { check, checkUploads, isObject } from "../host_checks.ts";

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
