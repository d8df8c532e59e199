/**
 * Messages and files as web chat shows them: agent messages, file limits, availability. (The checks
 * of picked files against the limits are the engine's: src/engine/files.ts.)
 *
 * @module
 */

import type { AgentMessage } from "./events.ts";
import type { AgentProfile, GenericItem, MessageResponse } from "./host_types.ts";

/** Kustomer's attachment limits. */
export const FILE_LIMITS: {
  readonly maxFileBytes: number;
  readonly maxMessageBytes: number;
  readonly extensions: readonly string[];
} = {
  maxFileBytes: 5 * 1024 * 1024,
  maxMessageBytes: 9.5 * 1024 * 1024,
  extensions: [
    ".jpg",
    ".jpeg",
    ".png",
    ".pdf",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".zip",
    ".txt",
    ".mov",
    ".mp4",
  ],
};

/** The agent profile web chat hosts expect. */
export function profile(agent: AgentMessage["agent"]): AgentProfile {
  return {
    id: agent.id,
    nickname: agent.nickname,
    user_type: "human",
    ...(agent.avatarUrl ? { profile_picture_url: agent.avatarUrl } : {}),
  };
}

/** The custom event of an agent's quick-reply button (Carbon fires `messageItemCustom`). */
export const QUICK_REPLY_EVENT = "kustomer_quick_reply";

/** The quick reply a clicked button stands for, or undefined when the button is not the desk's. */
export function quickReplyOf(item: unknown): { label: string; value: string } | undefined {
  const reply = (item as { user_defined?: Record<string, unknown> } | undefined)?.user_defined
    ?.[QUICK_REPLY_EVENT] as { label?: unknown; value?: unknown } | undefined;
  return typeof reply?.value === "string" && typeof reply.label === "string"
    ? { label: reply.label, value: reply.value }
    : undefined;
}

/** An agent message as a web chat message: text, quick-reply buttons, images and file links. */
export function toMessageResponse(message: AgentMessage): MessageResponse {
  const generic: GenericItem[] = [];
  if (message.text) generic.push({ response_type: "text", text: message.text });
  // Buttons whose click the desk handles (QUICK_REPLY_EVENT): Carbon sends an `option` click to
  // the assistant, never to the agent.
  for (const q of message.quickReplies) {
    generic.push({
      response_type: "button",
      button_type: "custom_event",
      kind: "secondary",
      label: q.label,
      custom_event_name: QUICK_REPLY_EVENT,
      user_defined: { [QUICK_REPLY_EVENT]: { label: q.label, value: q.value } },
    });
  }
  for (const file of message.attachments) {
    if (file.url && file.contentType?.startsWith("image/")) {
      generic.push({
        response_type: "image",
        source: file.url,
        title: file.name,
        alt_text: file.name,
      });
    } else {
      generic.push({
        response_type: "text",
        text: `📎 ${file.url ? `[${file.name}](${file.url})` : file.name}`,
      });
    }
  }
  if (generic.length === 0) generic.push({ response_type: "text", text: "" });
  return { id: message.messageId, output: { generic } };
}

/** Reads both `isChatAvailable` shapes: true online, false offline/hidden/disabled, null unknown. */
export function parseAvailability(value: unknown): boolean | null {
  const status = typeof value === "object" && value
    ? (value as { availability?: unknown }).availability
    : value;
  return status === "online"
    ? true
    : ["offline", "hidden", "disabled"].includes(status as string)
    ? false
    : null;
}
