/**
 * The reload storm's page: the built desk, a host double that behaves as Carbon AI Chat 1.9 does,
 * and the simulated Kustomer whose server state lives in `localStorage` (written after every change,
 * so a reload loses only what the real Kustomer would not have had: requests still on the way and
 * answers and events not yet delivered).
 *
 * What the host double copies from Carbon 1.9.1 (`dist/es/chat.ChatAppEntry.js`):
 * - its state (`isConnected`, the agent's profile, the desk's persisted state) is kept in
 *   `sessionStorage`; `updatePersistedState(partial)` merges as lodash `merge` does (an `undefined`
 *   value does not clear a key), `updatePersistedState(state, false)` replaces;
 * - on load: the history (`customLoadHistory`, here the desk's `loadChatHistory()` as the README
 *   wires it), then the factory, then `reconnect()` only if an agent had joined; a `false` ends the
 *   chat on the host;
 * - callbacks that add a message fire `human_agent:pre_receive` and `human_agent:receive`, and an
 *   event of a type already running rejects ("An event of type ... is already running"); the
 *   page's `human_agent:receive` handler calls the desk's `userReadMessages()` (README wiring);
 * - callbacks are ignored while no chat is started (`chatStarted`), `USER_MESSAGE` errors too;
 * - `endChat` is awaited at most 5 s; `agentEndedChat` makes the host call `endChat`.
 *
 * Everything the user could see is appended to a log in `localStorage` for the storm to check.
 *
 * @module
 */

import {
  type HistoryItem,
  kustomerServiceDeskFactory,
  loadChatHistory,
  type MessageResponse,
  type ServiceDesk,
  type ServiceDeskCallback,
  type ServiceDeskErrorInfo,
} from "../../mod.ts";
import {
  makeTestJwt,
  SIM_METHODS,
  type SimServerState,
  SimulatedKustomerCore,
} from "../../simulator.ts";

/** `localStorage`: the simulated Kustomer server. */
export const SERVER_KEY = "storm:server";
/** `localStorage`: what the user saw and did, page by page. */
export const LOG_KEY = "storm:log";
/** `sessionStorage`: the host's persisted state (Carbon keeps its own there). */
export const CARBON_KEY = "storm:carbon";

/** One entry of the storm log. */
export interface StormLogEntry {
  /** The page lifetime (0 for the first page of a trial, then one more per load). */
  page: number;
  /** What happened. */
  kind: string;
  /** Text shown or sent. */
  text?: string;
  /** A user message's request id. */
  id?: string;
  /** Other details. */
  [key: string]: unknown;
}

interface CarbonState {
  isConnected: boolean;
  serviceDeskState?: unknown;
  profile?: unknown;
}

const params = new URLSearchParams(location.search);
const pageNo = Number(params.get("page") ?? 0);
const networkSeed = Number(params.get("seed") ?? 1);
const historyKey = params.get("key") ?? "storm-key";

function record(entry: { kind: string; [key: string]: unknown }): void {
  const log = JSON.parse(localStorage.getItem(LOG_KEY) ?? "[]") as StormLogEntry[];
  log.push({ page: pageNo, at: Date.now(), ...entry });
  localStorage.setItem(LOG_KEY, JSON.stringify(log));
}

addEventListener("pagehide", () => record({ kind: "unload" }));
addEventListener("error", (event) => record({ kind: "pageerror", text: String(event.message) }));
addEventListener(
  "unhandledrejection",
  (event) => record({ kind: "unhandledrejection", text: String(event.reason) }),
);

// --- the simulated Kustomer server ---------------------------------------------------------------

function save(): void {
  localStorage.setItem(SERVER_KEY, JSON.stringify(sim.exportState()));
}

const sim = new SimulatedKustomerCore({
  network: { seed: networkSeed, minMs: 0, maxMs: 300 },
  objectUrls: false,
  // Every delayed step (a request reaching the server, an answer, an event) may change the
  // server: save after each.
  scheduler: {
    setTimeout: (fn: () => void, ms: number): unknown =>
      setTimeout(() => {
        fn();
        save();
      }, ms),
    clearTimeout: (id: unknown): void => clearTimeout(id as number),
  },
});
const saved = localStorage.getItem(SERVER_KEY);
if (saved) sim.importState(JSON.parse(saved) as SimServerState);
{
  const core = sim as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of [...SIM_METHODS, "agentSend", "agentTyping", "agentEnd"]) {
    const method = core[name].bind(sim);
    core[name] = (...args: unknown[]) => {
      const result = method(...args);
      save();
      return result;
    };
  }
}

