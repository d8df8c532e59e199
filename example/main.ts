/**
 * The example page (`example.html`, served by `deno task dev`).
 *
 * - Default: no account, no network. Carbon AI Chat is the chat host, a scripted bot escalates
 *   when the user asks for an agent, and the simulated Kustomer agent answers. The simulator's
 *   server state is kept in `localStorage` (see `persistent_sim.ts`), the bot's part of the
 *   transcript in `sessionStorage`, and the agent part comes from the desk's log, so a reload in
 *   the middle of a chat carries on. The agent console beside the chat shows the agent's side.
 * - Real: with `?integrationID=…&region=…&serviceInstanceID=…&apiKey=…` (or `window.exampleConfig`)
 *   the page loads IBM's watsonx Assistant web chat and Kustomer's core.js instead.
 *
 * Built by `build.ts` into `dist/example.js`; its imports of the desk and the simulator become
 * imports of the built bundles (`dist/kustomer-service-desk.js`, `dist/simulator.js`).
 *
 * @module
 */

import {
  type HistoryItem,
  kustomerServiceDeskFactory,
  type KustomerServiceDeskOptions,
  loadChatHistory,
  type MessageRequest,
  type MessageResponse,
  type ServiceDesk,
  type ServiceDeskFactoryParameters,
} from "../mod.ts";
import { DEFAULT_AGENTS, makeTestJwt, type SimulatedKustomerCore } from "../simulator.ts";
import { openPersistentSimulator, type PersistentSimulator } from "./persistent_sim.ts";

/** Settings of the real mode. */
interface RealConfig {
  integrationID?: string;
  region?: string;
  serviceInstanceID?: string;
  apiKey?: string;
  brandId?: string;
  clientVersion?: string;
}

/** The little of Carbon's instance the page uses. */
interface CarbonInstance {
  messaging: { addMessage(message: MessageResponse): Promise<void> | void };
  on(handler: { type: string; handler: (event: unknown) => void }): void;
}

/** The little of the `cds-aichat-container` element the page sets. */
interface CarbonElement extends HTMLElement {
  openChatByDefault: boolean;
  exposeServiceManagerForTesting: boolean;
  messaging: {
    customSendMessage(
      request: MessageRequest,
      options: unknown,
      instance: CarbonInstance,
    ): Promise<void>;
    customLoadHistory(instance: CarbonInstance): Promise<HistoryItem[]>;
  };
  serviceDesk: { skipConnectHumanAgentCard?: boolean };
  serviceDeskFactory: (parameters: ServiceDeskFactoryParameters) => Promise<ServiceDesk>;
  onAfterRender: (instance: CarbonInstance) => void;
}

/** What the page exposes on `window.example` (for people in the console, and for tests). */
export interface ExampleHandle {
  mode: "simulated" | "real";
  sim?: SimulatedKustomerCore;
  persistent?: PersistentSimulator;
  desk?: ServiceDesk;
  instance?: CarbonInstance;
  factoryCalls: unknown[];
  botHistory: HistoryItem[];
  /** The conversation the agent console shows. */
  conversationId(): string | undefined;
  /** Forgets everything (simulator, bot transcript, this tab's chat) and reloads. */
  reset(): Promise<void>;
}

declare global {
  var example: ExampleHandle;
  var exampleConfig: RealConfig | undefined;
  var watsonAssistantChatOptions: unknown;
  /** Where real mode loads web chat from (tests point it at an address that fails). */
  var exampleWebChatUrl: string | undefined;
}

const SIM_KEY = "kustomer-example:simulator";
const BOT_KEY = "kustomer-example:bot";
const WELCOME = 'Hi! I\'m the example assistant. Ask me anything, or type "agent" to talk to ' +
  "a person (a simulated Kustomer agent).";

/**
 * A made-up session-history key, in the form of a real one (which comes from watsonx web chat and
 * holds an auth code, a secret). Joined at run time: the build refuses key-shaped strings.
 */
const DEMO_HISTORY_KEY = ["example", "v2", "demo-auth-code", "demo-session", "example", "example"]
  .join("::");

const params = new URLSearchParams(location.search);
const real: RealConfig = { ...globalThis.exampleConfig };
for (const k of ["integrationID", "region", "serviceInstanceID", "apiKey", "brandId"] as const) {
  const v = params.get(k);
  if (v) real[k] = v;
}

