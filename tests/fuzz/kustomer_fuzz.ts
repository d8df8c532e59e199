/**
 * The Kustomer-side fuzzer: one seeded case is a chat through the public desk, with hostile
 * payloads thrown at the listeners the desk registered, hostile callbacks on chosen calls, lost
 * connections, duplicated and reversed delivery, and real agent messages in between. After the
 * case it checks the invariants: nothing thrown, every host callback well formed, every valid agent
 * message shown exactly once, user messages sent at most once, and the log replays into the same
 * state in a fresh desk.
 */

import {
  type KustomerMessage,
  type KustomerServiceDesk,
  kustomerServiceDeskFactory,
  loadChatHistory,
  type LogHead,
  type LogSnapshot,
  MemoryLogStore,
} from "../../mod.ts";
import { DEFAULT_AGENTS, makeTestJwt, SimulatedKustomerCore } from "../../simulator.ts";
import { CALL_FAULTS, HostileCore } from "./hostile_core.ts";
import { CheckedHost, ManualClock, watchUnhandled } from "./checked_host.ts";
import { NASTY_IDS, NASTY_TEXTS, randomText, Rng } from "./rng.ts";

/** What one case found. */
export interface CaseResult {
  /** The case's seed (replay it with `--case`). */
  readonly seed: number;
  /** Errors thrown where nothing should throw. */
  readonly crashes: string[];
  /** Broken invariants. */
  readonly violations: string[];
  /** What the case did, step by step (for a replayed case). */
  readonly steps: string[];
  /** What the desk warned about. */
  readonly warnings: string[];
}

const HEARTBEAT_MS = 5_000;
const RETRY_MS = 2_000;
const TIMEOUT_MS = 1_000;

const CALLBACK_METHODS = [
  "init",
  "login",
  "createConversation",
  "sendMessage",
  "getMessages",
  "getConversations",
  "describeConversation",
];
const FIRE_METHODS = ["markRead", "sendTypingActivity", "isChatAvailable"];

/** A field value of the wrong type (or absurd size). */
function wrongValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => undefined,
    () => null,
    () => 0,
    () => -1,
    () => NaN,
    () => true,
    () => "",
    () => [],
    () => ({}),
    () => ["a", 1],
    () => ({ nested: { deep: true } }),
    () => "y".repeat(rng.pick([2_000, 100_000, 1_000_000])),
    () => rng.pick(NASTY_TEXTS),
  ])();
}

/** An attachment of some shape, good or bad. */
function attachment(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => ({ id: "a1", name: "file.pdf", url: "https://files.example/file.pdf" }),
    () => ({ name: "pic.png", url: "https://files.example/pic.png", contentType: "image/png" }),
    () => ({
      attributes: { name: "nested.txt", url: "https://x/n.txt", contentType: "text/plain" },
    }),
    () => ({
      name: '<img src=x onerror="globalThis.__xss=1">.png',
      contentType: "image/png",
      url: "https://x/y.png",
    }),
    () => ({ name: "evil", url: "javascript:alert(1)" }),
    () => null,
    () => 7,
    () => "attachment",
    () => [],
    () => ({}),
    () => ({ name: 5, url: {}, contentType: 7 }),
    () => ({ name: null, url: null, contentType: null }),
    () => ({ url: "https://x/z", contentType: ["image/png"] }),
    () => ({ attributes: null }),
    () => ({ attributes: "x" }),
    () => ({ attributes: { url: 1, name: {}, contentType: false } }),
    () => ({ name: "n".repeat(100_000), url: "https://x/" + "p".repeat(10_000) }),
  ])();
}

