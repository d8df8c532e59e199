/**
 * The example page end to end in headless Chromium: the built bundles over http, Carbon AI Chat as
 * the host, real IndexedDB, the simulated Kustomer agent (driven from the test through
 * `window.example` and the agent console).
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { Buffer } from "node:buffer";
import { stop } from "esbuild";
import type { Page } from "playwright-core";
import {
  ARTIFACTS,
  browserTest,
  countMessages,
  INPUT,
  launch,
  message,
  send,
  serve,
  transcript,
  waitForMessage,
  watchErrors,
} from "./_helpers.ts";

/** The page's handle, as the test sees it (see example/main.ts). */
type Handle = {
  sim: {
    conversations: {
      conversationId: string;
      ended: boolean;
      agent?: { displayName: string };
    }[];
    messagesOf(
      id: string,
    ): { body?: string; direction: string; attachments?: { name?: string }[] }[];
    readReceipts: unknown[];
    faults: { hang(method: string, o: { times: number; applied: boolean }): void };
    dropConnection(): void;
    agentSend(id: string, text: string): unknown;
  };
  desk?: { state?: { status: string; pending: unknown[] }; transcript: { text?: string }[] };
  factoryCalls: unknown[];
  conversationId(): string | undefined;
};
declare const example: Handle;

/**
 * How long a page load (Carbon is 5 MB of script) may take on a shared 2-core machine: a limit,
 * not a wait.
 */
const LOAD_MS = 90_000;

const customerMessages = (page: Page, body: string) =>
  page.evaluate((body) => {
    const id = example.conversationId()!;
    return example.sim.messagesOf(id).filter((m) => m.direction === "in" && m.body === body)
      .length;
  }, body);

/** A message in the agent console: "in" from the customer, "out" from the agent. */
const consoleMessage = (page: Page, text: string, direction: "in" | "out" = "in") =>
  page.locator(`[data-testid="console-message"][data-direction="${direction}"]`)
    .filter({ hasText: text });