globalThis.example = {
  mode: real.integrationID ? "real" : "simulated",
  factoryCalls: [],
  botHistory: [],
  conversationId: () => undefined,
  reset: async () => {},
};

if (globalThis.example.mode === "real") startReal(real);
else await startSimulated();

// ---------------------------------------------------------------------------------------------
// Real mode: IBM's web chat and Kustomer's core.js (needs accounts and the network).
// ---------------------------------------------------------------------------------------------

function startReal(config: RealConfig): void {
  document.body.classList.add("real");
  const missing = (["integrationID", "region", "serviceInstanceID", "apiKey"] as const)
    .filter((k) => !config[k]);
  if (missing.length) {
    failed(`Real mode needs ${missing.join(", ")} (query string or window.exampleConfig).`);
    return;
  }
  const options: KustomerServiceDeskOptions = {
    apiKey: config.apiKey,
    ...(config.brandId ? { init: { brandId: config.brandId } } : {}),
  };
  const factory = kustomerServiceDeskFactory(options);
  globalThis.watsonAssistantChatOptions = {
    integrationID: config.integrationID,
    region: config.region,
    serviceInstanceID: config.serviceInstanceID,
    serviceDeskFactory: (parameters: ServiceDeskFactoryParameters) => {
      globalThis.example.factoryCalls.push(parameters.persistedState ?? null);
      return (globalThis.example.desk = factory(parameters));
    },
    onLoad: async (instance: { render(): Promise<void> }) => {
      try {
        await instance.render();
        status(`Real mode: watsonx web chat (integration ${config.integrationID}) with Kustomer.`);
      } catch (error) {
        failed(`Real mode failed: web chat did not start (${(error as Error).message}).`);
      }
    },
  };
  const script = document.createElement("script");
  script.src = globalThis.exampleWebChatUrl ??
    `https://web-chat.global.assistant.watson.appdomain.cloud/versions/${
      config.clientVersion ?? "latest"
    }/WatsonAssistantChatEntry.js`;
  // A web chat that cannot load is said on the page, not only in the console.
  script.addEventListener("error", () =>
    failed(
      `Real mode failed: IBM's watsonx web chat could not be loaded from ${script.src}. ` +
        "Check the network (and any content blocker), then reload.",
    ));
  document.head.append(script);
  status(`Real mode: loading watsonx web chat (integration ${config.integrationID})…`);
}

// ---------------------------------------------------------------------------------------------
// Simulated mode: Carbon AI Chat, a scripted bot, the simulated Kustomer agent.
// ---------------------------------------------------------------------------------------------

