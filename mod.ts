/**
 * A Kustomer service desk for IBM watsonx Assistant web chat and Carbon AI Chat: hands a chat from
 * the assistant to a human agent in Kustomer, through the Kustomer Chat Core SDK
 * (`window.KustomerCore`), and keeps each escalation as an event log in IndexedDB so that a chat
 * survives a page reload with nothing lost or duplicated.
 *
 * @example Plug it into a chat host
 * ```ts
 * import { kustomerServiceDeskFactory } from "./mod.ts";
 * import { SimulatedKustomerCore } from "./simulator.ts";
 *
 * // A real page passes { apiKey } or has Kustomer's core.js on it; the simulator needs neither.
 * const factory = kustomerServiceDeskFactory({ core: new SimulatedKustomerCore(), store: "memory" });
 * const messages: unknown[] = [];
 * const desk = factory({
 *   callback: {
 *     updateAgentAvailability() {},
 *     agentJoined() {},
 *     agentReadMessages() {},
 *     agentTyping() {},
 *     sendMessageToUser(message) { messages.push(message); },
 *     beginTransferToAnotherAgent() {},
 *     agentLeftChat() {},
 *     agentEndedChat() {},
 *     setErrorStatus() {},
 *   },
 * });
 * await desk.startChat({ output: { generic: [{ response_type: "connect_to_agent" }] } });
 * await desk.endChat();
 * ```
 *
 * @module
 */

import type { ServiceDesk, ServiceDeskFactoryParameters } from "./src/host_types.ts";
import { KustomerServiceDesk } from "./src/service_desk.ts";
import { type KustomerServiceDeskOptions, resolveOptions } from "./src/options.ts";

export { KustomerServiceDesk } from "./src/service_desk.ts";
export {
  type DeskLocks,
  type DeskLogger,
  type KustomerServiceDeskOptions,
  type SatisfactionSurvey,
} from "./src/options.ts";
export type { OutboxStorage } from "./src/outbox.ts";
export { FILE_LIMITS, parseAvailability } from "./src/messages.ts";
export {
  type HistoryItem,
  loadChatHistory,
  type LoadChatHistoryOptions,
  toHistoryItems,
} from "./src/history.ts";
export { KustomerError, type KustomerErrorReason, type Scheduler } from "./src/common.ts";
export {
  IndexedDbLogStore,
  type IndexedDbLogStoreOptions,
  type LoadedLog,
  LogConflictError,
  type LogHead,
  type LogRecord,
  type LogSnapshot,
  type LogStore,
  type LogWrite,
  MemoryLogStore,
} from "./src/log_store.ts";
export type {
  AgentInfo,
  AgentMessage,
  AttachmentInfo,
  DeskState,
  DeskStatus,
  EndedBy,
  PendingUserMessage,
  StoredState,
  TranscriptEntry,
} from "./src/events.ts";
export type {
  AgentAvailability,
  AgentProfile,
  EndChatInfo,
  FileUpload,
  GenericItem,
  MessageRequest,
  MessageResponse,
  ServiceDesk,
  ServiceDeskCallback,
  ServiceDeskCapabilities,
  ServiceDeskErrorInfo,
  ServiceDeskFactoryParameters,
  ServiceDeskHostState,
  StartChatOptions,
} from "./src/host_types.ts";
export type {
  KustomerAction,
  KustomerAttachment,
  KustomerAvailability,
  KustomerCallback,
  KustomerConversation,
  KustomerConversationSummary,
  KustomerCore,
  KustomerCreateConversationOptions,
  KustomerEventName,
  KustomerInitOptions,
  KustomerInitResponse,
  KustomerListener,
  KustomerLoginResponse,
  KustomerMessage,
  KustomerMessagesResponse,
  KustomerSatisfactionEvent,
  KustomerSdkError,
  KustomerSender,
  KustomerSendMessageOptions,
  KustomerTypingEvent,
} from "./src/kustomer_types.ts";

/**
 * Makes the `serviceDeskFactory` a chat host takes. Options are checked at once: a bad option throws
 * here, not in the middle of a chat.
 *
 * @param options Kustomer, storage and timing options; all optional.
 * @returns A factory that makes one {@linkcode KustomerServiceDesk} per call.
 * @throws {TypeError | RangeError} when an option is of the wrong type or out of range.
 *
 * @example Watsonx Assistant web chat
 * ```ts ignore
 * window.watsonAssistantChatOptions = {
 *   integrationID: "…", region: "us-south", serviceInstanceID: "…",
 *   serviceDeskFactory: kustomerServiceDeskFactory({ apiKey: "…" }),
 * };
 * ```
 */
export function kustomerServiceDeskFactory(
  options: KustomerServiceDeskOptions = {},
): (parameters: ServiceDeskFactoryParameters) => ServiceDesk {
  resolveOptions(options);
  return (parameters) => new KustomerServiceDesk(parameters, options);
}
