/**
 * What the desk itself tells the user in the chat, as status lines (and marks its own hand-off).
 *
 * @module
 */

import type { AgentInfo } from "../events.ts";
import type { MessageResponse } from "../host_types.ts";

/**
 * The key the desk sets on the `connect_to_agent` item it adds itself after a reload while queued,
 * so that the engine knows the start is the old chat's, not a new request.
 */
export const REQUEUE_KEY = "kustomer_requeue";

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
