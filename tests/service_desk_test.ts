import "fake-indexeddb/auto";
import { assert, assertEquals, assertInstanceOf, assertRejects, assertThrows } from "@std/assert";
import { KustomerServiceDesk } from "../src/service_desk.ts";
import { resolveStore } from "../src/options.ts";
import { KustomerError } from "../src/common.ts";
import { loadChatHistory } from "../src/history.ts";
import { IndexedDbLogStore, type LogStore, MemoryLogStore } from "../src/log_store.ts";
import type { AgentProfile, MessageResponse, ServiceDeskErrorInfo } from "../src/host_types.ts";
import { makeTestJwt, SimulatedKustomerCore } from "../simulator.ts";
import {
  CapturingLogger,
  FakeScheduler,
  PageCore,
  RecordingHost,
  settle,
  until,
} from "./_helpers.ts";

import {
  ADA,
  connect,
  customerTexts,
  GRACE,
  HISTORY_KEY,
  hostAvailability,
  noKeyConnect,
  storedText,
  world,
} from "./_world.ts";

/** Databases this file opens itself (`world()` numbers its own). */
let dbCount = 0;

for (const kind of ["memory", "indexeddb"] as const) {
  Deno.test(`startChat() over ${kind}`, async (t) => {
    await t.step(
      "creates one conversation, opens it with the agent's context, attaches the key",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const [conv] = w.sim.conversations;
        assertEquals(w.sim.conversations.length, 1);
        assertEquals(conv.title, "Chat from the web assistant");
        assertEquals(conv.isDraft, false);
        const [first] = customerTexts(w.sim, conv.conversationId);
        assert(first.includes("The customer wants a refund."), first);
        assert(first.includes("Order 42 arrived broken."), first);
        assert(!first.includes("AUTHCODE"), "the key goes in the attribute, not in the message");
        assertEquals(w.sim.customAttributesOf(conv.conversationId), {
          watsonAssistantSessionHistoryStr: HISTORY_KEY,
        });
        assertEquals(w.desk.state?.status, "waiting");
        assertEquals(typeof w.host.record.escalationId, "string");
        const stored = await storedText(w.store);
        assert(stored.includes(conv.conversationId), "the escalation is in the log");
        assert(!stored.includes("AUTHCODE"), "the key left storage once Kustomer had it");
        assertEquals(w.host.named("updateCapabilities")[0][0], {
          allowFileUploads: true,
          allowMultipleFileUploads: true,
          allowedFileUploadTypes:
            ".jpg,.jpeg,.png,.pdf,.doc,.docx,.xls,.xlsx,.zip,.txt,.mov,.mp4," +
            "image/jpeg,image/png,application/pdf,application/msword," +
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document," +
            "application/vnd.ms-excel," +
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet," +
            "application/zip,text/plain,video/quicktime,video/mp4",
        });
        assertEquals(w.host.named("updateAgentAvailability"), [[{
          message: "Waiting for an agent to join.",
        }]]);
        await w.dispose();
      },
    );

    await t.step("takes old web chat's agentAppInfo key and a custom attribute name", async () => {
      const w = world(kind, { sessionHistoryAttribute: "botHistoryTxt", title: "Help!" });
      await w.desk.startChat(noKeyConnect, { agentAppInfo: { sessionHistoryKey: "OLD-KEY" } });
      assertEquals(w.sim.customAttributesOf(w.conversationId), { botHistoryTxt: "OLD-KEY" });
      assertEquals(w.sim.conversations[0].title, "Help!");
      await w.dispose();
    });

    await t.step(
      "with no key (Carbon), sends the agent a readable summary of the bot chat",
      async () => {
        const w = world(kind, {
          conversationSummary: () => "User: I need help\nBot: Let me get a person",
        });
        await w.desk.startChat(noKeyConnect, {});
        const [first] = customerTexts(w.sim, w.conversationId);
        assert(first.includes("Wants a person."), first);
        assert(first.includes("User: I need help\nBot: Let me get a person"), first);
        assertEquals(w.sim.customAttributesOf(w.conversationId), {});
        await w.dispose();
      },
    );

    await t.step("logs in with a fresh JWT, never stored or logged", async () => {
      let issued = 0;
      const w = world(kind, {
        getJwt: () => {
          issued++;
          return Promise.resolve(
            makeTestJwt({ externalId: "user-7", iat: Math.floor(w.clock.now() / 1000) }),
          );
        },
      });
      await w.desk.startChat(connect(), {});
      assertEquals(issued, 1);
      assertEquals(w.sim.logins.length, 1);
      assertEquals(w.sim.customer.identified, true);
      const token = makeTestJwt({ externalId: "user-7", iat: Math.floor(w.clock.now() / 1000) });
      assert(!(await storedText(w.store)).includes(token.split(".")[1]));
      assert(!w.logger.lines.join("\n").includes(token.split(".")[1]));
      await w.dispose();
    });

    await t.step("a rejected createConversation shows CONNECTING and rejects clearly", async () => {
      const w = world(kind);
      w.sim.faults.fail("createConversation", {
        error: { status: 503, message: "Service unavailable" },
      });
      const error = await assertRejects(() => w.desk.startChat(connect(), {}), KustomerError);
      assertEquals(error.method, "createConversation");
      assert(error.message.includes("Service unavailable"), error.message);
      assertEquals(w.host.errors()[0].type, 1);
      assertEquals(w.host.record.escalationId, undefined, "persisted state cleared");
      assertEquals(await w.store.heads(), [], "the failed escalation's log is gone");
      await w.dispose();
    });

    await t.step(
      "a createConversation that never answers times out instead of hanging",
      async () => {
        const w = world(kind);
        w.sim.faults.hang("createConversation", { times: 1 });
        const start = w.desk.startChat(connect(), {});
        const failed = assertRejects(
          () => start,
          KustomerError,
          "did not answer createConversation()",
        );
        await w.clock.advance(1_000);
        await failed;
        assertEquals(w.host.errors()[0].type, 1);
        await w.dispose();
      },
    );

    await t.step(
      "a describeConversation that never answers does not hang startChat (the starter kit's bug)",
      async () => {
        const w = world(kind);
        w.sim.faults.hang("describeConversation", { times: 1 });
        const start = w.desk.startChat(connect(), {});
        // The clock moves once the call (and its timeout) is under way, however many turns the log's
        // writes before it take.
        await until(
          () => w.sim.callLog.some((c) => c.method === "describeConversation"),
          "the describeConversation call",
        );
        await w.clock.advance(1_000);
        await start;
        assertEquals(w.desk.state?.status, "waiting");
        assertEquals(w.desk.state?.historyKeyAttached, false);
        assert(
          w.logger.lines.some((l) => l.includes("session-history key")),
          w.logger.lines.join("\n"),
        );
        await w.dispose();
      },
    );

    await t.step("a first message that fails leaves no draft behind", async () => {
      const w = world(kind);
      w.sim.faults.fail("sendMessage");
      await assertRejects(() => w.desk.startChat(connect(), {}), KustomerError, "sendMessage");
      assertEquals(w.sim.conversations[0].ended, true, "the unusable conversation was ended");
      await w.dispose();
    });

    await t.step("a second startChat while one is active is refused", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      await assertRejects(() => w.desk.startChat(connect(), {}), Error, "a chat is already active");
      await w.dispose();
    });
  });

  Deno.test(`agent events over ${kind}`, async (t) => {
    await t.step("first agent message: agentJoined as a human, then the message", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      w.sim.agentSend(w.conversationId, "Hi, I'm Ada.");
      await until(() => w.host.texts().length === 1, "the agent message");
      const joined = w.host.named("agentJoined")[0][0] as AgentProfile;
      assertEquals(joined, { id: ADA.id, nickname: "Ada", user_type: "human" });
      assertEquals(w.host.texts(), ["Hi, I'm Ada."]);
      assertEquals(w.host.named("sendMessageToUser")[0][1], ADA.id);
      assertEquals(w.desk.state?.status, "connected");
      w.sim.agentSend(w.conversationId, "How can I help?");
      await until(() => w.host.texts().length === 2, "the second message");
      assertEquals(w.host.named("agentJoined").length, 1, "the same agent joins once");
      await w.dispose();
    });

    await t.step(
      "a new sender is a transfer: beginTransferToAnotherAgent, agentJoined, message",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        w.sim.agentSend(w.conversationId, "Hi");
        await until(() => w.host.texts().length === 1, "first");
        w.sim.transfer(w.conversationId, GRACE);
        w.sim.agentSend(w.conversationId, "Grace here");
        await until(() => w.host.texts().length === 2, "second");
        const names = w.host.calls.map((c) => c.name).filter((n) => n !== "updatePersistedState");
        const tail = names.slice(names.indexOf("beginTransferToAnotherAgent"));
        assertEquals(tail, ["beginTransferToAnotherAgent", "agentJoined", "sendMessageToUser"]);
        assertEquals((w.host.named("agentJoined")[1][0] as AgentProfile).nickname, "Grace");
        await w.dispose();
      },
    );

    await t.step(
      "quick replies become buttons whose click reaches the agent; attachments are shown",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        w.sim.agentSend(w.conversationId, "Pick one", {
          quickReplies: [{ displayText: "Yes", value: "yes" }, { displayText: "No", value: "no" }],
        });
        w.sim.agentSend(w.conversationId, "Here you go", {
          attachments: [
            {
              id: "f1",
              name: "label.png",
              contentType: "image/png",
              url: "https://files.example/label.png",
            },
            {
              id: "f2",
              name: "invoice.pdf",
              contentType: "application/pdf",
              url: "https://files.example/invoice.pdf",
            },
          ],
        });
        await until(() => w.host.texts().length === 2, "both messages");
        const [options, files] = w.host.named("sendMessageToUser").map(([m]) =>
          (m as MessageResponse).output.generic!
        );
        // Not `option` items: Carbon sends an option click to the assistant, never the agent.
        assertEquals(
          options.slice(1).map((g) => [g.response_type, g.button_type, g.label]),
          [["button", "custom_event", "Yes"], ["button", "custom_event", "No"]],
        );
        // A click: Carbon fires messageItemCustom with the button's item.
        await w.host.instance.fire({ type: "messageItemCustom", messageItem: options[2] });
        await until(
          () => customerTexts(w.sim, w.conversationId).includes("No"),
          "the quick reply at the agent",
        );
        assertEquals(customerTexts(w.sim, w.conversationId).slice(1), ["No"]);
        // Someone else's custom button is not the desk's business.
        await w.host.instance.fire({
          type: "messageItemCustom",
          messageItem: { response_type: "button", button_type: "custom_event", label: "Other" },
        });
        await settle();
        assertEquals(customerTexts(w.sim, w.conversationId).slice(1), ["No"]);
        assertEquals(files.map((g) => g.response_type), ["text", "image", "text"]);
        assertEquals(files[1].source, "https://files.example/label.png");
        assert(String(files[2].text).includes("[invoice.pdf](https://files.example/invoice.pdf)"));
        await w.dispose();
      },
    );

    await t.step("events of other conversations are ignored", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      // The same customer has another conversation (another tab, an older chat).
      const other = await new Promise<string>((resolve) =>
        w.sim.createConversation({ title: "other" }, (r) => resolve(r!.conversationId))
      );
      await new Promise((resolve) =>
        w.sim.sendMessage({ conversationId: other, body: "x" }, resolve)
      );
      w.sim.agentSend(other, "not for you");
      w.sim.agentTyping(other, true);
      w.sim.agentEnd(other);
      await settle();
      assertEquals(w.host.texts(), []);
      assertEquals(w.host.named("agentTyping"), []);
      assertEquals(w.host.named("agentEndedChat"), []);
      await w.dispose();
    });

    await t.step("messages delivered twice or out of order are shown once each", async () => {
      const w = world(kind, {}, { deliveryMode: "duplicate" });
      await w.desk.startChat(connect(), {});
      for (const text of ["one", "two", "three"]) w.sim.agentSend(w.conversationId, text);
      await until(() => w.host.texts().length >= 3, "three messages");
      await settle();
      assertEquals(w.host.texts(), ["one", "two", "three"]);
      w.sim.deliveryMode = "reverse";
      for (const text of ["four", "five"]) w.sim.agentSend(w.conversationId, text);
      await until(() => w.host.texts().length >= 5, "five messages");
      await settle();
      assertEquals(w.host.texts().slice(3), ["four", "five"], "in Kustomer's (time) order");
      await w.dispose();
    });

    await t.step("agent typing is forwarded, true and false", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      w.sim.agentTyping(w.conversationId, true);
      w.sim.agentTyping(w.conversationId, false);
      await until(() => w.host.named("agentTyping").length === 2, "typing");
      assertEquals(w.host.named("agentTyping"), [[true], [false]]);
      await w.dispose();
    });

    await t.step(
      "the agent ending the chat: agentEndedChat, then endChat does not end it again",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        w.sim.agentSend(w.conversationId, "Bye");
        w.sim.agentEnd(w.conversationId);
        await until(() => w.host.named("agentEndedChat").length === 1, "agentEndedChat");
        const order = w.host.calls.map((c) => c.name);
        assertEquals(w.host.texts(), ["Bye"], "the agent's last words are shown");
        assert(order.indexOf("sendMessageToUser") < order.indexOf("agentEndedChat"), order.join());
        const calls = w.sim.callLog.length;
        await w.desk.endChat({ endedByHumanAgent: true });
        assertEquals(w.sim.callLog.slice(calls).filter((c) => c.method === "endConversation"), []);
        assertEquals(w.host.skipsWelcome, false, "cleared: the welcome message comes back");
        assertEquals(await w.store.heads(), []);
        await w.dispose();
      },
    );

    await t.step("satisfaction surveys are surfaced and can be answered", async () => {
      const surveys: { satisfactionId: string; submit(r: number): Promise<void> }[] = [];
      const w = world(kind, { onSatisfaction: (s) => surveys.push(s) });
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      w.sim.agentSend(conversationId, "Done!");
      w.sim.agentEnd(conversationId);
      await until(() => w.host.named("agentEndedChat").length === 1, "ended");
      const sent = w.sim.sendSatisfaction(conversationId);
      await until(() => surveys.length === 1, "the survey");
      assertEquals(surveys[0].satisfactionId, sent.satisfactionId);
      await surveys[0].submit(5);
      assert(w.sim.callLog.some((c) => c.method === "submitSatisfactionForm"));
      await w.dispose();
    });

    await t.step(
      "an onSatisfaction that throws or rejects is a warning, not a failure",
      async () => {
        const failures = [
          () => {
            throw new Error("page bug");
          },
          () => Promise.reject(new Error("page bug")),
        ];
        for (const fail of failures) {
          const w = world(kind, { onSatisfaction: fail });
          await w.desk.startChat(connect(), {});
          const conversationId = w.conversationId;
          w.sim.agentSend(conversationId, "Done!");
          w.sim.agentEnd(conversationId);
          await until(() => w.host.named("agentEndedChat").length === 1, "ended");
          w.sim.sendSatisfaction(conversationId);
          await until(
            () =>
              w.logger.lines.some((line) => line.includes("onSatisfaction() failed (page bug)")),
            "the warning",
          );
          // The desk goes on: the next chat starts.
          await w.desk.startChat(connect(), {});
          assert(w.conversationId !== conversationId);
          await w.dispose();
        }
      },
    );
  });

  Deno.test(`user side over ${kind}`, async (t) => {
    await t.step(
      "sendMessageToAgent delivers text; a rejection marks the message failed",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        await w.desk.sendMessageToAgent({ id: "req-1", input: { text: "hello" } }, "msg-1");
        assertEquals(customerTexts(w.sim, w.conversationId).slice(1), ["hello"]);
        w.sim.faults.fail("sendMessage", { error: { status: 429, message: "Too many messages" } });
        await assertRejects(
          () => w.desk.sendMessageToAgent({ id: "req-2", input: { text: "again" } }, "msg-2"),
          KustomerError,
          "Too many messages",
        );
        await settle();
        assertEquals(w.host.errors(), [{
          type: 3,
          messageID: "req-2",
          logInfo: w.host.errors()[0] && (w.host.errors()[0] as { logInfo: unknown }).logInfo,
        }]);
        assertEquals(w.desk.state?.pending, []);
        await w.dispose();
      },
    );

    await t.step("files go as attachments and each upload is confirmed", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      const file = new File(["%PDF-1.4"], "receipt.pdf", { type: "application/pdf" });
      await w.desk.sendMessageToAgent({ id: "req-f", input: { text: "" } }, "msg-f", {
        filesToUpload: [{ id: "up-1", file }],
      });
      const last = w.sim.messagesOf(w.conversationId).at(-1)!;
      assertEquals(last.attachments?.map((a) => a.name), ["receipt.pdf"]);
      await settle();
      assertEquals(w.host.named("setFileUploadStatus"), [["up-1"]]);
      await w.dispose();
    });

    await t.step("files Kustomer would refuse are refused early with a reason", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      const big = new File([new Uint8Array(6 * 1024 * 1024)], "video.mp4", { type: "video/mp4" });
      const exe = new File(["MZ"], "tool.exe", { type: "application/octet-stream" });
      const ok = new File(["hi"], "notes.txt", { type: "text/plain" });
      w.desk.filesSelectedForUpload([{ id: "a", file: big }, { id: "b", file: exe }, {
        id: "c",
        file: ok,
      }]);
      await settle();
      const statuses = w.host.named("setFileUploadStatus");
      assertEquals(statuses.map((s) => [s[0], s[1]]), [["a", true], ["b", true]]);
      assert(String(statuses[0][2]).includes("up to 5 MB"), String(statuses[0][2]));
      assert(String(statuses[1][2]).includes("accepts only"), String(statuses[1][2]));
      await assertRejects(
        () =>
          w.desk.sendMessageToAgent({ id: "r", input: { text: "" } }, "m", {
            filesToUpload: [{ id: "b", file: exe }],
          }),
        RangeError,
        "tool.exe",
      );
      await w.dispose();
    });

    await t.step(
      "userTyping sends true and false; messages shown in an open chat are marked read once each",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        await w.desk.userTyping(true);
        assertEquals(w.sim.typingOf(w.conversationId), true);
        await w.desk.userTyping(false);
        assertEquals(w.sim.typingOf(w.conversationId), false);
        const a = w.sim.agentSend(w.conversationId, "one");
        const b = w.sim.agentSend(w.conversationId, "two");
        await until(() => w.host.texts().length === 2, "messages");
        // No page code: the desk hears Carbon's human_agent:receive itself.
        const marked = () => w.sim.readReceipts.flatMap((r) => r.messageIds);
        await until(() => marked().includes(b.messageId), "both read");
        assertEquals(marked(), [a.messageId, b.messageId], "each marked once, in order");
        // A closed chat marks nothing, until the user opens it.
        w.host.instance.open = false;
        const c = w.sim.agentSend(w.conversationId, "three");
        await until(() => w.host.texts().length === 3, "third");
        await settle();
        assertEquals(marked(), [a.messageId, b.messageId]);
        w.host.instance.open = true;
        await w.host.instance.fire({ type: "view:change", newViewState: { mainWindow: true } });
        await until(() => marked().includes(c.messageId), "read when opened");
        assertEquals(marked(), [a.messageId, b.messageId, c.messageId]);
        await w.dispose();
      },
    );

    await t.step(
      "endChat ends the Kustomer conversation, awaited; no agentEndedChat for it",
      async () => {
        const w = world(kind, { retentionMs: 60_000 });
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        await w.desk.endChat({});
        assertEquals(w.sim.conversations[0].ended, true);
        await settle();
        assertEquals(w.host.named("agentEndedChat"), []);
        assertEquals(w.host.skipsWelcome, false, "cleared: the welcome message comes back");
        const stored = await storedText(w.store);
        assert(!stored.includes("AUTHCODE"), "the session-history key left storage with the chat");
        assert(stored.includes(conversationId), "retention keeps the compacted log");
        await w.dispose();
      },
    );

    await t.step("endChat surfaces a Kustomer error but still clears up", async () => {
      const w = world(kind, {}, { allowEndConversation: false });
      await w.desk.startChat(connect(), {});
      await assertRejects(() => w.desk.endChat({}), KustomerError, "endConversation");
      assertEquals(w.host.skipsWelcome, false, "cleared: the welcome message comes back");
      assertEquals(await w.store.heads(), []);
      await w.dispose();
    });

    await t.step("a second chat in the same page starts clean (no leaked agent)", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      w.sim.agentSend(w.conversationId, "first chat");
      await until(() => w.host.texts().length === 1, "first");
      await w.desk.endChat({});
      await w.desk.startChat(connect(), {});
      assertEquals(w.desk.state?.agent, undefined);
      w.sim.agentSend(w.conversationId, "second chat");
      await until(() => w.host.texts().length === 2, "second");
      assertEquals(w.host.named("beginTransferToAnotherAgent"), [], "not a transfer");
      assertEquals(w.host.named("agentJoined").length, 2);
      assertEquals(w.sim.conversations.length, 2);
      await w.dispose();
    });

    await t.step("messages sent while the chat starts go once it is open, in order", async () => {
      const w = world(kind, {}, { latencyMs: 100 });
      const start = w.desk.startChat(connect(), {});
      await w.clock.advance(100);
      const sends = [
        w.desk.sendMessageToAgent({ id: "e1", input: { text: "early one" } }, "e1"),
        w.desk.sendMessageToAgent({ id: "e2", input: { text: "early two" } }, "e2"),
      ];
      await w.clock.advance(2_000);
      await start;
      await Promise.all(sends);
      assertEquals(customerTexts(w.sim, w.conversationId).slice(1), ["early one", "early two"]);
      await w.dispose();
    });
  });

  Deno.test(`availability and small methods over ${kind}`, async (t) => {
    await t.step("areAnyAgentsOnline reads both isChatAvailable shapes", async () => {
      for (const shape of ["string", "object"] as const) {
        const w = world(kind, {}, { availabilityShape: shape });
        assertEquals(await w.desk.areAnyAgentsOnline(connect()), true);
        w.sim.setAvailability("offline");
        assertEquals(await w.desk.areAnyAgentsOnline(connect()), false);
        w.sim.setAvailability("hidden");
        assertEquals(await w.desk.areAnyAgentsOnline(connect()), false);
        await w.dispose();
      }
    });

    await t.step("areAnyAgentsOnline is null when Kustomer cannot say", async () => {
      const w = world(kind);
      w.sim.faults.fail("init");
      assertEquals(await w.desk.areAnyAgentsOnline(connect()), null);
      const odd = Object.assign(new SimulatedKustomerCore(), {
        isChatAvailable: () => ({ status: "?" }),
      });
      const desk = new KustomerServiceDesk({ callback: w.host.callback }, {
        ...w.options,
        core: odd,
      });
      assertEquals(await desk.areAnyAgentsOnline(connect()), null);
      odd.dispose();
      await w.dispose();
    });

    await t.step("offline agents: the wait message says so", async () => {
      const w = world(kind, {}, { availability: "offline" });
      await w.desk.startChat(connect(), {});
      const [[availability]] = w.host.named("updateAgentAvailability") as [[{ message: string }]];
      assert(availability.message.includes("No agents are online"), availability.message);
      await w.dispose();
    });

    await t.step("updateQueue sends both spellings and checks its figures", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      w.desk.updateQueue({ positionInQueue: 3, estimatedWaitTime: 5 });
      await settle();
      assertEquals(w.host.named("updateAgentAvailability").at(-1), [{
        positionInQueue: 3,
        position_in_queue: 3,
        estimatedWaitTime: 5,
        estimated_wait_time: 5,
      }]);
      assertThrows(
        () => w.desk.updateQueue({ positionInQueue: -1 }),
        RangeError,
        "positionInQueue",
      );
      await w.dispose();
    });

    await t.step("getName, screenShareStop, updateState", async () => {
      const w = world(kind);
      assertEquals(w.desk.getName(), "kustomer");
      await w.desk.screenShareStop();
      w.desk.updateState({ sessionID: "s", locale: "fr" });
      await w.desk.startChat(connect(), {});
      const init = w.sim.callLog.find((c) => c.method === "init");
      assertEquals((init?.options as { lang?: string }).lang, "fr");
      assertThrows(() => w.desk.updateState(null as never), TypeError);
      await w.dispose();
    });
  });

  Deno.test(`reload and reconnect over ${kind}`, async (t) => {
    await t.step(
      "mid-chat: missed agent messages once, unconfirmed user message once, true",
      async () => {
        const w = world(kind, {
          getJwt: () =>
            Promise.resolve(
              makeTestJwt({ email: "u@example.com", iat: Math.floor(w.clock.now() / 1000) }),
            ),
        });
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "before reload");
        await until(() => w.host.texts().length === 1, "first");
        // The first login's token is now too old for Kustomer: the next login needs a fresh one.
        await w.clock.advance(16 * 60_000);
        // A user message in flight: Kustomer got it but the answer is lost with the page.
        w.sim.faults.hang("sendMessage", { times: 1, applied: true });
        void w.desk.sendMessageToAgent(
          { id: "u-in-flight", input: { text: "did you get this?" } },
          "u1",
        )
          .catch(() => {});
        // A user message queued but never sent before the page died.
        w.sim.faults.hang("sendMessage", { times: 1, applied: false });
        void w.desk.sendMessageToAgent({ id: "u-lost", input: { text: "and this?" } }, "u2").catch(
          () => {},
        );
        await settle();
        const { desk, host } = w.reload();
        w.sim.agentSend(conversationId, "while you were away");
        assertEquals(await desk.reconnect(), true);
        await until(() => host.texts().length === 1, "caught-up message");
        assertEquals(host.texts(), ["while you were away"]);
        assertEquals(host.named("agentJoined"), [], "the host already knows the agent");
        assertEquals(
          customerTexts(w.sim, conversationId).slice(1),
          ["did you get this?", "and this?"],
          "each user message reached the agent exactly once",
        );
        assertEquals(w.sim.logins.length, 2, "a fresh login after the reload");
        w.sim.agentSend(conversationId, "live again");
        await until(() => host.texts().length === 2, "live message");
        await w.dispose();
      },
    );

    await t.step(
      "while the agent types: typing resumes with the new page's listeners",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "hi");
        await until(() => w.host.texts().length === 1, "hi");
        w.sim.agentTyping(conversationId, true);
        await until(() => w.host.named("agentTyping").length === 1, "typing");
        const { desk, host, page } = w.reload();
        assertEquals(await desk.reconnect(), true);
        assertEquals(page.listenerCount, 4);
        w.sim.agentTyping(conversationId, false);
        w.sim.agentSend(conversationId, "done typing");
        await until(() => host.texts().length === 1, "message");
        assertEquals(host.named("agentTyping"), [[false]]);
        await w.dispose();
      },
    );

    await t.step("a conversation ended while the page was away: reconnect is false", async () => {
      const w = world(kind);
      await w.desk.startChat(connect(), {});
      w.sim.agentSend(w.conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      const conversationId = w.conversationId;
      const { desk, host } = w.reload();
      w.sim.agentEnd(conversationId);
      assertEquals(await desk.reconnect(), false);
      assertEquals(host.skipsWelcome, false, "cleared: the welcome message comes back");
      assertEquals(await w.store.heads(), []);
      await w.dispose();
    });

    await t.step("a key that failed to attach is attached on reconnect", async () => {
      const w = world(kind);
      w.sim.faults.fail("describeConversation");
      await w.desk.startChat(connect(), {});
      assertEquals(w.sim.customAttributesOf(w.conversationId), {});
      w.sim.agentSend(w.conversationId, "hi"); // so that Carbon reconnects after the reload
      await until(() => w.host.texts().length === 1, "hi");
      assert((await storedText(w.store)).includes("AUTHCODE"), "kept for the retry");
      const { desk } = w.reload();
      assertEquals(await desk.reconnect(), true);
      assertEquals(w.sim.customAttributesOf(w.conversationId), {
        watsonAssistantSessionHistoryStr: HISTORY_KEY,
      });
      assert(!(await storedText(w.store)).includes("AUTHCODE"), "and dropped once attached");
      await w.dispose();
    });

    await t.step(
      "queued (no agent yet, so no reconnect): the next startChat resumes it, no orphan",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        const { desk, host } = w.reload();
        w.sim.agentSend(conversationId, "sorry for the wait");
        await desk.startChat(connect(), {});
        assertEquals(w.sim.conversations.length, 1, "no second conversation");
        assertEquals(w.sim.conversations[0].ended, false);
        await until(() => host.texts().length === 1, "the agent's message");
        assertEquals(host.named("agentJoined").length, 1);
        await w.dispose();
      },
    );

    await t.step(
      "queued at a reload: the desk shows the hand-off again, and the user sees the agent come",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        const { desk, host } = w.reload();
        assertEquals(host.connected, false, "so Carbon will not call reconnect()");
        // Carbon finished hydrating: the desk puts the hand-off back in the chat.
        await host.instance.fire({ type: "chat:ready" });
        await until(() => host.instance.added.length === 1, "the hand-off shown again");
        const handOff = host.instance.added[0];
        assertEquals(handOff.output.generic?.[0].response_type, "connect_to_agent");
        // What Carbon does with a connect_to_agent: availability (5 s), then startChat.
        assertEquals(await hostAvailability(desk, w.clock, handOff), true);
        await desk.startChat(handOff, {});
        w.sim.agentSend(conversationId, "sorry for the wait");
        await until(() => host.texts().length === 1, "the agent's message");
        assertEquals(host.texts(), ["sorry for the wait"]);
        assertEquals(host.named("agentJoined").length, 1);
        assertEquals(w.sim.conversations.length, 1, "the same conversation");
        await w.dispose();
      },
    );

    await t.step(
      "queued at a reload, and the agent ends meanwhile: the chat ends, no second conversation",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        const { desk, host } = w.reload();
        await host.instance.fire({ type: "chat:ready" });
        await until(() => host.instance.added.length === 1, "the hand-off shown again");
        const handOff = host.instance.added[0];
        w.sim.agentSend(conversationId, "Sorry, we are closing now.");
        w.sim.agentEnd(conversationId);
        await desk.startChat(handOff, {});
        await until(() => host.named("agentEndedChat").length === 1, "the end shown");
        assertEquals(host.texts(), ["Sorry, we are closing now."], "the agent's last words");
        assertEquals(w.sim.conversations.length, 1, "no second conversation");
        assertEquals(w.sim.conversations[0].ended, true);
        await w.dispose();
      },
    );

    await t.step(
      "connected at a reload: no hand-off is shown again (Carbon reconnects)",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        w.sim.agentSend(w.conversationId, "hi");
        await until(() => w.host.texts().length === 1, "hi");
        const { desk, host } = w.reload();
        await host.instance.fire({ type: "chat:ready" });
        assertEquals(await desk.reconnect(), true);
        await settle();
        assertEquals(host.instance.added, []);
        await w.dispose();
      },
    );

    await t.step(
      "the persisted state names the conversation; an ended chat replaces it (welcome back)",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        assertEquals(w.host.record, {
          escalationId: (await w.store.heads())[0].id,
          conversationId: w.conversationId,
        });
        assertEquals(w.host.skipsWelcome, true);
        await w.desk.endChat({});
        assertEquals(w.host.state, false, "replaced, not merged");
        assertEquals(w.host.skipsWelcome, false);
        const { host } = w.reload();
        await host.instance.fire({ type: "chat:ready" });
        await settle();
        assertEquals(host.instance.added, [], "nothing comes back");
        await w.dispose();
      },
    );

    await t.step(
      "the log is gone but the host names the conversation: rebuilt from Kustomer",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "first");
        await until(() => w.host.texts().length === 1, "first");
        for (const head of await w.store.heads()) await w.store.remove(head.id);
        const { desk, host } = w.reload();
        w.sim.agentSend(conversationId, "while you were away");
        assertEquals(await desk.reconnect(), true);
        await until(() => host.texts().length === 2, "the chat rebuilt");
        assertEquals(host.texts(), ["first", "while you were away"]);
        // Carbon reconnected, so its chat:ready must not bring the hand-off back.
        await host.instance.fire({ type: "chat:ready" });
        await settle();
        assertEquals(host.instance.added, []);
        assert(w.logger.lines.some((l) => l.includes("rebuilding the chat from Kustomer")));
        await desk.sendMessageToAgent({ id: "after", input: { text: "still here" } }, "after");
        assertEquals(customerTexts(w.sim, conversationId).at(-1), "still here");
        assertEquals(w.sim.conversations.length, 1);
        await w.dispose();
      },
    );

    await t.step(
      'queued, with orphanedChat "end": the old conversation is ended, a new one starts',
      async () => {
        const w = world(kind, { orphanedChat: "end" });
        await w.desk.startChat(connect(), {});
        const { desk } = w.reload();
        await desk.startChat(connect(), {});
        assertEquals(w.sim.conversations.map((c) => c.ended), [true, false]);
        await w.dispose();
      },
    );

    await t.step(
      "queued, and nobody takes it up after the reload: ended after orphanTimeoutMs",
      async () => {
        const w = world(kind, { orphanTimeoutMs: 60_000 });
        await w.desk.startChat(connect(), {});
        const { host } = w.reload();
        await w.clock.advance(59_000);
        assertEquals(w.sim.conversations[0].ended, false, "not before the time is up");
        await w.clock.advance(1_000);
        await until(() => w.sim.conversations[0].ended, "the orphan ended");
        await until(() => !host.skipsWelcome, "persisted state cleared");
        assert(w.logger.lines.some((l) => l.includes("left waiting by a page reload")));
        await w.dispose();
      },
    );

    await t.step("a reconnected or resumed chat is not ended by the orphan timer", async () => {
      const w = world(kind, { orphanTimeoutMs: 60_000 });
      await w.desk.startChat(connect(), {});
      w.sim.agentSend(w.conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      const first = w.reload();
      assertEquals(await first.desk.reconnect(), true);
      await w.clock.advance(61_000);
      assertEquals(w.sim.conversations[0].ended, false, "reconnected");
      const second = w.reload();
      await second.desk.startChat(connect(), {});
      await w.clock.advance(61_000);
      assertEquals(w.sim.conversations.map((c) => c.ended), [false], "resumed by startChat");
      await w.dispose();
    });

    await t.step(
      "before the conversation existed: the next startChat finishes opening it",
      async () => {
        const w = world(kind);
        w.sim.faults.hang("createConversation", { times: 1 });
        void w.desk.startChat(connect(), {}).catch(() => {});
        await settle();
        assertEquals(w.desk.state?.status, "starting");
        const { desk } = w.reload();
        await desk.startChat(connect(), {});
        assertEquals(w.sim.conversations.length, 1);
        assertEquals(desk.state?.status, "waiting");
        assertEquals(w.sim.customAttributesOf(w.conversationId), {
          watsonAssistantSessionHistoryStr: HISTORY_KEY,
        });
        await w.dispose();
      },
    );

    await t.step("with no escalation, reconnect is false", async () => {
      const w = world(kind);
      w.host.connected = true; // a host that thinks an agent is there, though the desk has nothing
      assertEquals(await w.desk.reconnect(), false);
      await w.dispose();
    });

    await t.step(
      "a host without persisted state (old web chat): sessionStorage carries the id",
      async () => {
        sessionStorage.clear();
        const w = world(kind);
        const clock = w.clock;
        const page = new PageCore(w.sim);
        const host = new RecordingHost({ persistence: false });
        const desk = new KustomerServiceDesk({ callback: host.callback }, {
          ...w.options,
          core: page.core,
        });
        await desk.startChat(connect(), {});
        const conversationId = desk.state!.conversationId!;
        w.sim.agentSend(conversationId, "hello");
        await until(() => host.texts().length === 1, "message");
        page.unload();
        const page2 = new PageCore(w.sim);
        const host2 = new RecordingHost({ persistence: false });
        const desk2 = new KustomerServiceDesk({ callback: host2.callback }, {
          ...w.options,
          core: page2.core,
        });
        assertEquals(await desk2.reconnect(), true);
        assertEquals(desk2.state?.conversationId, conversationId);
        page2.unload();
        await clock.advance(1);
        sessionStorage.clear();
        await w.dispose();
      },
    );

    await t.step("a corrupt record in the log does not stop the resume", async () => {
      const inner: LogStore = kind === "memory"
        ? new MemoryLogStore()
        : new IndexedDbLogStore({ dbName: `desk-test-local-${++dbCount}` });
      let corrupt = false;
      // The newest record comes back damaged, as from a bad disk or a foreign writer.
      const store: LogStore = {
        write: (...a) => inner.write(...a),
        load: async (id) => {
          const loaded = await inner.load(id);
          if (!corrupt || !loaded.records.length) return loaded;
          const last = loaded.records.at(-1) as { seq: number };
          const bad = { v: 1, seq: last.seq, at: 0, type: "agent_message_received", data: {} };
          return { ...loaded, records: [...loaded.records.slice(0, -1), bad] };
        },
        events: (...a) => inner.events(...a),
        remove: (id) => inner.remove(id),
        heads: () => inner.heads(),
      };
      const w = world(kind, { store });
      await w.desk.startChat(connect(), {});
      w.sim.agentSend(w.conversationId, "hi");
      await until(() => w.host.texts().length === 1, "first");
      corrupt = true;
      const { desk } = w.reload();
      assertEquals(await desk.reconnect(), true);
      assert(w.logger.lines.some((l) => l.includes("skipped a record")), w.logger.lines.join("\n"));
      await w.dispose();
    });
  });

  Deno.test(`lost and recovered Kustomer over ${kind}`, async (t) => {
    await t.step(
      "DISCONNECTED true when calls stop answering, false and caught up when back",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "hello");
        await until(() => w.host.texts().length === 1, "first");
        w.sim.dropConnection();
        w.sim.agentSend(conversationId, "sent during the outage");
        const send = w.desk.sendMessageToAgent(
          { id: "during", input: { text: "are you there?" } },
          "d",
        );
        const failed = assertRejects(() => send, KustomerError, "did not answer sendMessage()");
        await w.clock.advance(1_000);
        await failed;
        const disconnected = (e: ServiceDeskErrorInfo) =>
          e.type === 2 ? e.isDisconnected : undefined;
        assertEquals(w.host.errors().map(disconnected).filter((x) => x !== undefined), [true]);
        await w.clock.advance(2_000);
        assertEquals(
          w.host.errors().map(disconnected).filter((x) => x !== undefined),
          [true],
          "still down",
        );
        w.sim.restoreConnection();
        await w.clock.advance(2_000);
        await until(() => w.host.texts().length === 2, "the missed message");
        assertEquals(w.host.errors().map(disconnected).filter((x) => x !== undefined), [
          true,
          false,
        ]);
        assertEquals(w.host.texts(), ["hello", "sent during the outage"]);
        await w.dispose();
      },
    );

    await t.step("the heartbeat notices a silent outage and catches up", async () => {
      const w = world(kind, { heartbeatMs: 10_000 });
      await w.desk.startChat(connect(), {});
      const conversationId = w.conversationId;
      w.sim.dropConnection();
      w.sim.agentSend(conversationId, "you missed me");
      await w.clock.advance(11_000);
      assertEquals(w.host.errors().filter((e) => e.type === 2).length, 1);
      w.sim.restoreConnection();
      await w.clock.advance(1_000);
      await until(() => w.host.texts().length === 1, "caught up");
      assertEquals(w.host.texts(), ["you missed me"]);
      await w.desk.endChat();
      assertEquals(w.clock.pending, 0, "no timer left once the chat ended");
      await w.dispose();
    });

    await t.step(
      "reconnect while Kustomer is unreachable: true, DISCONNECTED, then recovers",
      async () => {
        const w = world(kind);
        await w.desk.startChat(connect(), {});
        const conversationId = w.conversationId;
        w.sim.agentSend(conversationId, "hi");
        await until(() => w.host.texts().length === 1, "first");
        w.sim.dropConnection();
        const { desk, host } = w.reload();
        const reconnected = desk.reconnect();
        await w.clock.advance(1_000);
        assertEquals(await reconnected, true);
        assertEquals(host.errors(), [{ type: 2, isDisconnected: true }]);
        w.sim.restoreConnection();
        w.sim.agentSend(conversationId, "back");
        await w.clock.advance(1_000);
        await until(() => host.texts().includes("back"), "recovered");
        assertEquals(host.errors().at(-1), { type: 2, isDisconnected: false });
        // Live again, not only caught up: the next message comes through the listeners.
        w.sim.agentSend(conversationId, "live after recovery");
        await until(() => host.texts().includes("live after recovery"), "a live message");
        await w.dispose();
      },
    );
  });
}

