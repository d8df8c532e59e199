/**
 * The example page's simulated Kustomer "server" survives a page reload: every call that changes
 * the simulator's server-side state (the customer's SDK calls and the agent's actions) is kept in
 * a journal in `localStorage`, and a fresh simulator replays it when the page loads, with the
 * clock set to each call's time so ids and timestamps come out the same.
 *
 * The scripted agent's own actions are journaled like a person's; while replaying, the script's
 * timers run at once with its actions muted (they are in the journal already), so its state
 * (who greeted, the reply queue) ends up where it was. A scripted reply still pending at the
 * reload is lost; an open chat that no agent has greeted yet is greeted after the reload.
 *
 * @module
 */

import {
  DEFAULT_AGENTS,
  makeTestJwt,
  type SimFailOptions,
  type SimHangOptions,
  type SimMethod,
  type SimScriptOptions,
  SimulatedKustomerCore,
  type SimulatedKustomerCoreOptions,
} from "../simulator.ts";

/** One journaled call. */
export interface JournalEntry {
  /** When it was made (epoch ms). */
  readonly at: number;
  /** The method. */
  readonly k: string;
  /** Its arguments, JSON-safe (no callbacks; files as name/type/size; JWTs as claims). */
  readonly a: unknown[];
}

/** A simulator whose server state is kept in `localStorage`. */
export interface PersistentSimulator {
  /** The simulator (the page's Kustomer Core). */
  readonly sim: SimulatedKustomerCore;
  /** The journal so far. */
  readonly journal: readonly JournalEntry[];
  /** Forgets the saved state (the page should reload after). */
  reset(): void;
}

const SDK_CALLS = [
  "init",
  "login",
  "logout",
  "createConversation",
  "sendMessage",
  "describeConversation",
  "describeCustomer",
  "endConversation",
  "markRead",
  "submitSatisfactionForm",
] as const;
const AGENT_ACTIONS = ["agentSend", "agentEnd", "transfer", "sendSatisfaction"] as const;

type AnyFn = (...args: unknown[]) => unknown;
type Shadow = { kind: "fail" | "hang"; times: number; applied: boolean };

/**
 * Opens the persisted simulator: creates a simulator and replays the saved journal into it.
 *
 * @param key The `localStorage` key.
 * @param options Simulator options (`now` and `scheduler` are taken over).
 */
export async function openPersistentSimulator(
  key: string,
  options: SimulatedKustomerCoreOptions = {},
): Promise<PersistentSimulator> {
  let replaying = false;
  let muted = false;
  let clock = 0;
  let pinned: number | undefined;
  const queued: (() => void)[] = [];
  const sim = new SimulatedKustomerCore({
    ...options,
    now: () => (replaying ? clock : pinned ?? Date.now()),
    scheduler: {
      setTimeout: (fn, ms) => {
        if (replaying) {
          queued.push(fn);
          return -1;
        }
        return setTimeout(fn, ms);
      },
      clearTimeout: (id) => {
        if (id !== -1) clearTimeout(id as number);
      },
    },
  });
  const journal: JournalEntry[] = load(key);
  const save = () => {
    try {
      localStorage.setItem(key, JSON.stringify(journal));
    } catch (error) {
      console.warn("example: could not save the simulator state", error);
    }
  };

  // Faults: which calls will have no effect (so that they are not journaled).
  const shadow = new Map<string, Shadow[]>();
  const faults = sim.faults;
  const fail = faults.fail.bind(faults);
  const hang = faults.hang.bind(faults);
  const clear = faults.clear.bind(faults);
  faults.fail = (method: SimMethod, o: SimFailOptions = {}) => {
    fail(method, o);
    push(method, { kind: "fail", times: o.times ?? 1, applied: false });
  };
  faults.hang = (method: SimMethod, o: SimHangOptions = {}) => {
    hang(method, o);
    push(method, { kind: "hang", times: o.times ?? Infinity, applied: o.applied ?? false });
  };
  faults.clear = (method?: SimMethod) => {
    clear(method);
    if (method === undefined) shadow.clear();
    else shadow.delete(method);
  };
  const push = (method: string, rule: Shadow) => {
    const list = shadow.get(method) ?? [];
    list.push(rule);
    shadow.set(method, list);
  };
  const takesEffect = (method: string): boolean => {
    if (sim.state === "disposed" || sim.connection === "dropped") return false;
    const list = shadow.get(method);
    const rule = list?.[0];
    if (!list || !rule) return true;
    rule.times -= 1;
    if (rule.times <= 0) list.shift();
    return rule.kind === "hang" && rule.applied;
  };

  const self = sim as unknown as Record<string, AnyFn>;
  const originals: Record<string, AnyFn> = {};
  for (const name of SDK_CALLS) {
    const original = self[name].bind(sim);
    originals[name] = original;
    self[name] = (...args: unknown[]) => {
      const at = Date.now();
      if (!replaying && takesEffect(name)) {
        journal.push({ at, k: name, a: [toJson(name, args[0])] });
        save();
      }
      pinned = at;
      try {
        return original(...args);
      } finally {
        pinned = undefined;
      }
    };
  }
  for (const name of [...AGENT_ACTIONS, "agentTyping"]) {
    const original = self[name].bind(sim);
    originals[name] = original;
    self[name] = (...args: unknown[]) => {
      if (muted) return name === "agentSend" ? {} : undefined;
      const at = Date.now();
      pinned = at;
      try {
        const result = original(...args);
        if (name !== "agentTyping" && !replaying) {
          journal.push({ at, k: name, a: JSON.parse(JSON.stringify(args)) });
          save();
        }
        return result;
      } finally {
        pinned = undefined;
      }
    };
  }

  // Replay.
  replaying = true;
  try {
    for (const entry of journal) {
      clock = entry.at;
      const args = fromJson(entry);
      if (entry.k === "init") {
        await new Promise<void>((resolve) => originals.init(args[0], () => resolve()));
      } else {
        try {
          originals[entry.k]?.(...args);
        } catch (error) {
          console.warn(`example: could not replay ${entry.k}`, error);
        }
      }
      muted = true;
      try {
        while (queued.length) queued.shift()!();
      } finally {
        muted = false;
      }
    }
  } finally {
    replaying = false;
  }
  greetUnanswered(sim, options.script);

  return {
    sim,
    journal,
    reset() {
      journal.length = 0;
      localStorage.removeItem(key);
    },
  };
}