async function startSimulated(): Promise<void> {
  const delay = Number(params.get("agentDelay") ?? NaN);
  const script = Number.isFinite(delay)
    ? { joinDelayMs: delay, replyDelayMs: delay, typingMs: delay }
    : true;
  if (params.has("reset")) {
    localStorage.removeItem(SIM_KEY);
    sessionStorage.clear();
  }
  const persistent = openPersistentSimulator(SIM_KEY, { script });
  const sim = persistent.sim;
  const handle = globalThis.example;
  handle.sim = sim;
  handle.persistent = persistent;
  handle.botHistory = loadBotHistory();
  handle.conversationId = () => sim.conversations.at(-1)?.conversationId;
  handle.reset = async () => {
    persistent.reset();
    sessionStorage.clear();
    await new Promise<void>((resolve) => {
      const request = indexedDB.deleteDatabase("kustomer-service-desk");
      request.onsuccess = request.onerror = request.onblocked = () => resolve();
    });
    location.reload();
  };

  const factory = kustomerServiceDeskFactory({
    core: sim,
    // The scripted agent reacts to words such as "transfer" in any customer message, including
    // the first one the desk sends; keep that word out of it.
    transferMessage: "A customer was handed over to you from the web chat assistant.",
    getJwt: () =>
      Promise.resolve(
        makeTestJwt({ externalId: "example-user", iat: Math.floor(Date.now() / 1000) }),
      ),
    conversationSummary: () =>
      handle.botHistory.map((item) => {
        const m = item.message as MessageRequest & MessageResponse;
        if (m.input) return `Customer: ${m.input.text ?? ""}`;
        const text = m.output?.generic?.map((g) => g.text ?? "").join(" ") ?? "";
        return `Assistant: ${text}`;
      }).join("\n"),
  });

  await import("./carbon.ts");
  const chat = document.createElement("cds-aichat-container") as unknown as CarbonElement;
  chat.openChatByDefault = true;
  chat.exposeServiceManagerForTesting = true;
  chat.messaging = {
    customSendMessage: async (request, _options, instance) => {
      const text = request.input?.text ?? "";
      const time = new Date().toISOString();
      if (text) {
        recordBot(handle, {
          time,
          message: { id: request.id, input: { text, message_type: "text" } },
        });
      }
      const wantsAgent = /\b(agent|human|person|someone)\b/i.test(text);
      const response: MessageResponse = {
        id: crypto.randomUUID(),
        output: {
          generic: [
            wantsAgent
              ? {
                response_type: "connect_to_agent",
                message_to_human_agent: `The customer asked: "${text}"`,
                // Carbon has no session history of its own; a made-up key shows where a real
                // watsonx web chat key goes (the agent's Insight Card reads this attribute).
                transfer_info: { session_history_key: DEMO_HISTORY_KEY },
                agent_available: { message: "An agent will be with you shortly." },
                agent_unavailable: { message: "No agent is online right now." },
              }
              : { response_type: "text", text: text ? botAnswer(text) : WELCOME },
          ],
        },
      };
      if (!wantsAgent) recordBot(handle, { time: new Date().toISOString(), message: response });
      await instance.messaging.addMessage(response);
    },
    customLoadHistory: async () => {
      const agentPart = await loadChatHistory().catch((error) => {
        console.warn("example: could not load the agent chat", error);
        return [] as HistoryItem[];
      });
      return [...handle.botHistory, ...agentPart].sort((a, b) => a.time.localeCompare(b.time));
    },
  };
  chat.serviceDesk = { skipConnectHumanAgentCard: true };
  chat.serviceDeskFactory = (parameters) => {
    handle.factoryCalls.push(parameters.persistedState ?? null);
    return Promise.resolve(handle.desk = factory(parameters));
  };
  chat.onAfterRender = (instance) => {
    // No read-receipt code here: the desk marks agent messages read itself (parameters.instance).
    handle.instance = instance;
  };
  document.getElementById("chat")!.append(chat);
  startConsole(sim, handle);
  status("Simulated mode: Carbon AI Chat, a scripted bot and a simulated Kustomer agent.");
}

function botAnswer(text: string): string {
  if (/\b(hi|hello|hey)\b/i.test(text)) return 'Hello! Type "agent" to talk to a person.';
  if (/\bhours?\b/i.test(text)) return "We're open around the clock (this is a simulation).";
  return `I'm only a scripted bot and can't help with "${text}". Type "agent" to talk to a person.`;
}

function loadBotHistory(): HistoryItem[] {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(BOT_KEY) ?? "[]");
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

function recordBot(handle: ExampleHandle, item: HistoryItem): void {
  handle.botHistory.push(item);
  sessionStorage.setItem(BOT_KEY, JSON.stringify(handle.botHistory));
}

function status(text: string): void {
  const el = document.getElementById("mode");
  if (el) el.textContent = text;
}

/** Shows a failure on the page (and in the console). */
function failed(text: string): void {
  console.error(`example: ${text}`);
  status(text);
  const el = document.getElementById("mode");
  el?.classList.add("failed");
  el?.setAttribute("role", "alert");
}

// ---------------------------------------------------------------------------------------------
// The agent console: the simulated agent's side of the chat.
// ---------------------------------------------------------------------------------------------