Deno.test("storage that fails (full disk) does not stop the chat", async () => {
  const inner = new MemoryLogStore();
  let full = true;
  const store: LogStore = {
    write: (...a) =>
      full ? Promise.reject(new DOMException("quota", "QuotaExceededError")) : inner.write(...a),
    load: (id) => inner.load(id),
    events: (...a) => inner.events(...a),
    remove: (id) => inner.remove(id),
    heads: () => inner.heads(),
  };
  const w = world("memory", { store });
  await w.desk.startChat(connect(), {});
  w.sim.agentSend(w.conversationId, "still works");
  await until(() => w.host.texts().length === 1, "message");
  await w.desk.sendMessageToAgent({ id: "u", input: { text: "me too" } }, "u");
  assert(w.logger.lines.some((l) => l.includes("QuotaExceededError")));
  full = false;
  w.sim.agentSend(w.conversationId, "and now it saves");
  await until(() => w.host.texts().length === 2, "second");
  const { desk, host } = w.reload();
  assertEquals(await desk.reconnect(), true);
  const history = await loadChatHistory({ store });
  assertEquals(history.map((item) => "input" in item.message ? "user" : "agent"), [
    "agent",
    "user",
    "agent",
  ]);
  assertEquals(host.texts(), [], "nothing shown twice");
  await w.dispose();
});

