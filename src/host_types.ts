/**
 * The web chat ServiceDesk contract, declared locally so that the desk needs no runtime import of a
 * host package. Compatible with IBM watsonx Assistant web chat (7.x/8.x) and Carbon AI Chat (1.x).
 *
 * @module
 */

/** A generic item of a message response (`text`, `option`, `image`, `connect_to_agent`, …). */
export interface GenericItem {
  /** The item kind, such as `"text"` or `"connect_to_agent"`. */
  response_type: string;
  /** Text of a `text` item. */
  text?: string;
  /** The `connect_to_agent` message meant for the human agent. */
  message_to_human_agent?: string;
  /** The `connect_to_agent` transfer details. */
  transfer_info?: {
    /** The web chat session-history key (a secret: it holds an auth code). */
    session_history_key?: string;
    /** A summary meant for the agent. */
    summary_message_to_agent?: string;
    /** Anything else the bot passes on. */
    additional_data?: unknown;
    /** Other fields the host or SDK may add. */
    [key: string]: unknown;
  };
  /** Other fields the host or SDK may add. */
  [key: string]: unknown;
}

/** A message from the assistant or the agent to the user. */
export interface MessageResponse {
  /** The message id, when the host gives one. */
  id?: string;
  /** The content. */
  output: { generic?: GenericItem[]; [key: string]: unknown };
  /** Other fields the host or SDK may add. */
  [key: string]: unknown;
}

/** A message from the user. */
export interface MessageRequest {
  /** The host's id of this message: the one `setErrorStatus` USER_MESSAGE names. */
  id?: string;
  /** The content. */
  input: { text?: string; message_type?: string; [key: string]: unknown };
  /** Other fields the host or SDK may add. */
  [key: string]: unknown;
}

/** A file the user picked for upload. */
export interface FileUpload {
  /** The host's id of this upload. */
  id: string;
  /** The file. */
  file: File;
}

/** A human agent as the host shows it. */
export interface AgentProfile {
  /** The agent id. */
  id: string;
  /** The name shown. */
  nickname: string;
  /** The avatar URL. */
  profile_picture_url?: string;
  /** Carbon needs `"human"` to show the agent as a person. */
  user_type?: "human" | string;
}

/** Options of `startChat`. */
export interface StartChatOptions {
  /** Old web chat: what the agent app needs, including the session-history key. */
  agentAppInfo?: { sessionHistoryKey?: string; [key: string]: unknown };
  /** Carbon: what a pre-chat form produced. */
  preStartChatPayload?: unknown;
  /** Other fields the host or SDK may add. */
  [key: string]: unknown;
}

/** What `endChat` is told. */
export interface EndChatInfo {
  /** What a pre-end form produced. */
  preEndChatPayload?: unknown;
  /** True when the agent ended the chat (Carbon). */
  endedByHumanAgent?: boolean;
  /** True when the agent ended the chat (old web chat). */
  endedByAgent?: boolean;
  /** Other fields the host or SDK may add. */
  [key: string]: unknown;
}

/** Queue information for `updateAgentAvailability`: Carbon reads camelCase, old web chat snake_case. */
export interface AgentAvailability {
  /** Position in the queue (Carbon). */
  positionInQueue?: number;
  /** Minutes to wait (Carbon). */
  estimatedWaitTime?: number;
  /** A message shown while waiting. */
  message?: string;
  /** Position in the queue (old web chat). */
  position_in_queue?: number;
  /** Minutes to wait (old web chat). */
  estimated_wait_time?: number;
}

/** What `setErrorStatus` takes: 1 CONNECTING, 2 DISCONNECTED, 3 USER_MESSAGE. */
export type ServiceDeskErrorInfo =
  | { type: 1; messageToUser?: string; logInfo?: unknown }
  | { type: 2; isDisconnected: boolean; logInfo?: unknown }
  | { type: 3; messageID: string; logInfo?: unknown };