/** After a reload: an open chat that no agent has answered yet gets its greeting. */
function greetUnanswered(
  sim: SimulatedKustomerCore,
  script: boolean | SimScriptOptions | undefined,
): void {
  if (!script) return;
  const delay = script === true ? 1000 : script.joinDelayMs ?? 1000;
  for (const conv of sim.conversations) {
    if (conv.ended || conv.isDraft) continue;
    if (sim.messagesOf(conv.conversationId).some((m) => m.direction === "out")) continue;
    const agent = DEFAULT_AGENTS[0];
    setTimeout(() => {
      const now = sim.conversations.find((c) => c.conversationId === conv.conversationId);
      if (!now || now.ended) return;
      if (sim.messagesOf(conv.conversationId).some((m) => m.direction === "out")) return;
      sim.agentSend(
        conv.conversationId,
        `Hi, I'm ${agent.displayName}. How can I help you today?`,
        { agent },
      );
    }, delay);
  }
}

function load(key: string): JournalEntry[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(key) ?? "[]");
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

type FileInfo = { name: string; type: string; size: number };

function toJson(method: string, options: unknown): unknown {
  if (!options || typeof options !== "object") return options ?? null;
  const o = options as Record<string, unknown>;
  if (method === "login") {
    const token = typeof o.jwtToken === "string" ? o.jwtToken : "";
    return { claims: claimsOf(token) };
  }
  if (method === "sendMessage" && Array.isArray(o.attachments)) {
    return {
      ...o,
      attachments: o.attachments.map((a: { file?: File }): { file: FileInfo } | object =>
        a?.file instanceof Blob
          ? { file: { name: (a.file as File).name, type: a.file.type, size: a.file.size } }
          : {}
      ),
    };
  }
  return JSON.parse(JSON.stringify(o));
}

function fromJson(entry: JournalEntry): unknown[] {
  const [first, ...rest] = entry.a;
  if (entry.k === "login") {
    const claims = (first as { claims?: Record<string, unknown> })?.claims ?? {};
    return [{ jwtToken: makeTestJwt({ ...claims, iat: Math.floor(entry.at / 1000) }) }, ...rest];
  }
  if (entry.k === "sendMessage" && first && typeof first === "object") {
    const o = first as { attachments?: { file?: FileInfo }[] };
    if (Array.isArray(o.attachments)) {
      return [{
        ...o,
        attachments: o.attachments.map((a) =>
          a.file
            ? {
              file: new File([new Uint8Array(a.file.size)], a.file.name, { type: a.file.type }),
            }
            : {}
        ),
      }];
    }
  }
  return [first, ...rest];
}

function claimsOf(token: string): Record<string, unknown> {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return {};
  }
}