Deno.test("a burst of agent messages is a few log writes, each shown once stored, in order", async () => {
  const inner = new MemoryLogStore();
  let writes = 0;
  const gate: { hold?: Promise<void> } = {};
  const store: LogStore = {
    write: async (...a) => {
      writes++;
      await gate.hold;
      return inner.write(...a);
    },
    load: (id) => inner.load(id),
    events: (...a) => inner.events(...a),
    remove: (id) => inner.remove(id),
    heads: () => inner.heads(),
  };
  const w = world("memory", { store });
  await w.desk.startChat(connect(), {});
  w.sim.agentSend(w.conversationId, "first");
  await until(() => w.host.texts().length === 1, "the first message");
  let release!: () => void;
  gate.hold = new Promise((resolve) => release = resolve);
  const before = writes;
  const texts = Array.from({ length: 1_000 }, (_, i) => `burst ${i}`);
  for (const text of texts) w.sim.agentSend(w.conversationId, text);
  await until(() => writes > before, "a write in flight");
  await settle();
  assertEquals(w.host.texts(), ["first"], "nothing shown before it is stored");
  release();
  await until(() => w.host.texts().length === 1_001, "the burst shown", 10_000);
  assertEquals(w.host.texts(), ["first", ...texts]);
  assert(writes - before <= 2, `${writes - before} writes for the burst`);
  const [head] = await inner.heads();
  const stored = (await inner.events(head.id)) as { type: string }[];
  assertEquals(stored.filter((e) => e.type === "agent_message_received").length, 1_001);
  await w.dispose();
});