function startConsole(sim: SimulatedKustomerCore, handle: ExampleHandle): void {
  const root = document.getElementById("agent-console")!;
  root.hidden = false;
  const $ = <T extends HTMLElement>(id: string) => root.querySelector<T>(`[data-testid="${id}"]`)!;
  const input = $<HTMLInputElement>("console-input");
  const act = (fn: (conversationId: string) => void) => () => {
    const id = handle.conversationId();
    if (!id) return flash("No conversation yet: ask the bot for an agent first.");
    try {
      fn(id);
    } catch (error) {
      flash((error as Error).message);
    }
    render();
  };
  const flash = (text: string) => {
    $("console-error").textContent = text;
  };
  let typing = false;
  /** The agent sent a message: their typing indicator goes off (in the chat and here). */
  const stopTyping = (id: string) => {
    if (typing) sim.agentTyping(id, false);
    typing = false;
    $("console-typing").textContent = "Type…";
  };
  const send = act((id) => {
    const text = input.value.trim();
    if (!text) return;
    stopTyping(id);
    sim.agentSend(id, text);
    input.value = "";
    flash("");
  });
  $("console-quick").addEventListener(
    "click",
    act((id) => {
      stopTyping(id);
      sim.agentSend(id, input.value.trim() || "How would you like to continue?", {
        quickReplies: [
          { displayText: "Keep chatting", value: "keep_chatting" },
          { displayText: "That's all, thanks", value: "done" },
        ],
      });
      input.value = "";
    }),
  );
  $("console-send").addEventListener("click", send);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") send();
  });
  $("console-typing").addEventListener(
    "click",
    act((id) => {
      typing = !typing;
      sim.agentTyping(id, typing);
      $("console-typing").textContent = typing ? "Stop typing" : "Type…";
    }),
  );
  $("console-transfer").addEventListener(
    "click",
    act((id) => {
      const conv = sim.conversations.find((c) => c.conversationId === id);
      const next = conv?.agent?.id === DEFAULT_AGENTS[1].id ? DEFAULT_AGENTS[0] : DEFAULT_AGENTS[1];
      sim.transfer(id, next);
      sim.agentSend(
        id,
        `Hi, I'm ${next.displayName}. I've read your conversation and I'll take it from here.`,
      );
    }),
  );
  $("console-end").addEventListener("click", act((id) => sim.agentEnd(id)));
  $("console-reset").addEventListener("click", () => void handle.reset());

  let last = "";
  const render = () => {
    const id = handle.conversationId();
    const conv = sim.conversations.find((c) => c.conversationId === id);
    const messages = id ? sim.messagesOf(id) : [];
    const read = new Set<string>();
    for (const r of sim.readReceipts) {
      if (r.conversationId !== id) continue;
      for (const m of messages) {
        if (!r.messageIds || r.messageIds.includes(m.messageId)) read.add(m.messageId);
      }
    }
    const view = {
      id,
      state: !conv ? "no conversation" : conv.ended ? "ended" : conv.isDraft ? "draft" : "open",
      agent: conv?.agent?.displayName ?? "(nobody yet)",
      customer: conv?.customerId ?? "",
      typing: id ? sim.typingOf(id) === true : false,
      attributes: id ? sim.customAttributesOf(id) : {},
      earlier: sim.conversations.length - (conv ? 1 : 0),
      messages: messages.map((m) => ({
        id: m.messageId,
        out: m.direction === "out",
        who: m.direction === "out" ? m.sentBy?.displayName ?? "agent" : "Customer",
        body: m.body ?? "",
        choices: (m.meta?.template?.actions ?? []).map((a) => a.displayText ?? ""),
        files: (m.attachments ?? []).map((a) => a.name ?? "file"),
        read: read.has(m.messageId),
      })),
    };
    const json = JSON.stringify(view);
    if (json === last) return;
    last = json;
    $("console-conversation").textContent = view.id
      ? `${view.id} · ${view.state} · agent: ${view.agent} · customer: ${view.customer}` +
        (view.earlier ? ` · ${view.earlier} earlier` : "")
      : "No conversation yet.";
    $("console-typing-state").textContent = view.typing ? "Customer is typing…" : "";
    $("console-attributes").textContent = Object.keys(view.attributes).length
      ? JSON.stringify(view.attributes, null, 1)
      : "(no custom attributes)";
    const list = $("console-messages");
    list.replaceChildren(...view.messages.map((m) => {
      const li = document.createElement("li");
      li.dataset.testid = "console-message";
      li.dataset.direction = m.out ? "out" : "in";
      li.dataset.read = String(m.read);
      li.className = m.out ? "out" : "in";
      const who = document.createElement("b");
      who.textContent = `${m.who}: `;
      const body = document.createElement("span");
      body.dataset.testid = "console-message-body";
      body.textContent = m.body + (m.files.length ? ` [files: ${m.files.join(", ")}]` : "");
      li.append(who, body);
      if (m.choices.length) {
        const choices = document.createElement("div");
        choices.className = "choices";
        choices.dataset.testid = "console-choices";
        choices.textContent = `choices: ${m.choices.join(" · ")}`;
        li.append(choices);
      }
      if (m.out) {
        const tick = document.createElement("small");
        tick.textContent = m.read ? " ✓ read" : " sent";
        li.append(tick);
      }
      return li;
    }));
    list.scrollTop = list.scrollHeight;
  };
  render();
  setInterval(render, 200);
}
