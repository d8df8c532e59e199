/**
 * Kustomer messages and files as web chat shows them: message conversion, file limits, availability.
 *
 * @module
 */

import type { AgentMessage } from "./events.ts";
import type { AgentProfile, GenericItem, MessageResponse } from "./host_types.ts";
import type { KustomerMessage } from "./kustomer_types.ts";

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

/** The MIME types Kustomer accepts, with their extension. */
const MIME: Record<string, string> = {
  "image/jpeg": ".jpg",
  "image/png": ".png",
  "application/pdf": ".pdf",
  "application/msword": ".doc",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
  "application/vnd.ms-excel": ".xls",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
  "application/zip": ".zip",
  "text/plain": ".txt",
  "video/quicktime": ".mov",
  "video/mp4": ".mp4",
};

/** The `accept` string for the host's file picker. */
export const ALLOWED_FILE_TYPES: string = [...FILE_LIMITS.extensions, ...Object.keys(MIME)].join(
  ",",
);

/** Why a file cannot go to Kustomer, or undefined when it can. */
export function fileProblem(
  file: { name: string; size: number; type: string },
): string | undefined {
  const lower = file.name.toLowerCase();
  const typeOk = FILE_LIMITS.extensions.some((ext) => lower.endsWith(ext)) || file.type in MIME;
  if (!typeOk) {
    return `${file.name}: Kustomer accepts only ${
      FILE_LIMITS.extensions.map((e) => e.slice(1).toUpperCase()).join(", ")
    } files`;
  }
  if (file.size > FILE_LIMITS.maxFileBytes) {
    return `${file.name} is ${mb(file.size)}; Kustomer accepts files up to 5 MB`;
  }
  return undefined;
}

/** A size in megabytes, for messages. */
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** The agent profile web chat hosts expect. */
export function profile(agent: AgentMessage["agent"]): AgentProfile {
  return {
    id: agent.id,
    nickname: agent.nickname,
    user_type: "human",
    ...(agent.avatarUrl ? { profile_picture_url: agent.avatarUrl } : {}),
  };
}

/** Kustomer's message in the log's shape. */
export function normalizeMessage(message: KustomerMessage): AgentMessage {
  const sentBy = message.sentBy ?? { id: "kustomer-agent" };
  const template = message.meta?.template;
  const quickReplies = template?.templateType === "quick_replies" && Array.isArray(template.actions)
    ? template.actions
      .filter((a) => a && typeof a.displayText === "string")
      .map((a) => ({ label: a.displayText, value: String(a.value ?? a.displayText) }))
    : [];
  const body = typeof message.body === "string" && message.body
    ? message.body
    : typeof template?.body === "string"
    ? template.body
    : "";
  return {
    messageId: message.messageId,
    text: body,
    createdAt: typeof message.createdAt === "string"
      ? message.createdAt
      : new Date(0).toISOString(),
    agent: {
      id: String(sentBy.id),
      nickname: sentBy.displayName || "Agent",
      ...(sentBy.avatarUrl ? { avatarUrl: sentBy.avatarUrl } : {}),
    },
    attachments: (message.attachments ?? []).map((a) => ({
      name: a.name ?? a.attributes?.name ?? "attachment",
      ...(a.url ?? a.attributes?.url ? { url: a.url ?? a.attributes?.url } : {}),
      ...(a.contentType ?? a.attributes?.contentType
        ? { contentType: a.contentType ?? a.attributes?.contentType }
        : {}),
    })),
    quickReplies,
  };
}

/** An agent message as a web chat message: text, quick-reply options, images and file links. */
export function toMessageResponse(message: AgentMessage): MessageResponse {
  const generic: GenericItem[] = [];
  if (message.text) generic.push({ response_type: "text", text: message.text });
  if (message.quickReplies.length > 0) {
    generic.push({
      response_type: "option",
      title: message.text ? "" : "Choose one",
      options: message.quickReplies.map((q) => ({
        label: q.label,
        value: { input: { text: q.value } },
      })),
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
        text: file.url ? `📎 [${file.name}](${file.url})` : `📎 ${file.name}`,
      });
    }
  }
  if (generic.length === 0) generic.push({ response_type: "text", text: "" });
  return { id: message.messageId, output: { generic } };
}

/** The `connect_to_agent` item of a message. */
export function connectItem(message: MessageResponse): GenericItem | undefined {
  return message?.output?.generic?.find((item) => item?.response_type === "connect_to_agent");
}

/** Orders Kustomer messages by time, then id. */
export function byTime(a: KustomerMessage, b: KustomerMessage): number {
  const t = Date.parse(a.createdAt) - Date.parse(b.createdAt);
  return t !== 0 && !Number.isNaN(t)
    ? t
    : a.messageId < b.messageId
    ? -1
    : a.messageId > b.messageId
    ? 1
    : 0;
}

/** Reads both `isChatAvailable` shapes: true online, false offline/hidden/disabled, null unknown. */
export function parseAvailability(value: unknown): boolean | null {
  const status = typeof value === "string"
    ? value
    : typeof value === "object" && value !== null
    ? (value as { availability?: unknown }).availability
    : undefined;
  if (status === "online") return true;
  if (status === "offline" || status === "hidden" || status === "disabled") return false;
  return null;
}