Deno.test("a host callback that throws never breaks the desk", async () => {
  const w = world("memory");
  w.host.callback.sendMessageToUser = () => {
    throw new Error("host bug");
  };
  const cb = w.host.callback;
  cb.sendMessageToUser = () => {
    throw new Error("host bug");
  };
  const desk = new KustomerServiceDesk({ callback: cb }, {
    ...w.options,
    core: new PageCore(w.sim).core,
  });
  await desk.startChat(connect(), {});
  w.sim.agentSend(desk.state!.conversationId!, "boom");
  await until(() => w.logger.lines.some((l) => l.includes("host bug")), "the warning");
  assertEquals(desk.transcript.length, 1);
  await w.dispose();
});

Deno.test("options and arguments are checked with clear errors", async (t) => {
  const host = new RecordingHost();
  const make = (options: unknown) => () =>
    new KustomerServiceDesk({ callback: host.callback }, options as never);
  await t.step("bad options", () => {
    assertThrows(make({ apiKey: "" }), TypeError, "apiKey");
    assertThrows(make({ timeoutMs: -1 }), RangeError, "timeoutMs must be a positive number");
    assertThrows(make({ retentionMs: Infinity }), RangeError, "retentionMs");
    assertThrows(make({ title: "x".repeat(257) }), RangeError, "at most 256");
    assertThrows(make({ sessionHistoryAttribute: "history" }), TypeError, "ending in Str or Txt");
    assertThrows(make({ orphanedChat: "keep" }), TypeError, "orphanedChat");
    assertThrows(make({ store: "disk" }), TypeError, "store");
    assertThrows(make({ durability: "fast" as never }), TypeError, '"default" or "strict"');
    assertThrows(make({ getJwt: "token" }), TypeError, "getJwt");
    assertThrows(make({ name: "n".repeat(41) }), RangeError, "name");
  });
  await t.step("bad parameters and calls", async () => {
    assertThrows(() => new KustomerServiceDesk(undefined as never), TypeError, "callback");
    const desk = new KustomerServiceDesk({ callback: host.callback }, { store: "memory" });
    await assertRejects(() => desk.startChat(undefined as never), TypeError, "connect message");
    await assertRejects(
      () => desk.sendMessageToAgent(null as never, "x"),
      TypeError,
      "MessageRequest",
    );
    await assertRejects(
      () => desk.sendMessageToAgent({ input: { text: "hi" } }, "x"),
      Error,
      "no chat is active",
    );
    await assertRejects(() => desk.userTyping("yes" as never), TypeError, "boolean");
    assertThrows(() => desk.filesSelectedForUpload("f" as never), TypeError, "array");
  });
  await t.step("no Core and no apiKey: a clear CONNECTING error", async () => {
    const h = new RecordingHost();
    const desk = new KustomerServiceDesk({ callback: h.callback }, { store: "memory" });
    const error = await assertRejects(
      () => desk.startChat(connect(), {}),
      KustomerError,
      "no apiKey was given",
    );
    assertInstanceOf(error, KustomerError);
    assertEquals(h.errors()[0].type, 1);
  });
  await t.step("a getJwt that returns garbage is a TypeError", async () => {
    const w = world("memory", { getJwt: () => Promise.resolve("not-a-jwt") });
    await assertRejects(() => w.desk.startChat(connect(), {}), TypeError, "JWT string");
    await w.dispose();
  });
});