// --- the host double ---------------------------------------------------------------------------

const carbon: CarbonState = JSON.parse(
  sessionStorage.getItem(CARBON_KEY) ?? '{"isConnected":false}',
) as CarbonState;
const persist = () => sessionStorage.setItem(CARBON_KEY, JSON.stringify(carbon));
let chatStarted = false;
let isConnecting = false;
let isReconnecting = false;
let showingDisconnected = false;
// Assigned once, after the history has loaded (Carbon's order); read by earlier closures.
// deno-lint-ignore prefer-const
let desk: ServiceDesk | undefined;
let sent = 0;
const handlers = new Map<string, ((event: unknown) => unknown)[]>();
const running = new Set<string>();

/** Carbon's event bus: one event of a type at a time; an overlapping one rejects. */
async function fire(type: string, event: unknown = { type }): Promise<void> {
  if (running.has(type)) {
    record({ kind: "overlap", text: type });
    throw new Error(
      `An event of type ${type} is already running. Please make sure that you have resolved the Promises for any earlier events that were fired.`,
    );
  }
  running.add(type);
  try {
    // As Carbon's bus: with no handler, the event starts and ends at once (no window to overlap).
    for (const handler of [...(handlers.get(type) ?? [])]) await handler(event);
  } finally {
    running.delete(type);
  }
}

const instance = {
  /** Carbon's public state, the parts a desk reads. */
  getState: () => ({
    viewState: { mainWindow: true },
    humanAgent: { isConnected: carbon.isConnected, isConnecting, isReconnecting },
  }),
  messaging: {
    /** A `connect_to_agent` item starts the chat (`serviceDesk.skipConnectHumanAgentCard`). */
    addMessage(message: MessageResponse): Promise<void> {
      const connect = (message.output?.generic ?? []).some((item) =>
        (item as { response_type?: string }).response_type === "connect_to_agent"
      );
      record({ kind: "addMessage", text: textsOf(message), connect });
      if (connect) void requestAgent(message);
      return Promise.resolve();
    },
  },
  on({ type, handler }: { type: string; handler: (event: unknown) => unknown }) {
    handlers.set(type, [...(handlers.get(type) ?? []), handler]);
  },
  off({ type, handler }: { type: string; handler: (event: unknown) => unknown }) {
    handlers.set(type, (handlers.get(type) ?? []).filter((h) => h !== handler));
  },
};
// The README's wiring: read receipts when an agent message is shown.
instance.on({ type: "human_agent:receive", handler: () => desk?.userReadMessages?.() });

/** lodash `merge` as Carbon uses it: deep, and an `undefined` source value keeps the old one. */
function merge(target: unknown, source: unknown): unknown {
  if (!isPlain(source)) return source === undefined ? target : structuredClone(source);
  const out: Record<string, unknown> = isPlain(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    out[key] = isPlain(value) ? merge(out[key], value) : structuredClone(value);
  }
  return out;
}

function isPlain(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function textsOf(message: MessageResponse | string): string {
  if (typeof message === "string") return message;
  return (message.output?.generic ?? [])
    .map((item) => (item as { text?: string }).text ?? "")
    .join(" ");
}

/** A host notice (agent joined, chat ended, ...): a message through the bus, as Carbon adds it. */
async function notice(kind: string, detail: Record<string, unknown> = {}): Promise<void> {
  await fire("human_agent:pre_receive");
  record({ kind: "notice", text: kind, ...detail });
  await fire("human_agent:receive");
}

async function doEndChat(endedByHumanAgent: boolean): Promise<void> {
  const wasConnected = carbon.isConnected;
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      desk!.endChat({ endedByHumanAgent, preEndChatPayload: null }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("endChat took over 5 s")), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    record({ kind: "endChatResolved" });
  } catch (error) {
    record({ kind: "endChatRejected", text: String(error) });
  }
  if (wasConnected) await notice(endedByHumanAgent ? "agentEnded" : "userEnded");
  chatStarted = false;
  isConnecting = false;
  carbon.isConnected = false;
  carbon.profile = null;
  persist();
  record({ kind: "ended", by: endedByHumanAgent ? "agent" : "user" });
  await fire("human_agent:end_chat");
}