browserTest(
  "example page: escalate, chat, reload mid-chat, transfer, agent ends, escalate again",
  async (t, built) => {
    const { url, server } = serve({ distDir: built.outDir });
    const browser = await launch();
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const errors = watchErrors(page);
      await page.goto(`${url}/?agentDelay=30`);

      await t.step("the bot answers and escalates; the agent joins", async () => {
        await waitForMessage(page, "example assistant", LOAD_MS);
        await send(page, "I want an agent");
        await waitForMessage(page, "Hi, I'm Ada");
        const first = await page.evaluate(() =>
          example.sim.messagesOf(example.conversationId()!)[0].body
        );
        assert(first?.includes('The customer asked: "I want an agent"'), first);
        assert(first?.includes("Conversation with the assistant"), "the bot transcript is sent");
      });

      await t.step("messages both ways, typing, read receipts, a file", async () => {
        await send(page, "hello from the user");
        await consoleMessage(page, "hello from the user").waitFor();
        await waitForMessage(page, "You said: hello from the user");

        await page.locator('[data-testid="console-input"]').fill("hello from the agent console");
        await page.locator('[data-testid="console-send"]').click();
        await waitForMessage(page, "hello from the agent console");
        await consoleMessage(page, "hello from the agent console", "out").and(
          page.locator('[data-read="true"]'),
        ).waitFor();

        const input = page.locator(INPUT);
        await input.click();
        await input.pressSequentially("typing", { delay: 10 });
        await page.getByText("Customer is typing…").waitFor();
        await input.fill("");

        await page.locator('input[type="file"]').first().setInputFiles({
          name: "receipt.txt",
          mimeType: "text/plain",
          buffer: Buffer.from("a receipt"),
        });
        await page.locator('[data-testid="input_send"]').click();
        await consoleMessage(page, "[files: receipt.txt]").waitFor();
        await waitForMessage(page, "Thanks, I received receipt.txt");

        await Deno.mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: `${ARTIFACTS}example-mid-chat.png` });
      });

      await t.step(
        "the agent console: the key attribute, quick replies, typing off on send",
        async () => {
          // The session-history key the Insight Card reads, on the conversation.
          await page.locator('[data-testid="console-attributes"]').filter({
            hasText: "watsonAssistantSessionHistoryStr",
          }).waitFor();
          const typing = page.locator('[data-testid="console-typing"]');
          await typing.click();
          assertEquals(await typing.textContent(), "Stop typing");
          await page.locator('[data-testid="console-input"]').fill("Pick one, please");
          await page.locator('[data-testid="console-quick"]').click();
          assertEquals(await typing.textContent(), "Type…", "sending ends the agent's typing");
          await page.locator('[data-testid="console-choices"]').filter({
            hasText: "Keep chatting",
          }).waitFor();
          // The user clicks a choice in Carbon: it reaches the agent, not the bot.
          await page.getByRole("button", { name: "That's all, thanks" }).click();
          await consoleMessage(page, "That's all, thanks").waitFor();
          await page.screenshot({ path: `${ARTIFACTS}example-console.png` });
        },
      );

      await t.step(
        "reload mid-chat: reconnects, transcript back, nothing lost or doubled",
        async () => {
          // A user message whose answer is lost: Kustomer stored it, the page never heard back.
          await page.evaluate(() =>
            example.sim.faults.hang("sendMessage", { times: 1, applied: true })
          );
          await send(page, "sent just before the reload");
          await page.waitForFunction(() =>
            example.desk?.state?.pending.length === 1 &&
            example.sim.messagesOf(example.conversationId()!).some((m) =>
              m.body === "sent just before the reload"
            )
          );
          // The page goes away; the agent writes before it is back.
          await page.evaluate(() => {
            example.sim.dropConnection();
            example.sim.agentSend(example.conversationId()!, "sent while you were away");
          });
          await page.reload();

          await waitForMessage(page, "sent while you were away", LOAD_MS);
          await page.waitForFunction(() =>
            example.desk?.state?.status === "connected" && example.desk.state.pending.length === 0
          );
          const factoryCalls = await page.evaluate(() => example.factoryCalls);
          assertEquals(factoryCalls.length, 1);
          assert((factoryCalls[0] as { escalationId?: string })?.escalationId, "persisted state");
          const lines = await transcript(page);
          for (
            const text of [
              "I want an agent",
              "Hi, I'm Ada",
              "hello from the user",
              "hello from the agent console",
            ]
          ) {
            assert(lines.some((l) => l.includes(text)), `after the reload, "${text}" is shown`);
          }
          assertEquals(await countMessages(page, "sent while you were away"), 1);
          assertEquals(await countMessages(page, "hello from the agent console"), 1);
          assertEquals(await customerMessages(page, "sent just before the reload"), 1);

          await send(page, "back after the reload");
          await consoleMessage(page, "back after the reload").waitFor();
          await waitForMessage(page, "You said: back after the reload");
          assertEquals(await customerMessages(page, "sent just before the reload"), 1);
          assertEquals(await customerMessages(page, "back after the reload"), 1);
        },
      );

      await t.step("transfer to another agent", async () => {
        await page.locator('[data-testid="console-transfer"]').click();
        await waitForMessage(page, "Hi, I'm Grace");
        await send(page, "are you Grace?");
        await waitForMessage(page, "You said: are you Grace?");
        const agent = await page.evaluate(() =>
          example.sim.conversations.at(-1)?.agent?.displayName
        );
        assertEquals(agent, "Grace");
      });

      let firstConversation = "";
      await t.step("the agent ends the chat", async () => {
        firstConversation = await page.evaluate(() => example.conversationId()!);
        await page.locator('[data-testid="console-end"]').click();
        await page.waitForFunction(() => example.desk?.state?.status !== "connected");
        await page.waitForFunction(() =>
          sessionStorage.getItem("kustomer-service-desk:escalation") === null
        );
        // Back with the bot.
        await send(page, "what are your hours?");
        await waitForMessage(page, "open around the clock");
      });

      await t.step("a second escalation in the same page starts clean", async () => {
        const adaBefore = await countMessages(page, "Hi, I'm Ada");
        await send(page, "agent again please");
        await page.waitForFunction(
          (first) => example.conversationId() !== first,
          firstConversation,
        );
        await message(page, "Hi, I'm Ada").nth(adaBefore).waitFor();
        await page.waitForFunction(() => example.desk?.state?.status === "connected");
        const second = await page.evaluate(() => {
          const id = example.conversationId()!;
          return {
            id,
            bodies: example.sim.messagesOf(id).map((m) => m.body ?? ""),
            transcript: example.desk!.transcript.map((e) => e.text ?? ""),
          };
        });
        assert(second.id !== firstConversation);
        for (const text of [...second.bodies, ...second.transcript]) {
          assert(!text.includes("hello from the user"), `second chat is clean: ${text}`);
          assert(!text.includes("sent while you were away"), `second chat is clean: ${text}`);
        }
        await send(page, "hello again");
        await consoleMessage(page, "hello again").waitFor();
        await waitForMessage(page, "You said: hello again");
      });

      await t.step("the user ends the chat (Carbon's Disconnect)", async () => {
        const id = await page.evaluate(() => example.conversationId()!);
        await page.getByRole("button", { name: "Disconnect" }).first().click();
        await page.getByRole("button", { name: "Disconnect" }).last().click();
        await page.waitForFunction(
          (id) => example.sim.conversations.find((c) => c.conversationId === id)?.ended === true,
          id,
        );
        await page.locator('[data-testid="console-conversation"]').filter({ hasText: "ended" })
          .waitFor();
        await page.waitForFunction(() =>
          sessionStorage.getItem("kustomer-service-desk:escalation") === null
        );
        await send(page, "hi bot");
        await waitForMessage(page, "Hello! Type");
      });

      assertEquals(errors, []);
      await context.close();

      await t.step("real mode that cannot load says so on the page", async () => {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await context.newPage();
        await page.addInitScript(() => {
          (globalThis as { exampleWebChatUrl?: string }).exampleWebChatUrl = "/dist/missing.js";
        });
        await page.goto(`${url}/?integrationID=i&region=r&serviceInstanceID=s&apiKey=k`);
        const mode = page.locator("#mode.failed");
        await mode.filter({ hasText: "could not be loaded" }).waitFor();
        assertEquals(await mode.getAttribute("role"), "alert");
        assert(await page.locator(".real-only").isVisible(), "real-mode help shown");
        assert(!(await page.locator(".sim-only").isVisible()), "no agent-console steps");
        await page.screenshot({ path: `${ARTIFACTS}example-real-failed.png` });
        await context.close();
      });

      await t.step("the scripted agent: the user says transfer, then bye", async () => {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await context.newPage();
        const errors = watchErrors(page);
        await page.goto(`${url}/?agentDelay=30`);
        await waitForMessage(page, "example assistant", LOAD_MS);
        await send(page, "talk to a human");
        await waitForMessage(page, "Hi, I'm Ada");
        await send(page, "please transfer me");
        await waitForMessage(page, "Hi, I'm Grace");
        await send(page, "ok bye");
        await waitForMessage(page, "Goodbye!");
        await page.waitForFunction(() => example.sim.conversations.at(-1)?.ended === true);
        await page.waitForFunction(() =>
          sessionStorage.getItem("kustomer-service-desk:escalation") === null
        );
        await send(page, "hello bot");
        await waitForMessage(page, "Hello! Type");
        assertEquals(errors, []);
        await context.close();
      });
    } finally {
      await browser.close();
      await server.shutdown();
      await stop();
    }
  },
);