/** A message as the SDK might deliver it, mutated in 0 to 3 ways. */
function hostileMessage(
  rng: Rng,
  conversationId: string,
  n: number,
  earlier: readonly KustomerMessage[],
): unknown {
  if (rng.chance(0.05)) return wrongValue(rng);
  if (earlier.length && rng.chance(0.1)) {
    // A message seen before, again (possibly with other content).
    const copy: Record<string, unknown> = structuredClone(rng.pick(earlier)) as never;
    if (rng.chance(0.5)) copy.body = "changed on the way";
    return copy;
  }
  const message: Record<string, unknown> = {
    messageId: rng.chance(0.1) ? rng.pick(NASTY_IDS) : `fz-${n}`,
    conversationId,
    body: randomText(rng),
    createdAt: new Date(Date.UTC(2026, 10, 28, 12, 0, n)).toISOString(),
    direction: "out",
    attachments: [],
    sentBy: { type: "user", id: "agent-fz", displayName: "Fuzzy Agent" },
  };
  const mutations = rng.int(4);
  for (let i = 0; i < mutations; i++) {
    const what = rng.int(11);
    if (what === 0) delete message[rng.pick(Object.keys(message))];
    else if (what === 1) message[rng.pick(Object.keys(message))] = wrongValue(rng);
    else if (what === 2) message.direction = rng.pick(["in", "sideways", "", undefined, 5, "OUT"]);
    else if (what === 3) {
      message.conversationId = rng.pick([`${conversationId}-other`, "conv-other", undefined, 5]);
    } else if (what === 4) {
      message.attachments = Array.from({ length: rng.range(1, 4) }, () => attachment(rng));
    } else if (what === 5) message.attachments = rng.pick([null, "x", 5, {}, attachment(rng)]);
    else if (what === 6) {
      message.meta = rng.pick<() => unknown>([
        () => null,
        () => ({ template: null }),
        () => ({ template: { templateType: "quick_replies", actions: null } }),
        () => ({ template: { templateType: "quick_replies", actions: "no" } }),
        () => ({
          template: {
            templateType: "quick_replies",
            body: rng.pick([5, "Pick one", null]),
            actions: [null, 3, { displayText: 5 }, { displayText: "ok", value: {} }, {
              displayText: "<b>yes</b>",
              value: "yes",
            }],
          },
        }),
        () => ({ template: { templateType: "mll", body: {} } }),
      ])();
    } else if (what === 7) {
      message.sentBy = rng.pick<() => unknown>([
        () => null,
        () => "agent",
        () => ({}),
        () => ({ id: null, displayName: null }),
        () => ({ id: {}, displayName: 5, avatarUrl: 7 }),
        () => ({ id: 42, displayName: "" }),
        () => ({ id: "agent-2", displayName: '<img src=x onerror="globalThis.__xss=1">' }),
        () => ({ id: "", displayName: "Nobody" }),
      ])();
    } else if (what === 8) message.createdAt = rng.pick(["not a date", 5, null, "", "9999-99-99"]);
    else if (what === 9) message.body = "z".repeat(rng.pick([1025, 100_000, 2_000_000]));
    else message.messageId = rng.pick([5, null, "", {}, `fz-${n}`, rng.pick(NASTY_IDS)]);
  }
  return message;
}

/** For step descriptions: long strings cut short. */
const short = (_: string, v: unknown) =>
  typeof v === "string" && v.length > 60 ? `${v.slice(0, 20)}…(${v.length} chars)` : v;

/** Whether the SDK's contract says this message must reach the user (exactly once). */
function mustShow(payload: unknown, conversationId: string): payload is KustomerMessage {
  const m = payload as Partial<KustomerMessage> | null;
  return typeof m === "object" && m !== null && typeof m.messageId === "string" &&
    m.messageId !== "" && m.conversationId === conversationId && m.direction === "out";
}

/** Another event's payload, good or bad. */
function hostileEvent(rng: Rng, conversationId: string): unknown {
  return rng.pick<() => unknown>([
    () => wrongValue(rng),
    () => ({ conversationId, typing: rng.pick([true, false, "yes", 1, null]) }),
    () => ({ conversationId, user: null, typing: true }),
    () => ({ conversationId: "conv-other", ended: true }),
    () => ({ conversationId: `${conversationId}-other`, ended: true, createdAt: 5 }),
    () => ({ conversationId, ended: false }),
    () => ({ conversationId, satisfactionId: rng.pick([5, null, "sat-1", "__proto__"]), form: {} }),
    () => ({ conversationId: undefined }),
    () => ({ conversationId: { toString: () => conversationId } }),
  ])();
}

/** A copy of one log in a fresh memory store (the replay check must not touch the original). */
async function copyLog(store: MemoryLogStore, id: string): Promise<MemoryLogStore> {
  const copy = new MemoryLogStore();
  const { head, snapshot } = await store.load(id);
  if (head) {
    const records = (await store.events(id)) as { seq: number }[];
    await copy.write(id, {
      expectedSeq: 0,
      records,
      head: head as LogHead,
      snapshot: snapshot as LogSnapshot | undefined,
    });
  }
  return copy;
}