const callback: ServiceDeskCallback = {
  updateCapabilities() {},
  async updateAgentAvailability() {},
  async agentJoined(profile) {
    if (!chatStarted) return void record({ kind: "ignored", text: "agentJoined" });
    carbon.isConnected = true;
    carbon.profile = profile;
    isConnecting = false;
    persist();
    await notice("joined", { agent: profile?.id });
  },
  async agentReadMessages() {},
  agentTyping(isTyping) {
    if (carbon.isConnected) record({ kind: "typing", typing: isTyping });
    return Promise.resolve();
  },
  async sendMessageToUser(message, agentID) {
    if (!chatStarted || !message) {
      return void record({ kind: "dropped", text: message ? textsOf(message) : "" });
    }
    await fire("human_agent:pre_receive");
    record({ kind: "shown", via: "live", text: textsOf(message), agent: agentID });
    await fire("human_agent:receive");
  },
  async beginTransferToAnotherAgent(profile) {
    if (!chatStarted) return;
    if (profile) {
      carbon.isConnected = true;
      carbon.profile = profile;
      persist();
    }
    await notice("transfer", { agent: profile?.id });
  },
  async agentLeftChat() {
    if (!chatStarted) return;
    await notice("left");
  },
  async agentEndedChat() {
    if (!chatStarted) return void record({ kind: "ignored", text: "agentEndedChat" });
    await fire("human_agent:pre_end_chat");
    await doEndChat(true);
  },
  async setErrorStatus(info: ServiceDeskErrorInfo) {
    if (!chatStarted) return void record({ kind: "ignored", text: `setErrorStatus ${info.type}` });
    let type = info.type;
    const disconnected = (info as { isDisconnected?: boolean }).isDisconnected;
    if (isConnecting && type === 2 && disconnected) type = 1;
    if (type === 2) {
      if (disconnected) {
        showingDisconnected = true;
        await notice("disconnected");
      } else if (showingDisconnected) {
        showingDisconnected = false;
        await notice("reconnected");
      }
    } else if (type === 1) {
      record({ kind: "connectingError" });
      isConnecting = false;
      chatStarted = false;
      await fire("human_agent:end_chat");
    } else if (type === 3) {
      record({ kind: "failedStatus", id: (info as { messageID?: string }).messageID });
    }
  },
  async setFileUploadStatus() {},
  screenShareRequest: () => Promise.resolve("declined"),
  async screenShareEnded() {},
  persistedState: () => carbon.serviceDeskState,
  updatePersistedState(state: unknown, mergeWithCurrent = true) {
    carbon.serviceDeskState = mergeWithCurrent
      ? merge(structuredClone(carbon.serviceDeskState ?? {}), state)
      : structuredClone(state);
    persist();
  },
} as ServiceDeskCallback;

const factory = kustomerServiceDeskFactory({
  core: sim,
  getJwt: () => {
    const token = makeTestJwt({
      externalId: "storm-user",
      iat: Math.floor(Date.now() / 1000),
      jti: crypto.randomUUID(),
    });
    const tokens = JSON.parse(localStorage.getItem("storm:tokens") ?? "[]") as string[];
    localStorage.setItem("storm:tokens", JSON.stringify([...tokens, token]));
    return Promise.resolve(token);
  },
  logger: { warn: (message: string) => record({ kind: "warn", text: message }) },
});

const connectMessage = {
  id: "connect",
  output: {
    generic: [{
      response_type: "connect_to_agent",
      message_to_human_agent: "The user asked for an agent.",
      transfer_info: { session_history_key: historyKey },
    }],
  },
} as unknown as MessageResponse;

/** The user asks for an agent (Carbon's `startChat`). */
async function requestAgent(message: MessageResponse = connectMessage): Promise<void> {
  if (!desk) return;
  if (chatStarted) return void record({ kind: "refused", text: "a chat is already running" });
  chatStarted = true;
  await fire("human_agent:pre_start_chat");
  isConnecting = true;
  record({ kind: "startChat" });
  try {
    await desk.startChat(message, { preStartChatPayload: undefined });
    record({ kind: "startResolved" });
  } catch (error) {
    record({ kind: "startRejected", text: String(error) });
    await callback.setErrorStatus({ type: 1 } as ServiceDeskErrorInfo);
    isConnecting = false;
    chatStarted = false;
  }
}

/** The user types a message to the agent (only routed to the agent while a chat is started). */
async function userSend(text: string): Promise<void> {
  if (!desk || !chatStarted) return void record({ kind: "notHanded", text });
  await fire("human_agent:pre_send");
  const id = `req-${pageNo}-${++sent}`;
  record({ kind: "handed", id, text });
  try {
    await desk.sendMessageToAgent(
      { id, input: { text, message_type: "text", agent_message_type: "from_user" } } as never,
      `local-${pageNo}-${sent}`,
      { filesToUpload: [] },
    );
    record({ kind: "sendResolved", id });
  } catch (error) {
    record({ kind: "sendRejected", id, text: String(error) });
  }
}

