/**
 * A simulated Kustomer Chat Core SDK for tests and the example page: an in-memory
 * `KustomerCore` with an agent-control API, a scripted agent, and fault injection
 * (failing and hanging calls, dropped connections, duplicate and reversed event delivery).
 *
 * Inject a clock (`now`) and a scheduler to make it deterministic; call `dispose()` when done.
 *
 * @example Chat with the scripted agent
 * ```ts
 * import { makeTestJwt, SimulatedKustomerCore } from "./simulator.ts";
 * import { assertEquals } from "@std/assert";
 *
 * // A tiny manual scheduler: nothing runs until we say so.
 * const timers: { fn: () => void; ms: number }[] = [];
 * const core = new SimulatedKustomerCore({
 *   script: { joinDelayMs: 10, replyDelayMs: 10, typingMs: 10 },
 *   scheduler: {
 *     setTimeout: (fn, ms) => timers.push({ fn, ms }),
 *     clearTimeout: () => {},
 *   },
 *   objectUrls: false,
 * });
 * const call = <T>(fn: (cb: (r: T | undefined, e?: unknown) => void) => void) =>
 *   new Promise<T>((resolve, reject) => fn((r, e) => (e ? reject(e) : resolve(r as T))));
 *
 * const received: string[] = [];
 * core.addListener("onMessageReceived", (m) => received.push(m.body));
 *
 * await call((cb) => core.init({ brandId: "brand-1" }, cb));
 * await call((cb) =>
 *   core.login({ jwtToken: makeTestJwt({ externalId: "u-1", iat: Math.floor(Date.now() / 1000) }) }, cb)
 * );
 * const { conversationId } = await call<{ conversationId: string }>((cb) =>
 *   core.createConversation({ title: "Order help" }, cb)
 * );
 * await call((cb) => core.sendMessage({ conversationId, body: "Hello" }, cb));
 *
 * // The agent types, then greets.
 * timers.shift()!.fn();
 * timers.shift()!.fn();
 * await Promise.resolve();
 * assertEquals(received, ["Hi, I'm Ada. How can I help you today?"]);
 * core.dispose();
 * ```
 *
 * @module
 */

export {
  DEFAULT_AGENTS,
  makeTestJwt,
  MAX_AGENT_REPLY_LENGTH,
  MAX_ATTACHMENT_BYTES,
  MAX_JWT_AGE_SECONDS,
  MAX_MESSAGE_ATTACHMENT_BYTES,
  MAX_TEXT_ATTRIBUTE_LENGTH,
  MAX_TITLE_LENGTH,
  SIM_METHODS,
  SimulatedKustomerCore,
} from "./src/simulator.ts";
export type {
  SimAgent,
  SimAgentSendOptions,
  SimAvailability,
  SimCall,
  SimConnection,
  SimConversation,
  SimConversationState,
  SimCustomer,
  SimCustomerState,
  SimDeliveryMode,
  SimFailOptions,
  SimFaultError,
  SimFaults,
  SimHangOptions,
  SimInitResponse,
  SimLogin,
  SimMethod,
  SimNetworkOptions,
  SimReadReceipt,
  SimScheduler,
  SimScriptOptions,
  SimServerState,
  SimSettings,
  SimState,
  SimulatedKustomerCoreOptions,
  SimUncaughtError,
} from "./src/simulator.ts";
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
