/**
 * What the desk itself tells the user in the chat, as status lines.
 *
 * @module
 */

import type { AgentInfo } from "../events.ts";
import type { MessageResponse } from "../host_types.ts";

/**
 * The status line shown when a page takes up the chat of a closed tab: "You're back with Ada."
 * Carbon shows a text item with an `agent_message_type` as a status line (as "Ada connected."),
 * without HTML; the name's Markdown is escaped so that it shows as typed.
 */
export function backWith(agent: AgentInfo): MessageResponse {
  const name = agent.nickname.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, "\\$&");
  return {
    output: {
      generic: [{
        response_type: "text",
        text: `You're back with ${name}.`,
        agent_message_type: "system",
      }],
    },
  };
}