/** Runs one case. */
export async function runKustomerCase(seed: number): Promise<CaseResult> {
  const unhandled = watchUnhandled();
  const rng = new Rng(seed);
  const crashes: string[] = [];
  const violations: string[] = [];
  const steps: string[] = [];
  const step = (s: string) => steps.push(s);

  const clock = new ManualClock();
  const sim = new SimulatedKustomerCore({
    now: clock.now,
    scheduler: clock,
    objectUrls: false,
    rateLimitPerMinute: 1_000_000,
  });
  const hostile = new HostileCore(sim, rng);
  const store = new MemoryLogStore();
  const warnings: string[] = [];
  const host = new CheckedHost();
  const tokens: string[] = [];
  const withJwt = rng.chance(0.3);
  const options = {
    core: hostile.core,
    store,
    now: clock.now,
    scheduler: clock,
    logger: { warn: (message: string) => void warnings.push(message) },
    timeoutMs: TIMEOUT_MS,
    retryIntervalMs: RETRY_MS,
    heartbeatMs: HEARTBEAT_MS,
    orphanTimeoutMs: 0,
    ...(withJwt
      ? {
        getJwt: () => {
          const token = makeTestJwt({ externalId: "fz-user", iat: Math.floor(clock.now() / 1000) });
          tokens.push(token);
          return Promise.resolve(token);
        },
      }
      : {}),
  };
  const desk = kustomerServiceDeskFactory(options)({
    callback: host.callback,
  }) as KustomerServiceDesk;
  const expected = new Set<string>();
  const delivered: KustomerMessage[] = [];
  const userMessages: { text: string; ok: boolean }[] = [];

  try {
    // The start, perhaps with hostile answers.
    if (rng.chance(0.3)) {
      const method = rng.pick([...CALLBACK_METHODS, "isChatAvailable"]);
      const fault = rng.pick(CALL_FAULTS);
      hostile.fault(method, fault);
      step(`fault ${method} ${fault}`);
    }
    const started = await clock.drive(desk.startChat({
      output: {
        generic: [{
          response_type: "connect_to_agent",
          message_to_human_agent: randomText(rng, 200),
        }],
      },
    }, {}));
    step(`startChat ${started.rejected ? "rejected" : started.done ? "resolved" : "hung"}`);
    if (!started.done) violations.push("startChat never settled");
    if (started.rejected && !(started.error instanceof Error)) {
      violations.push(`startChat rejected with a non-Error: ${String(started.error)}`);
    }
    const conversationId = desk.state?.conversationId;
    const live = () => desk.state?.status === "waiting" || desk.state?.status === "connected";
    if (started.rejected || !conversationId || !live()) {
      if (started.done && !started.rejected && !live()) {
        violations.push(`startChat resolved but the chat is ${desk.state?.status}`);
      }
      return finish();
    }

    let n = 0;
    const count = rng.range(4, 24);
    for (let i = 0; i < count; i++) {
      n++;
      const action = rng.weighted({
        agentSend: 4,
        hostileMessage: 6,
        hostileEvent: 3,
        fault: 3,
        userSend: 3,
        advance: 3,
        typing: 1,
        transfer: 1,
        drop: 1,
        delivery: 1,
        hostCalls: 1,
      });
      switch (action) {
        case "agentSend": {
          const text = randomText(rng);
          const quick = rng.chance(0.2)
            ? {
              quickReplies: [{ displayText: "Yes", value: "yes" }, {
                displayText: "<i>No</i>",
                value: "no",
              }],
            }
            : {};
          const files = rng.chance(0.2)
            ? {
              attachments: [{
                name: "doc.pdf",
                url: "https://files.example/doc.pdf",
                contentType: "application/pdf",
              }],
            }
            : {};
          const sent = sim.agentSend(conversationId, text, { ...quick, ...files });
          expected.add(sent.messageId);
          delivered.push(sent);
          step(`agentSend ${sent.messageId} (${text.length} chars)`);
          break;
        }
        case "hostileMessage": {
          const payload = hostileMessage(rng, conversationId, n, delivered);
          const times = rng.chance(0.2) ? 2 : 1;
          for (let k = 0; k < times; k++) hostile.emit("onMessageReceived", payload);
          if (mustShow(payload, conversationId)) {
            expected.add(payload.messageId);
            delivered.push(payload);
          }
          step(`hostile message ×${times} ${JSON.stringify(payload, short)}`);
          break;
        }
        case "hostileEvent": {
          const name = rng.pick([...hostile.listeners.keys()]);
          if (!name) break;
          let payload = hostileEvent(rng, conversationId);
          if (
            name === "onConversationEnded" &&
            (payload as { conversationId?: unknown })?.conversationId === conversationId
          ) {
            // An end of this conversation ends the chat (whatever else it says): not hostile.
            payload = { ...payload as object, ended: false };
          }
          hostile.emit(name, payload);
          step(`hostile ${name} ${JSON.stringify(payload)?.slice(0, 120)}`);
          break;
        }
        case "fault": {
          const method = rng.pick([...CALLBACK_METHODS, ...FIRE_METHODS]);
          const fault = FIRE_METHODS.includes(method)
            ? rng.pick(["throw", "garbage"] as const)
            : rng.pick(CALL_FAULTS);
          hostile.fault(method, fault);
          step(`fault ${method} ${fault}`);
          break;
        }
        case "userSend": {
          const text = `user ${n}: ${randomText(rng, 300)}`;
          const id = `u-${n}`;
          const outcome = await clock.drive(
            desk.sendMessageToAgent({ id, input: { text } }, id, {}),
          );
          if (!outcome.done) violations.push(`sendMessageToAgent(${id}) never settled`);
          else if (outcome.rejected && !(outcome.error instanceof Error)) {
            violations.push(
              `sendMessageToAgent rejected with a non-Error: ${String(outcome.error)}`,
            );
          }
          userMessages.push({ text, ok: outcome.done && !outcome.rejected });
          step(`user sends ${id}: ${outcome.rejected ? "rejected" : "resolved"}`);
          break;
        }
        case "advance": {
          const ms = rng.pick([0, 10, 500, TIMEOUT_MS + 1, RETRY_MS, HEARTBEAT_MS + 1]);
          await clock.advance(ms);
          step(`advance ${ms} ms`);
          break;
        }
        case "typing":
          sim.agentTyping(conversationId, rng.chance(0.5));
          step("agent typing");
          break;
        case "transfer":
          sim.transfer(conversationId, DEFAULT_AGENTS[rng.int(2)]);
          step("transfer");
          break;
        case "drop":
          if (sim.connection === "dropped") sim.restoreConnection();
          else sim.dropConnection();
          step(`connection ${sim.connection}`);
          break;
        case "delivery":
          sim.deliveryMode = rng.pick(["normal", "duplicate", "reverse"] as const);
          step(`delivery ${sim.deliveryMode}`);
          break;
        case "hostCalls": {
          const call = rng.int(3);
          if (call === 0) await desk.userTyping?.(rng.chance(0.5));
          else if (call === 1) await desk.userReadMessages?.();
          else await desk.areAnyAgentsOnline?.({ output: { generic: [] } });
          step(`host call ${call}`);
          break;
        }
      }
      await clock.settle(1);
    }

    // Calm: no more faults; the heartbeat and the retry catch up with whatever was missed.
    hostile.clear();
    sim.restoreConnection();
    sim.deliveryMode = "normal";
    await clock.advance(TIMEOUT_MS + 1);
    await clock.advance(HEARTBEAT_MS + RETRY_MS + 1);
    await clock.advance(HEARTBEAT_MS + RETRY_MS + 1);
    step("calm");

    if (!live()) violations.push(`the chat is ${desk.state?.status} after a calm spell`);
    else {
      if (
        host.errors().some((e) => e.type === 2) && host.errors().at(-1)?.type === 2 &&
        host.errors().at(-1)?.isDisconnected
      ) {
        violations.push("still shown as disconnected after the connection came back");
      }
      checkShown(desk.transcript);
      checkUserMessages(conversationId);
      await checkReplay();
    }

    const ended = await clock.drive(desk.endChat({}));
    if (!ended.done) violations.push("endChat never settled");
    if (desk.state?.status !== "ended") violations.push(`after endChat: ${desk.state?.status}`);
    if ((await store.heads()).length) violations.push("the log is still stored after the end");
    if (host.state.escalationId !== undefined) violations.push("persisted state not cleared");
  } catch (error) {
    crashes.push(`the case threw: ${String((error as Error)?.stack ?? error)}`);
  }
  return finish();

  function checkShown(transcript: readonly { from: string; id: string }[]): void {
    const shown = host.shownIds();
    const counts = new Map<string, number>();
    for (const id of shown) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [id, times] of counts) {
      if (times > 1) violations.push(`agent message ${JSON.stringify(id)} shown ${times} times`);
    }
    for (const id of expected) {
      if (!counts.has(id)) violations.push(`agent message ${JSON.stringify(id)} never shown`);
    }
    const recorded = transcript.filter((t) => t.from === "agent").map((t) => t.id);
    if (JSON.stringify(recorded) !== JSON.stringify(shown)) {
      violations.push(
        `shown ${JSON.stringify(shown).slice(0, 200)} but recorded ${
          JSON.stringify(recorded).slice(0, 200)
        }`,
      );
    }
  }

  function checkUserMessages(conversationId: string): void {
    const bodies = sim.messagesOf(conversationId).filter((m) => m.direction === "in")
      .map((m) => m.body);
    for (const { text, ok } of userMessages) {
      const copies = bodies.filter((b) => b === text).length;
      if (ok && copies !== 1) violations.push(`user message sent ${copies} times, expected once`);
      if (!ok && copies > 1) violations.push(`failed user message sent ${copies} times`);
    }
  }

  /** A fresh desk over a copy of the log, reconnected: the same chat. */
  async function checkReplay(): Promise<void> {
    const id = host.state.escalationId;
    if (typeof id !== "string") {
      violations.push("no escalation id in the host's persisted state");
      return;
    }
    const copy = await copyLog(store, id);
    const history = await loadChatHistory({ store: copy, escalationId: id });
    const transcriptIds = desk.transcript.map((t) => t.id);
    // The history shows failed messages too (marked failed); the transcript leaves them out.
    const historyIds = history
      .map((h) => h.message as { id?: string; history?: { error_state?: number } })
      .filter((message) => message.history?.error_state !== 2)
      .map((message) => message.id);
    if (JSON.stringify(historyIds) !== JSON.stringify(transcriptIds)) {
      violations.push(
        `history from the log ${JSON.stringify(historyIds).slice(0, 200)} ≠ transcript`,
      );
    }
    const page = new HostileCore(sim, new Rng(seed));
    const freshClock = new ManualClock();
    const freshHost = new CheckedHost();
    freshHost.state = { escalationId: id };
    const fresh = kustomerServiceDeskFactory({
      ...options,
      core: page.core,
      store: copy,
      scheduler: freshClock,
      heartbeatMs: 0,
    })({
      callback: freshHost.callback,
      persistedState: { escalationId: id },
    }) as KustomerServiceDesk;
    const resumed = await freshClock.drive(fresh.reconnect!());
    page.unload();
    violations.push(...freshHost.violations, ...page.crashes);
    if (!resumed.done || resumed.rejected || resumed.value !== true) {
      violations.push(`a fresh desk did not resume: ${String(resumed.error ?? resumed.value)}`);
      return;
    }
    const a = desk.state!;
    const b = fresh.state!;
    const summary = (s: typeof a) =>
      JSON.stringify({
        status: s.status,
        conversationId: s.conversationId,
        opened: s.opened,
        agent: s.agent?.id,
        seen: [...s.seen],
        unread: s.unread,
        pending: s.pending.map((p) => p.id),
      });
    if (summary(a) !== summary(b)) {
      violations.push(
        `replayed state differs:\n  live  ${summary(a).slice(0, 300)}\n  fresh ${
          summary(b).slice(0, 300)
        }`,
      );
    }
  }

  function finish(): CaseResult {
    crashes.push(...hostile.crashes, ...clock.thrown, ...unhandled.take());
    crashes.push(...sim.uncaughtErrors.map((u) => `${u.source}: ${String(u.error)}`));
    violations.push(...host.violations);
    for (const warning of warnings) {
      if (typeof warning !== "string") violations.push("a warning that is not a string");
      else if (tokens.some((t) => warning.includes(t))) violations.push("a warning holds the JWT");
    }
    sim.dispose();
    return { seed, crashes, violations, steps, warnings };
  }
}