Deno.test("globalThis.KustomerCore is used when present, and waited for while core.js loads", async () => {
  const g = globalThis as { KustomerCore?: unknown; document?: unknown };
  const clock = new FakeScheduler();
  const sim = new SimulatedKustomerCore({ now: clock.now, scheduler: clock });
  const script = {
    src: "https://cdn.kustomerapp.com/chat-web/core.js",
    addEventListener() {},
    removeEventListener() {},
  };
  g.document = { querySelector: (s: string) => (s.includes("core.js") ? script : null) };
  try {
    const host = new RecordingHost();
    const desk = new KustomerServiceDesk({ callback: host.callback }, {
      store: "memory",
      now: clock.now,
      scheduler: clock,
      heartbeatMs: 0,
    });
    const online = desk.areAnyAgentsOnline(connect());
    await settle();
    g.KustomerCore = sim;
    globalThis.dispatchEvent(new Event("kustomerCoreLoaded"));
    assertEquals(await online, true);
    await desk.startChat(connect(), {});
    assertEquals(sim.conversations.length, 1);
    await desk.endChat();
  } finally {
    delete g.KustomerCore;
    delete g.document;
    sim.dispose();
  }
});

Deno.test("with apiKey and no Core, the desk loads core.js with the key and waits for it", async (t) => {
  const g = globalThis as { KustomerCore?: unknown; document?: unknown };
  const appended: {
    src: string;
    dataset: Record<string, string>;
    listeners: Record<string, () => void>;
  }[] = [];
  const fakeDocument = {
    querySelector: () => null,
    createElement: () => {
      const listeners: Record<string, () => void> = {};
      return {
        src: "",
        async: false,
        dataset: {} as Record<string, string>,
        listeners,
        addEventListener: (name: string, fn: () => void) => (listeners[name] = fn),
        removeEventListener: (name: string) => delete listeners[name],
      };
    },
    head: { append: (el: (typeof appended)[number]) => appended.push(el) },
  };
  g.document = fakeDocument;
  const clock = new FakeScheduler();
  const sim = new SimulatedKustomerCore({ now: clock.now, scheduler: clock });
  try {
    await t.step("loads, then uses the Core the script defined", async () => {
      const host = new RecordingHost();
      const desk = new KustomerServiceDesk({ callback: host.callback }, {
        apiKey: "public-chat-key",
        store: "memory",
        now: clock.now,
        scheduler: clock,
        heartbeatMs: 0,
      });
      const online = desk.areAnyAgentsOnline(connect());
      await settle();
      assertEquals(appended.length, 1);
      assertEquals(appended[0].src, "https://cdn.kustomerapp.com/chat-web/core.js");
      assertEquals(appended[0].dataset.kustomerApiKey, "public-chat-key");
      g.KustomerCore = sim;
      globalThis.dispatchEvent(new Event("kustomerCoreLoaded"));
      assertEquals(await online, true);
      delete g.KustomerCore;
    });
    await t.step(
      "a script that fails to load is a clear error, and null availability",
      async () => {
        const host = new RecordingHost();
        const logger = new CapturingLogger();
        const desk = new KustomerServiceDesk({ callback: host.callback }, {
          apiKey: "public-chat-key",
          store: "memory",
          now: clock.now,
          scheduler: clock,
          logger,
        });
        const online = desk.areAnyAgentsOnline(connect());
        await settle();
        appended.at(-1)!.listeners.error();
        assertEquals(await online, null);
        assert(
          logger.lines[0].includes("Could not load the Kustomer Core script"),
          logger.lines[0],
        );
      },
    );
    await t.step(
      "a slow core.js: availability answers null inside Carbon's 5 s window, never offline",
      async () => {
        const host = new RecordingHost();
        const desk = new KustomerServiceDesk({ callback: host.callback }, {
          apiKey: "public-chat-key",
          store: "memory",
          now: clock.now,
          scheduler: clock,
          heartbeatMs: 0,
          timeoutMs: 15_000,
        });
        const answer = hostAvailability(desk, clock, connect());
        await clock.advance(5_000);
        assertEquals(await answer, null, "unknown, not offline");
        // The Core arrives later: the next check knows.
        g.KustomerCore = sim;
        globalThis.dispatchEvent(new Event("kustomerCoreLoaded"));
        assertEquals(await hostAvailability(desk, clock, connect()), true);
        delete g.KustomerCore;
      },
    );
    await t.step("a script that never loads times out with CONNECTING", async () => {
      const host = new RecordingHost();
      const desk = new KustomerServiceDesk({ callback: host.callback }, {
        apiKey: "public-chat-key",
        store: "memory",
        now: clock.now,
        scheduler: clock,
        timeoutMs: 2_000,
      });
      const start = assertRejects(
        () => desk.startChat(connect(), {}),
        KustomerError,
        "did not load within 2000 ms",
      );
      await clock.advance(2_000);
      await start;
      assertEquals(host.errors()[0].type, 1);
    });
  } finally {
    delete g.document;
    delete g.KustomerCore;
    sim.dispose();
  }
});