/** The user ends the chat (Carbon's `endChat(true)`). */
async function userEnd(): Promise<void> {
  if (!desk || !chatStarted) return void record({ kind: "notEnded" });
  record({ kind: "userEnd" });
  if (carbon.isConnected) await fire("human_agent:pre_end_chat");
  await doEndChat(false);
}

/** The conversation the agent works on: the newest that is open and not a draft. */
function agentConversation(): string | undefined {
  return sim.conversations.filter((c) => !c.ended && !c.isDraft).at(-1)?.conversationId;
}

/** Every IndexedDB record of this origin, as text (to look for secrets). */
async function indexedDbText(): Promise<string> {
  const parts: string[] = [];
  for (const info of await indexedDB.databases()) {
    if (!info.name) continue;
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(info.name!);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    for (const name of db.objectStoreNames) {
      const store = db.transaction(name).objectStore(name);
      const [keys, values] = await Promise.all(
        [store.getAllKeys(), store.getAll()].map((r) =>
          new Promise<unknown[]>((resolve, reject) => {
            r.onsuccess = () => resolve(r.result);
            r.onerror = () => reject(r.error);
          })
        ),
      );
      parts.push(JSON.stringify({ db: info.name, store: name, keys, values }));
    }
    db.close();
  }
  return parts.join("\n");
}

const storm = {
  ready: false,
  requestAgent: () => void requestAgent(),
  userSend: (text: string) => void userSend(text),
  userEnd: () => void userEnd(),
  agentSend(text: string): string | undefined {
    const conversationId = agentConversation();
    if (!conversationId) return undefined;
    sim.agentSend(conversationId, text);
    record({ kind: "agentSent", text, conversationId });
    return conversationId;
  },
  agentTyping(typing: boolean): void {
    const conversationId = agentConversation();
    if (conversationId) sim.agentTyping(conversationId, typing);
  },
  agentEnd(): string | undefined {
    const conversationId = agentConversation();
    if (!conversationId) return undefined;
    sim.agentEnd(conversationId);
    record({ kind: "agentEnd", conversationId });
    return conversationId;
  },
  /** What the storm checks: the server, the log, the host's state. */
  snapshot() {
    return {
      server: JSON.parse(localStorage.getItem(SERVER_KEY) ?? "null") as SimServerState | null,
      log: JSON.parse(localStorage.getItem(LOG_KEY) ?? "[]") as StormLogEntry[],
      tokens: JSON.parse(localStorage.getItem("storm:tokens") ?? "[]") as string[],
      chatStarted,
      isConnected: carbon.isConnected,
      deskPointer: isPlain(carbon.serviceDeskState) && !!carbon.serviceDeskState.escalationId,
    };
  },
  indexedDbText,
};
(globalThis as unknown as { storm: typeof storm }).storm = storm;

// --- boot, in Carbon's order -------------------------------------------------------------------

record({ kind: "load", isConnected: carbon.isConnected });
try {
  const history: HistoryItem[] = await loadChatHistory();
  for (const item of history) {
    const message = item.message as {
      input?: { text?: string };
      id?: string;
      history?: { error_state?: number };
    };
    if (message.input) {
      record({ kind: "history", from: "user", id: message.id, text: message.input.text });
      // Carbon draws a history item with error_state 2 (FAILED) as failed.
      if (message.history?.error_state === 2) record({ kind: "failedStatus", id: message.id });
    } else {record({
        kind: "shown",
        via: "history",
        text: textsOf(item.message as MessageResponse),
      });}
  }
} catch (error) {
  record({ kind: "historyError", text: String(error) });
}
desk = factory({ callback, instance, persistedState: structuredClone(carbon.serviceDeskState) });

/** Carbon's `handleHydration`: reconnect only if an agent had joined; `false` ends the chat. */
async function hydrate(): Promise<void> {
  if (!carbon.isConnected) return;
  chatStarted = true;
  let resumed = false;
  try {
    isReconnecting = true;
    resumed = (await desk!.reconnect?.()) ?? false;
  } catch (error) {
    record({ kind: "reconnectError", text: String(error) });
  }
  isReconnecting = false;
  record({ kind: "reconnect", result: resumed });
  if (!carbon.isConnected) chatStarted = false;
  else if (!resumed) {
    chatStarted = false;
    carbon.isConnected = false;
    carbon.profile = null;
    persist();
  }
}

// Carbon does not await the hydration before it fires `chat:ready`.
const hydrated = hydrate();
await fire("chat:ready").catch(() => {});
await hydrated;
storm.ready = true;
