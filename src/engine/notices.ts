/**
 * What the desk itself tells the user in the chat, as status lines.
 *
 * @module
 */

import type { AgentInfo } from "../events.ts";
import type { MessageResponse } from "../host_types.ts";

/**
 * A status line in the chat: Carbon shows a text item with an `agent_message_type` as a status line
 * (as "Ada connected."), without HTML.
 */
function statusLine(text: string): MessageResponse {
  return { output: { generic: [{ response_type: "text", text, agent_message_type: "system" }] } };
}

/** An agent's name with its Markdown escaped, so that it shows as typed. */
const escaped = (agent: AgentInfo): string =>
  agent.nickname.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, "\\$&");

/** The status line shown when a page takes up the chat of a closed tab: "You're back with Ada." */
export function backWith(agent: AgentInfo): MessageResponse {
  return statusLine(`You're back with ${escaped(agent)}.`);
}

/**
 * The status line shown when the agent's last messages could not be fetched from Kustomer after
 * the chat ended: "Some of Ada's last messages could not be loaded."
 */
export function lastWordsLost(agent: AgentInfo | undefined): MessageResponse {
  const whose = agent ? `${escaped(agent)}'s` : "the agent's";
  return statusLine(`Some of ${whose} last messages could not be loaded.`);
}
