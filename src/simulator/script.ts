/**
 * The scripted agent of the simulated Kustomer Core: greets after the hand-off, echoes, ends on
 * "bye", transfers on "transfer", offers quick replies on "quick", acknowledges files. Each reply
 * is two timed steps (typing, then the message), run one after another per conversation.
 *
 * @module
 */

import type { KustomerAction, KustomerMessage } from "../kustomer_types.ts";
import type { _Delivery, _Timer } from "./delivery.ts";
import {
  MAX_AGENT_REPLY_LENGTH,
  type SimAgent,
  type SimAgentSendOptions,
  type SimScriptOptions,
} from "./types.ts";

/** The conversation as the script sees it. */
export interface _ScriptedConversation {
  readonly conversationId: string;
  readonly ended: boolean;
  /** Whether the agent has greeted (kept with the server's state across a reload). */
  scriptGreeted: boolean;
}

/** What the scripted agent can do: what a person at Kustomer's agent desk does. */
export interface _AgentDesk {
  readonly agents: readonly [SimAgent, SimAgent];
  currentAgent(conversationId: string): SimAgent;
  typing(conversationId: string, typing: boolean, agent?: SimAgent): void;
  send(conversationId: string, text: string, options: SimAgentSendOptions): void;
  end(conversationId: string): void;
  transfer(conversationId: string, toAgent: SimAgent): void;
}

interface _Step {
  delayMs: number;
  run: () => void;
}

interface _Plan {
  queue: _Step[];
  timer?: _Timer;
}

const _QUICK_REPLIES: readonly KustomerAction[] = [
  { displayText: "Keep chatting", value: "keep chatting" },
  { displayText: "End chat", value: "end chat" },
];

/** The scripted agent: answers customer messages through an {@linkcode _AgentDesk}. */
export class _ScriptedAgent {
  #timing: Required<SimScriptOptions>;
  #delivery: _Delivery;
  #desk: _AgentDesk;
  #plans = new Map<string, _Plan>();

  constructor(timing: Required<SimScriptOptions>, delivery: _Delivery, desk: _AgentDesk) {
    this.#timing = timing;
    this.#delivery = delivery;
    this.#desk = desk;
  }

  /** Plans the answer to a customer message (after what is already planned). */
  onCustomerMessage(
    conv: _ScriptedConversation,
    message: KustomerMessage,
    payload: unknown,
  ): void {
    const timing = this.#timing;
    const desk = this.#desk;
    const id = conv.conversationId;
    const said = message.body ?? (payload !== undefined ? String(payload) : "");
    const text = `${message.body ?? ""} ${payload !== undefined ? String(payload) : ""}`
      .toLowerCase();
    const steps: _Step[] = [];
    const first = !conv.scriptGreeted;
    if (first) {
      conv.scriptGreeted = true;
      steps.push(
        ...this.#sayLater(
          id,
          timing.joinDelayMs,
          (agent) => `Hi, I'm ${agent.displayName}. How can I help you today?`,
        ),
      );
    }
    const delay = first ? 0 : timing.replyDelayMs;
    const names = (message.attachments ?? []).map((a) => a.name ?? "a file");
    if (first) {
      // The first customer message is the hand-off context (written by the desk, not typed by the
      // customer): the agent only greets, as a person would after reading it.
    } else if (text.includes("bye") || text.includes("end chat")) {
      steps.push(
        ...this.#sayLater(id, delay, () => "Goodbye! Thanks for chatting with us.", () => {
          desk.end(id);
        }),
      );
    } else if (text.includes("transfer")) {
      const next =
        () => (desk.currentAgent(id).id === desk.agents[1].id ? desk.agents[0] : desk.agents[1]);
      let target: SimAgent | undefined;
      steps.push(
        ...this.#sayLater(id, delay, () => {
          target = next();
          return `I'm transferring you to ${target.displayName}. One moment, please.`;
        }, () => desk.transfer(id, target ?? next())),
        ...this.#sayLater(
          id,
          timing.joinDelayMs,
          (agent) =>
            `Hi, I'm ${agent.displayName}. I've read your conversation and I'll take it from here.`,
        ),
      );
    } else if (text.includes("quick")) {
      steps.push(
        ...this.#sayLater(
          id,
          delay,
          () => "How would you like to continue?",
          undefined,
          _QUICK_REPLIES,
        ),
      );
    } else if (names.length > 0) {
      steps.push(...this.#sayLater(id, delay, () => `Thanks, I received ${names.join(", ")}.`));
    } else if (text.includes("file")) {
      steps.push(
        ...this.#sayLater(id, delay, () => "Please attach the file with the paperclip button."),
      );
    } else {
      steps.push(...this.#sayLater(id, delay, () => `You said: ${said}`));
    }
    const plan = this.#plans.get(id) ?? { queue: [] };
    this.#plans.set(id, plan);
    plan.queue.push(...steps);
    if (!plan.timer) this.#run(conv, plan);
  }

  /** Cancels what is planned for a conversation (it ended). */
  stop(conversationId: string): void {
    const plan = this.#plans.get(conversationId);
    if (!plan) return;
    this.#delivery.cancel(plan.timer);
    plan.timer = undefined;
    plan.queue = [];
    this.#plans.delete(conversationId);
  }

  /** Cancels everything planned. */
  stopAll(): void {
    for (const id of [...this.#plans.keys()]) this.stop(id);
  }

  /** Two steps: after `delayMs` the agent types; after `typingMs` they stop and say `text`. */
  #sayLater(
    conversationId: string,
    delayMs: number,
    text: (agent: SimAgent) => string,
    after?: () => void,
    quickReplies?: readonly KustomerAction[],
  ): _Step[] {
    const desk = this.#desk;
    return [
      { delayMs, run: () => desk.typing(conversationId, true) },
      {
        delayMs: this.#timing.typingMs,
        run: () => {
          const agent = desk.currentAgent(conversationId);
          const body = text(agent).slice(0, MAX_AGENT_REPLY_LENGTH);
          desk.typing(conversationId, false, agent);
          desk.send(conversationId, body, {
            agent,
            ...(quickReplies ? { quickReplies: [...quickReplies] } : {}),
          });
          after?.();
        },
      },
    ];
  }

  #run(conv: _ScriptedConversation, plan: _Plan): void {
    const step = plan.queue.shift();
    if (!step) return;
    plan.timer = this.#delivery.schedule(() => {
      plan.timer = undefined;
      if (conv.ended) {
        plan.queue = [];
        return;
      }
      this.#delivery.guard("script", step.run);
      this.#run(conv, plan);
    }, step.delayMs);
  }
}
