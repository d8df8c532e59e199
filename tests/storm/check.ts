/**
 * What the reload storm checks after each trial, as a pure function of what the trial left: the
 * simulated Kustomer server, the log of what the user saw and did on each page, and the text of
 * IndexedDB.
 *
 * - Every user message the host handed to the desk is on Kustomer exactly once, or was visibly
 *   marked failed (the send rejected, or `USER_MESSAGE` for a message the page showed).
 * - Every agent message is in the final transcript exactly once, in Kustomer's order. The final
 *   transcript of a conversation is that of the last page that showed any of its agent messages
 *   (live or from history): a page that resumed the chat must show what came before.
 * - No conversation is open once the chat ended from either side; no opening message twice.
 * - No session-history key or JWT in IndexedDB after the end.
 * - Anything else a user would notice (a false "transferred" notice, a host event overlap, a page
 *   error, the host still in a chat) is "other".
 *
 * @module
 */

import type { SimServerState } from "../../simulator.ts";
import type { StormLogEntry } from "./page.ts";

/** The kinds of failure the storm counts. */
export type FailureKind = "lost" | "duplicated" | "failed-visibly" | "orphaned" | "other";

/** One failure found in a trial. */
export interface Failure {
  /** Its kind. */
  readonly kind: FailureKind;
  /** What exactly. */
  readonly detail: string;
}

/** What a trial left behind. */
export interface TrialOutcome {
  /** The simulated Kustomer server at the end. */
  readonly server: SimServerState | null;
  /** What the user saw and did, page by page. */
  readonly log: readonly StormLogEntry[];
  /** Every JWT the page handed the desk. */
  readonly tokens: readonly string[];
  /** The session-history key the host passed. */
  readonly historyKey: string;
  /** Every IndexedDB record, as text. */
  readonly indexedDb: string;
  /** Whether the host still has a chat running. */
  readonly chatStarted: boolean;
  /** Page errors seen by the driver. */
  readonly pageErrors: readonly string[];
}

/** The first line of the desk's opening message (its default `transferMessage`). */
export const OPENING = "A customer was transferred to you from the web chat assistant.";

/**
 * Checks a trial.
 *
 * @param outcome What the trial left.
 * @returns The failures; empty when the trial passed (`failed-visibly` is a failure the user saw,
 *   allowed but counted).
 */
export function checkTrial(outcome: TrialOutcome): Failure[] {
  const failures: Failure[] = [];
  const fail = (kind: FailureKind, detail: string) => failures.push({ kind, detail });
  const conversations = outcome.server?.conversations ?? [];
  const log = outcome.log;

  // --- user messages -------------------------------------------------------------------------
  const inbound = conversations.flatMap((c) =>
    c.messages.filter((m) => m.direction === "in").map((m) => ({ c, m }))
  );
  for (const handed of log.filter((e) => e.kind === "handed")) {
    const onKustomer = inbound.filter(({ m }) => m.body === handed.text).length;
    const shownIn = new Set(
      log.filter((e) => (e.kind === "handed" || e.kind === "history") && e.id === handed.id).map((
        e,
      ) => e.page),
    );
    const failedVisibly = log.some((e) =>
      (e.kind === "sendRejected" && e.id === handed.id) ||
      (e.kind === "failedStatus" && e.id === handed.id && shownIn.has(e.page))
    );
    const what = `user message "${handed.text}" (page ${handed.page})`;
    if (onKustomer > 1) fail("duplicated", `${what} is on Kustomer ${onKustomer} times`);
    else if (onKustomer === 1 && failedVisibly) {
      fail("other", `${what} was marked failed but reached Kustomer`);
    } else if (onKustomer === 0 && failedVisibly) fail("failed-visibly", `${what} failed`);
    else if (onKustomer === 0) {
      const gone = log.find((e) => e.kind === "unload" && e.page === handed.page);
      const after = gone
        ? ` (its page went away ${gone.at as number - (handed.at as number)} ms later)`
        : "";
      fail("lost", `${what} never reached Kustomer and never failed${after}`);
    }
  }

  // --- agent messages ------------------------------------------------------------------------
  const shown = log.filter((e) => e.kind === "shown");
  for (const c of conversations) {
    const agentTexts = [...c.messages]
      .filter((m) => m.direction === "out")
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map((m) => m.body ?? "");
    const mine = new Set(agentTexts);
    const showing = shown.filter((e) => mine.has(e.text ?? ""));
    if (agentTexts.length === 0) continue;
    const finalPage = Math.max(-1, ...showing.map((e) => e.page));
    const transcript = showing.filter((e) => e.page === finalPage).map((e) => e.text ?? "");
    for (const text of agentTexts) {
      const times = transcript.filter((t) => t === text).length;
      const what = `agent message "${text}" (${c.conversationId})`;
      if (times > 1) fail("duplicated", `${what} shown ${times} times on page ${finalPage}`);
      else if (times === 0) {
        const seenEarlier = showing.some((e) => e.text === text);
        fail(
          "lost",
          seenEarlier
            ? `${what} missing from the final transcript (page ${finalPage}) after a reload`
            : `${what} never shown`,
        );
      }
    }
    const firsts = transcript.filter((t, i) => transcript.indexOf(t) === i);
    const expected = agentTexts.filter((t) => firsts.includes(t));
    if (firsts.join("\n") !== expected.join("\n")) {
      fail(
        "other",
        `agent messages out of order on page ${finalPage}: shown ${
          JSON.stringify(firsts)
        }, Kustomer ${JSON.stringify(expected)}`,
      );
    }
  }

  // --- conversations -------------------------------------------------------------------------
  for (const c of conversations) {
    const openings = c.messages.filter((m) =>
      m.direction === "in" && (m.body ?? "").startsWith(OPENING)
    ).length;
    if (openings > 1) {
      fail("duplicated", `opening message sent ${openings} times to ${c.conversationId}`);
    }
    if (!c.ended && c.messages.length > 0) {
      fail("orphaned", `${c.conversationId} is still open after the chat ended`);
    } else if (!c.ended) fail("other", `draft ${c.conversationId} left open`);
  }

  // --- secrets -------------------------------------------------------------------------------
  if (outcome.indexedDb.includes(outcome.historyKey)) {
    fail("other", "the session-history key is in IndexedDB after the end");
  }
  if (outcome.tokens.some((token) => outcome.indexedDb.includes(token))) {
    fail("other", "a JWT is in IndexedDB after the end");
  }

  // --- what else a user would notice -----------------------------------------------------------
  for (const e of log) {
    if (e.kind === "notice" && e.text === "transfer") {
      fail("other", `a "transferred" notice on page ${e.page}, though no transfer happened`);
    } else if (e.kind === "overlap") {
      fail("other", `host event overlap on page ${e.page}: ${e.text} already running`);
    } else if (e.kind === "pageerror" || e.kind === "unhandledrejection") {
      fail("other", `${e.kind} on page ${e.page}: ${e.text}`);
    }
  }
  for (const error of outcome.pageErrors) fail("other", error);
  if (outcome.chatStarted) fail("other", "the host still shows a chat after the end");
  return failures;
}