Deno.test("storage defaults: IndexedDB when present, else memory with one warning", () => {
  assertInstanceOf(resolveStore(undefined), IndexedDbLogStore);
  const g = globalThis as { indexedDB?: unknown };
  const saved = g.indexedDB;
  delete g.indexedDB;
  try {
    const logger = new CapturingLogger();
    assertInstanceOf(resolveStore(undefined, logger), MemoryLogStore);
    assertInstanceOf(resolveStore(undefined, logger), MemoryLogStore);
    assertEquals(logger.lines.length, 1);
    assert(logger.lines[0].includes("will not survive a page reload"));
  } finally {
    g.indexedDB = saved;
  }
});

Deno.test("read receipts wait while the page is hidden, and go when it is shown", async () => {
  const g = globalThis as { document?: unknown };
  const page = Object.assign(new EventTarget(), { visibilityState: "hidden" });
  g.document = page;
  try {
    const w = world("memory");
    await w.desk.startChat(connect(), {});
    const { messageId } = w.sim.agentSend(w.conversationId, "read me");
    await until(() => w.host.texts().length === 1, "shown");
    await settle();
    assertEquals(w.sim.readReceipts, [], "a hidden page has read nothing");
    page.visibilityState = "visible";
    page.dispatchEvent(new Event("visibilitychange"));
    await until(() => w.sim.readReceipts.length === 1, "read once shown");
    assertEquals(w.sim.readReceipts[0].messageIds, [messageId]);
    await w.dispose();
  } finally {
    delete g.document;
  }
});