/** The file-upload capabilities the desk announces. */
export interface ServiceDeskCapabilities {
  /** Whether the user may upload files. */
  allowFileUploads?: boolean;
  /** Whether several files may go at once. */
  allowMultipleFileUploads?: boolean;
  /** An `accept` string, such as `".png,.pdf,image/png"`. */
  allowedFileUploadTypes?: string;
}

/** What the host gives the desk to talk back. */
export interface ServiceDeskCallback {
  /** Announces file-upload capabilities. */
  updateCapabilities?(capabilities: ServiceDeskCapabilities): void;
  /** Queue position and waiting message. */
  updateAgentAvailability(availability: AgentAvailability): void | Promise<void>;
  /** An agent joined. */
  agentJoined(profile: AgentProfile): void | Promise<void>;
  /** The agent read the user's messages. */
  agentReadMessages(): void | Promise<void>;
  /** The agent is typing or stopped. */
  agentTyping(isTyping: boolean): void | Promise<void>;
  /** A message from the agent. */
  sendMessageToUser(message: MessageResponse | string, agentID?: string): void | Promise<void>;
  /** The chat moves to another agent; `agentJoined` follows. */
  beginTransferToAnotherAgent(profile?: AgentProfile): void | Promise<void>;
  /** The agent left; the chat stays open. */
  agentLeftChat(): void | Promise<void>;
  /** The agent ended the chat; the host then calls `endChat`. */
  agentEndedChat(): void | Promise<void>;
  /** Shows or clears an error. */
  setErrorStatus(info: ServiceDeskErrorInfo): void | Promise<void>;
  /** Marks a file upload done or failed. */
  setFileUploadStatus?(fileID: string, isError?: boolean, errorMessage?: string): void;
  /** Asks the user to share the screen. */
  screenShareRequest?(): Promise<string>;
  /** Screen sharing ended. */
  screenShareEnded?(): void | Promise<void>;
  /** The desk's state kept by the host across reloads (Carbon, web chat 8.x). */
  persistedState?(): unknown;
  /** Replaces or merges the desk's persisted state. */
  updatePersistedState?(state: unknown, mergeWithCurrent?: boolean): void;
}

/** What the host passes to the factory. */
export interface ServiceDeskFactoryParameters {
  /** The callback to talk to the host. */
  callback: ServiceDeskCallback;
  /** The host instance. */
  instance?: unknown;
  /** The desk's state from before a reload. */
  persistedState?: unknown;
  /** Other fields the host or SDK may add. */
  [key: string]: unknown;
}

/** The state `updateState` gives (old web chat). */
export interface ServiceDeskHostState {
  /** The assistant session. */
  sessionID?: string;
  /** The user. */
  userID?: string;
  /** The locale, such as `"en"`. */
  locale?: string;
  /** Other fields the host or SDK may add. */
  [key: string]: unknown;
}

/** What the desk implements for the host. */
export interface ServiceDesk {
  /** The integration's name (at most 40 characters). */
  getName(): string;
  /** Starts a chat; resolves once the chat has been requested. */
  startChat(connectMessage: MessageResponse, options?: StartChatOptions): Promise<void>;
  /** Ends the chat. */
  endChat(info?: EndChatInfo): Promise<void>;
  /** Sends a user message; rejects when it could not be delivered. */
  sendMessageToAgent(
    message: MessageRequest,
    messageID: string,
    additionalData?: { filesToUpload?: FileUpload[] },
  ): Promise<void>;
  /** The user is typing or stopped. */
  userTyping?(isTyping: boolean): Promise<void>;
  /** The user has read the agent's messages. */
  userReadMessages?(): Promise<void>;
  /** Whether agents are online; `null` when unknown. */
  areAnyAgentsOnline?(connectMessage: MessageResponse): Promise<boolean | null>;
  /** Early validation of picked files, answered through `setFileUploadStatus`. */
  filesSelectedForUpload?(uploads: FileUpload[]): void;
  /** Stops screen sharing. */
  screenShareStop?(): Promise<void>;
  /** Resumes after a reload; true when the chat goes on. */
  reconnect?(): Promise<boolean>;
  /** Old web chat: the assistant session's ids and locale. */
  updateState?(state: ServiceDeskHostState): void;
}
