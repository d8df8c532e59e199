import { assertEquals } from "@std/assert";
import type { KustomerMessage, SimServerState } from "../../simulator.ts";
import { checkTrial, type Failure, OPENING, type TrialOutcome } from "./check.ts";
import type { StormLogEntry } from "./page.ts";

let stamp = Date.UTC(2026, 0, 1);
const message = (direction: "in" | "out", body: string): KustomerMessage => ({
  messageId: `m-${stamp}`,
  conversationId: "conv-1",
  body,
  createdAt: new Date(stamp++).toISOString(),
  direction,
  attachments: [],
});

const server = (messages: KustomerMessage[], ended = true): SimServerState => ({
  v: 1,
  conversations: [{
    conversationId: "conv-1",
    customerId: "cust-1",
    title: "t",
    createdAt: new Date(0).toISOString(),
    ended,
    messages,
    agentSent: true,
    customAttributes: {},
    read: [],
    scriptGreeted: false,
  }],
  customers: [],
  customerKeys: [],
  currentCustomerId: "cust-1",
  counters: { conv: 1, msg: 0, att: 0, sat: 0, anon: 0, cust: 1 },
  lastStamp: 0,
});

const outcome = (
  messages: KustomerMessage[],
  log: StormLogEntry[],
  more: Partial<TrialOutcome> = {},
): TrialOutcome => ({
  server: server(messages),
  log,
  tokens: ["jwt-1"],
  historyKey: "key-1",
  indexedDb: "",
  chatStarted: false,
  pageErrors: [],
  ...more,
});

const kinds = (failures: Failure[]) => failures.map((f) => f.kind);

Deno.test("checkTrial() judges what a storm trial left", async (t) => {
  const opening = message("in", `${OPENING}\nThe user asked for an agent.`);
  const a1 = message("out", "agent 1");
  const u1 = message("in", "user 1");
  const a2 = message("out", "agent 2");
  const handed: StormLogEntry = { page: 0, kind: "handed", id: "req-1", text: "user 1" };

  await t.step("a clean chat passes", () => {
    const log: StormLogEntry[] = [
      { page: 0, kind: "shown", text: "agent 1" },
      handed,
      { page: 1, kind: "shown", text: "agent 1" },
      { page: 1, kind: "shown", text: "agent 2" },
    ];
    assertEquals(checkTrial(outcome([opening, a1, u1, a2], log)), []);
  });

  await t.step("a user message not on Kustomer is lost, unless it visibly failed", () => {
    const log = [handed, { page: 0, kind: "shown", text: "agent 1" }];
    assertEquals(kinds(checkTrial(outcome([opening, a1], log))), ["lost"]);
    const rejected = [...log, { page: 0, kind: "sendRejected", id: "req-1" }];
    assertEquals(kinds(checkTrial(outcome([opening, a1], rejected))), ["failed-visibly"]);
    // Marked failed on a page that does not show the message: the user cannot see it.
    const unseen = [...log, { page: 1, kind: "failedStatus", id: "req-1" }];
    assertEquals(kinds(checkTrial(outcome([opening, a1], unseen))), ["lost"]);
    const twice = [opening, a1, u1, message("in", "user 1")];
    assertEquals(kinds(checkTrial(outcome(twice, log))), ["duplicated"]);
  });

  await t.step("a page that resumed must show what came before", () => {
    const log: StormLogEntry[] = [
      { page: 0, kind: "shown", text: "agent 1" },
      { page: 1, kind: "shown", text: "agent 2" },
    ];
    const failures = checkTrial(outcome([opening, a1, a2], log));
    assertEquals(kinds(failures), ["lost"]);
    assertEquals(failures[0].detail.includes("missing from the final transcript"), true);
  });

  await t.step("agent messages twice or out of Kustomer's order", () => {
    const twice = [
      { page: 0, kind: "shown", text: "agent 1" },
      { page: 0, kind: "shown", text: "agent 1" },
      { page: 0, kind: "shown", text: "agent 2" },
    ];
    assertEquals(kinds(checkTrial(outcome([opening, a1, a2], twice))), ["duplicated"]);
    const reversed = [
      { page: 0, kind: "shown", text: "agent 2" },
      { page: 0, kind: "shown", text: "agent 1" },
    ];
    assertEquals(kinds(checkTrial(outcome([opening, a1, a2], reversed))), ["other"]);
  });

  await t.step("an opening sent twice, a conversation left open, a secret kept", () => {
    const log = [{ page: 0, kind: "shown", text: "agent 1" }];
    assertEquals(kinds(checkTrial(outcome([opening, opening, a1], log))), ["duplicated"]);
    assertEquals(
      kinds(checkTrial(outcome([opening, a1], log, { server: server([opening, a1], false) }))),
      ["orphaned"],
    );
    assertEquals(
      kinds(checkTrial(outcome([opening, a1], log, { indexedDb: '{"key":"key-1"}' }))),
      ["other"],
    );
    assertEquals(
      kinds(checkTrial(outcome([opening, a1], log, { indexedDb: '["jwt-1"]' }))),
      ["other"],
    );
  });

  await t.step("a false transfer notice and a host event overlap are noticed", () => {
    const log = [
      { page: 0, kind: "shown", text: "agent 1" },
      { page: 0, kind: "notice", text: "transfer" },
      { page: 0, kind: "overlap", text: "human_agent:receive" },
    ];
    assertEquals(kinds(checkTrial(outcome([opening, a1], log))), ["other", "other"]);
  });
});
