import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import {
  DEFAULT_AGENTS,
  type KustomerMessage,
  type KustomerMessagesResponse,
  type KustomerSdkError,
  makeTestJwt,
  MAX_ATTACHMENT_BYTES,
  type SimScheduler,
  SimulatedKustomerCore,
  type SimulatedKustomerCoreOptions,
} from "../simulator.ts";

// ---------------------------------------------------------------------------------------------
// Test helpers: a manual fake timer, promise wrappers, an event recorder.
// ---------------------------------------------------------------------------------------------

const START = Date.UTC(2024, 0, 15, 12, 0, 0);

/** Lets every queued microtask (callbacks, event flushes, promise continuations) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 25; i++) await Promise.resolve();
}

/** A manual timer: a queue of (time, fn) that only runs when advanced. Also the clock. */
class FakeTimers implements SimScheduler {
  now = START;
  #seq = 0;
  #queue: { id: number; at: number; fn: () => void }[] = [];

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#queue.push({ id, at: this.now + ms, fn });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.#queue = this.#queue.filter((t) => t.id !== id);
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Runs due timers in (time, insertion) order, letting microtasks run between them. */
  async advance(ms: number): Promise<void> {
    const target = this.now + ms;
    for (;;) {
      await settle();
      const due = this.#queue
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#queue = this.#queue.filter((t) => t !== due);
      this.now = due.at;
      due.fn();
    }
    this.now = target;
    await settle();
  }
}

type Outcome<T> = { response: T | undefined; error: KustomerSdkError | undefined };
// deno-lint-ignore no-explicit-any
type AnyCallback = (response: any, error?: KustomerSdkError | null) => void;

/** Wraps one callback-style call; resolves with both arguments. */
function call<T = unknown>(fn: (cb: AnyCallback) => void): Promise<Outcome<T>> {
  return new Promise((resolve) =>
    fn((response, error) => resolve({ response, error: error ?? undefined }))
  );
}

/** Wraps one callback-style call; rejects on error. */
async function ok<T = unknown>(fn: (cb: AnyCallback) => void): Promise<T> {
  const { response, error } = await call(fn);
  if (error) throw error;
  return response as T;
}

/** Records whether a callback has been called (for hang and async checks). */
function probe<T>(): {
  cb: (response: T | undefined, error?: KustomerSdkError | null) => void;
  calls: Outcome<T>[];
} {
  const calls: Outcome<T>[] = [];
  return { cb: (response, error) => calls.push({ response, error: error ?? undefined }), calls };
}

const EVENT_NAMES = [
  "onMessageReceived",
  "onAgentTypingActivity",
  "onConversationCreate",
  "onConversationEnded",
  "onConversationUnended",
  "onSatisfactionReceived",
  "onLogin",
] as const;

// deno-lint-ignore no-explicit-any
type Recorded = { name: string; payload: any };

function setup(options: SimulatedKustomerCoreOptions = {}) {
  const timers = new FakeTimers();
  const core = new SimulatedKustomerCore({
    now: () => timers.now,
    scheduler: timers,
    objectUrls: false,
    ...options,
  });
  const events: Recorded[] = [];
  for (const name of EVENT_NAMES) {
    core.addListener(name, (payload) => events.push({ name, payload }));
  }
  const of = (name: string) => events.filter((e) => e.name === name).map((e) => e.payload);
  return { core, timers, events, of };
}

async function ready(options: SimulatedKustomerCoreOptions = {}) {
  const env = setup(options);
  await ok((cb) => env.core.init({}, cb));
  return env;
}

async function newConversation(core: SimulatedKustomerCore, title = "Help"): Promise<string> {
  const { conversationId } = await ok<{ conversationId: string }>((cb) =>
    core.createConversation({ title }, cb)
  );
  return conversationId;
}

async function send(
  core: SimulatedKustomerCore,
  conversationId: string,
  body: string,
): Promise<KustomerMessage> {
  return await ok<KustomerMessage>((cb) => core.sendMessage({ conversationId, body }, cb));
}

const nowSeconds = (ms: number) => Math.floor(ms / 1000);

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

Deno.test("SimulatedKustomerCore requires init to have called back", async (t) => {
  await t.step("calls before init fail with a 400 saying init is required", async () => {
    const { core } = setup();
    const { response, error } = await call((cb) => core.createConversation({ title: "x" }, cb));
    assertEquals(response, undefined);
    assert(error instanceof Error);
    assertEquals(error!.status, 400);
    assertEquals(error!.code, "init_required");
    assertMatch(error!.message, /init\(\) is required/);
    core.dispose();
  });

  await t.step("calls made before init calls back fail too", async () => {
    const { core } = setup();
    const init = probe();
    core.init({}, init.cb);
    assertEquals(core.state, "initializing");
    const { error } = await call((cb) => core.createConversation({ title: "x" }, cb));
    assertMatch(error!.message, /has not called back yet/);
    assertEquals(init.calls.length, 1);
    assertEquals(core.state, "ready");
    await ok((cb) => core.createConversation({ title: "x" }, cb));
    core.dispose();
  });

  await t.step("init answers the brand settings", async () => {
    const { core } = setup({ settings: { teamName: "Team", greeting: "Hello" } });
    const response = await ok((cb) => core.init({ brandId: "brand-7" }, cb));
    assertEquals(response, {
      settings: { brandId: "brand-7", teamName: "Team", greeting: "Hello" },
    });
    core.dispose();
  });

  await t.step("init without a callback still completes", async () => {
    const { core } = setup();
    core.init({});
    await settle();
    assertEquals(core.state, "ready");
    core.dispose();
  });
});

Deno.test("SimulatedKustomerCore calls back asynchronously", async (t) => {
  await t.step("never synchronously, on success or error", async () => {
    const { core } = setup();
    const early = probe();
    core.getMessages({ conversationId: "conv-1" }, early.cb);
    assertEquals(early.calls.length, 0);
    await settle();
    assertEquals(early.calls.length, 1);
    assert(early.calls[0].error);

    const init = probe();
    core.init({}, init.cb);
    assertEquals(init.calls.length, 0);
    await settle();
    assertEquals(init.calls.length, 1);
    core.dispose();
  });

  await t.step("with latency, through the injected scheduler", async () => {
    const { core, timers } = setup({ latencyMs: 100 });
    const init = probe();
    core.init({}, init.cb);
    await timers.advance(99);
    assertEquals(init.calls.length, 0);
    await timers.advance(1);
    assertEquals(init.calls.length, 1);
    core.dispose();
  });
});

Deno.test("SimulatedKustomerCore login", async (t) => {
  await t.step(
    "accepts a fresh JWT, fires onLogin and records claims, never the token",
    async () => {
      const { core, timers, of } = await ready();
      const jwtToken = makeTestJwt({
        externalId: "u-1",
        email: "a@b.c",
        iat: nowSeconds(timers.now),
      });
      const response = await ok((cb) => core.login({ jwtToken }, cb));
      assertEquals(response, {
        identified: true,
        customerId: "cust-1",
        email: "a@b.c",
        externalId: "u-1",
      });
      await settle();
      assertEquals(of("onLogin"), [response]);
      assertEquals(core.logins.length, 1);
      assertEquals(core.logins[0].claims.externalId, "u-1");
      assertEquals(core.customer.identified, true);
      const logged = core.callLog.find((c) => c.method === "login")!;
      assertEquals(logged.options, { jwtToken: "[redacted]" });
      assert(!JSON.stringify(core.callLog).includes(jwtToken));
      core.dispose();
    },
  );

  await t.step("accepts email alone and an iat 14 minutes old", async () => {
    const { core, timers } = await ready();
    const jwtToken = makeTestJwt({ email: "x@y.z", iat: nowSeconds(timers.now) - 14 * 60 });
    const response = await ok((cb) => core.login({ jwtToken }, cb));
    assertEquals(response, { identified: true, customerId: "cust-1", email: "x@y.z" });
    core.dispose();
  });

  await t.step("rejects an iat 15 minutes old or more with 401", async () => {
    const { core, timers, of } = await ready();
    for (const age of [15 * 60, 16 * 60]) {
      const jwtToken = makeTestJwt({ externalId: "u-1", iat: nowSeconds(timers.now) - age });
      const { error } = await call((cb) => core.login({ jwtToken }, cb));
      assertEquals(error?.status, 401);
      assertEquals(error?.code, "token_expired");
      assertMatch(error!.message, /15 minutes/);
    }
    await settle();
    assertEquals(of("onLogin"), []);
    assertEquals(core.logins.length, 0);
    core.dispose();
  });

  await t.step("rejects malformed tokens and missing claims with 401", async () => {
    const { core, timers } = await ready();
    const iat = nowSeconds(timers.now);
    const bad = [
      "",
      "abc",
      "a.b",
      "a.b.c",
      "!!.??.##",
      makeTestJwt({ iat }),
      makeTestJwt({ externalId: "u-1" }),
      makeTestJwt({ externalId: "u-1", iat: "yesterday" }),
    ];
    for (const jwtToken of bad) {
      const { error } = await call((cb) => core.login({ jwtToken }, cb));
      assertEquals(error?.status, 401, `token ${jwtToken}`);
      assertMatch(error!.message, /token/i);
    }
    core.dispose();
  });

  await t.step("moves the anonymous conversation to the identified customer", async () => {
    const { core, timers } = await ready();
    const conversationId = await newConversation(core);
    await send(core, conversationId, "hi");
    assertEquals(core.customer.customerId, "anon-1");
    await ok((cb) =>
      core.login({ jwtToken: makeTestJwt({ externalId: "u-9", iat: nowSeconds(timers.now) }) }, cb)
    );
    const list = await ok<{ conversations: { conversationId: string }[] }>((cb) =>
      core.getConversations({}, cb)
    );
    assertEquals(list.conversations.map((c) => c.conversationId), [conversationId]);
    assertEquals(core.messagesOf(conversationId)[0].sentBy?.id, "cust-1");

    await ok((cb) => core.logout(cb));
    const after = await ok<{ conversations: unknown[] }>((cb) => core.getConversations({}, cb));
    assertEquals(after.conversations, []);
    assertEquals(core.customer.customerId, "anon-2");
    core.dispose();
  });
});

Deno.test("SimulatedKustomerCore conversations and messages", async (t) => {
  await t.step(
    "createConversation answers, fires onConversationCreate, starts as draft",
    async () => {
      const { core, timers, of } = await ready();
      const response = await ok((cb) => core.createConversation({ title: "Order 42" }, cb));
      assertEquals(response, {
        conversationId: "conv-1",
        createdAt: new Date(timers.now).toISOString(),
        ended: false,
        isInAssistantMode: false,
      });
      await settle();
      assertEquals(of("onConversationCreate"), [response]);
      assert(core.isDraft("conv-1"));
      await send(core, "conv-1", "hello");
      assert(!core.isDraft("conv-1"));
      core.dispose();
    },
  );

  await t.step("createConversation validates the title", async () => {
    const { core } = await ready();
    for (const title of [undefined, "", "x".repeat(257)]) {
      const { error } = await call((cb) =>
        core.createConversation({ title } as unknown as { title: string }, cb)
      );
      assertEquals(error?.status, 400);
      assertMatch(error!.message, /title/);
    }
    await ok((cb) => core.createConversation({ title: "x".repeat(256) }, cb));
    core.dispose();
  });

  await t.step("sendMessage stores a customer message and answers it", async () => {
    const { core, timers, of } = await ready();
    const conversationId = await newConversation(core);
    const message = await send(core, conversationId, "hello");
    assertEquals(message, {
      messageId: "msg-1",
      conversationId,
      body: "hello",
      createdAt: new Date(timers.now + 1).toISOString(),
      direction: "in",
      attachments: [],
      sentBy: { type: "customer", id: "anon-1" },
    });
    await settle();
    assertEquals(of("onMessageReceived"), [], "own messages are not echoed as events");
    core.dispose();
  });

  await t.step("ids and createdAt strictly increase even when the clock stands still", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    const a = await send(core, conversationId, "a");
    const b = core.agentSend(conversationId, "b");
    const c = await send(core, conversationId, "c");
    assertEquals([a.messageId, b.messageId, c.messageId], ["msg-1", "msg-2", "msg-3"]);
    assert(a.createdAt < b.createdAt && b.createdAt < c.createdAt);
    core.dispose();
  });

  await t.step("sendMessage rejects unknown, ended and empty", async () => {
    const { core } = await ready();
    const unknown = await call((cb) =>
      core.sendMessage({ conversationId: "conv-9", body: "x" }, cb)
    );
    assertEquals(unknown.error?.status, 404);
    const conversationId = await newConversation(core);
    const empty = await call((cb) => core.sendMessage({ conversationId }, cb));
    assertEquals(empty.error?.status, 400);
    await ok((cb) => core.endConversation({ conversationId }, cb));
    const ended = await call((cb) => core.sendMessage({ conversationId, body: "x" }, cb));
    assertEquals(ended.error?.code, "conversation_ended");
    core.dispose();
  });

  await t.step("getMessages returns both directions in createdAt order", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    await send(core, conversationId, "one");
    core.agentSend(conversationId, "two");
    await send(core, conversationId, "three");
    const response = await ok<{ conversationId: string; messages: KustomerMessage[] }>((cb) =>
      core.getMessages({ conversationId }, cb)
    );
    assertEquals(response.conversationId, conversationId);
    assertEquals(response.messages.map((m) => [m.body, m.direction]), [
      ["one", "in"],
      ["two", "out"],
      ["three", "in"],
    ]);
    assertEquals(core.messagesOf(conversationId).map((m) => m.body), ["one", "two", "three"]);
    core.dispose();
  });

  await t.step("getMessages keeps 30 days; getHistoricalMessages pages further back", async () => {
    const { core, timers } = await ready();
    const conversationId = await newConversation(core);
    await send(core, conversationId, "old");
    timers.now += 31 * 24 * 60 * 60 * 1000;
    await send(core, conversationId, "new-1");
    await send(core, conversationId, "new-2");
    const recent = await ok<{ messages: KustomerMessage[] }>((cb) =>
      core.getMessages({ conversationId }, cb)
    );
    assertEquals(recent.messages.map((m) => m.body), ["new-1", "new-2"]);
    const history = await ok<{ messages: KustomerMessage[] }>((cb) =>
      core.getHistoricalMessages({ conversationId, count: 2 }, cb)
    );
    assertEquals(history.messages.map((m) => m.body), ["new-1", "new-2"]);
    const before = await ok<{ messages: KustomerMessage[] }>((cb) =>
      core.getHistoricalMessages({ conversationId, before: recent.messages[0].createdAt }, cb)
    );
    assertEquals(before.messages.map((m) => m.body), ["old"]);
    core.dispose();
  });

  await t.step("getConversations pages, most recent first", async () => {
    const { core, timers } = await ready();
    const first = await newConversation(core, "first");
    const second = await newConversation(core, "second");
    const third = await newConversation(core, "third");
    timers.now += 1000;
    await send(core, first, "latest");
    const page1 = await ok<{ conversations: Record<string, unknown>[]; pages: number }>((cb) =>
      core.getConversations({ page: 1, pageSize: 2 }, cb)
    );
    assertEquals(page1.pages, 2);
    assertEquals(page1.conversations.map((c) => c.conversationId), [first, third]);
    assertEquals(page1.conversations[0].preview, "latest");
    assertEquals(page1.conversations[0].ended, false);
    assert(typeof page1.conversations[0].lastMessageAt === "string");
    const page2 = await ok<{ conversations: Record<string, unknown>[] }>((cb) =>
      core.getConversations({ page: 2, pageSize: 2 }, cb)
    );
    assertEquals(page2.conversations.map((c) => c.conversationId), [second]);
    core.dispose();
  });
});

Deno.test("SimulatedKustomerCore attachment limits", async (t) => {
  const file = (name: string, size: number, type = "") =>
    new File([new Uint8Array(size)], name, { type });
  const sendFiles = (core: SimulatedKustomerCore, conversationId: string, files: File[]) =>
    call<KustomerMessage>((cb) =>
      core.sendMessage({ conversationId, attachments: files.map((f) => ({ file: f })) }, cb)
    );

  await t.step("accepts allowed types by extension or MIME and describes them", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    const { response, error } = await sendFiles(core, conversationId, [
      file("photo.PNG", 10),
      file("scan", 20, "application/pdf"),
      file("notes.txt", 5, "text/plain"),
    ]);
    assertEquals(error, undefined);
    assertEquals(response!.attachments, [
      {
        id: "att-1",
        name: "photo.PNG",
        contentType: "application/octet-stream",
        contentLength: 10,
        url: "sim://attachments/att-1/photo.PNG",
      },
      {
        id: "att-2",
        name: "scan",
        contentType: "application/pdf",
        contentLength: 20,
        url: "sim://attachments/att-2/scan",
      },
      {
        id: "att-3",
        name: "notes.txt",
        contentType: "text/plain",
        contentLength: 5,
        url: "sim://attachments/att-3/notes.txt",
      },
    ]);
    core.dispose();
  });

  await t.step("rejects a disallowed type with 415", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    const { error } = await sendFiles(core, conversationId, [
      file("setup.exe", 10, "application/x-msdownload"),
    ]);
    assertEquals(error?.status, 415);
    assertMatch(error!.message, /setup\.exe/);
    assert(core.isDraft(conversationId), "nothing stored");
    core.dispose();
  });

  await t.step("rejects a file over 5 MB and a message over 9.5 MB with 413", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    const big = await sendFiles(core, conversationId, [file("big.zip", MAX_ATTACHMENT_BYTES + 1)]);
    assertEquals(big.error?.status, 413);
    assertMatch(big.error!.message, /5 MB/);
    const atLimit = await sendFiles(core, conversationId, [file("ok.zip", MAX_ATTACHMENT_BYTES)]);
    assertEquals(atLimit.error, undefined);
    const total = await sendFiles(core, conversationId, [
      file("a.mp4", 4 * 1024 * 1024),
      file("b.mp4", 4 * 1024 * 1024),
      file("c.mp4", 2 * 1024 * 1024),
    ]);
    assertEquals(total.error?.status, 413);
    assertMatch(total.error!.message, /9\.5 MB/);
    core.dispose();
  });

  await t.step("uses object URLs when enabled, revoked on dispose", async () => {
    const { core } = await ready({ objectUrls: true });
    const conversationId = await newConversation(core);
    const { response } = await sendFiles(core, conversationId, [file("a.png", 3, "image/png")]);
    assertMatch(response!.attachments![0].url!, /^blob:/);
    core.dispose();
  });
});

Deno.test("SimulatedKustomerCore custom attributes", async (t) => {
  await t.step("rejects names without a type suffix", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    for (const name of ["history", "historyString", "Str"]) {
      const { error } = await call((cb) =>
        core.describeConversation({ conversationId, customAttributes: { [name]: "x" } }, cb)
      );
      assertEquals(error?.status, 400, name);
      assertMatch(error!.message, /Str, Txt, Num, At, Bool or Url/);
    }
    assertEquals(core.customAttributesOf(conversationId), {});
    core.dispose();
  });

  await t.step("limits Str and Txt to 1024 characters and checks value types", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    const tooLong = await call((cb) =>
      core.describeConversation({
        conversationId,
        customAttributes: { noteTxt: "x".repeat(1025) },
      }, cb)
    );
    assertMatch(tooLong.error!.message, /1024/);
    const wrongType = await call((cb) =>
      core.describeConversation({ conversationId, customAttributes: { countNum: "3" } }, cb)
    );
    assertEquals(wrongType.error?.status, 400);
    core.dispose();
  });

  await t.step("stores valid attributes; null removes one", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    const customAttributes = {
      watsonAssistantSessionHistoryStr: "x".repeat(1024),
      countNum: 3,
      vipBool: true,
      seenAt: "2024-01-01T00:00:00Z",
      pageUrl: "https://example.com",
    };
    await ok((cb) => core.describeConversation({ conversationId, customAttributes }, cb));
    assertEquals(core.customAttributesOf(conversationId), customAttributes);
    await ok((cb) =>
      core.describeConversation({ conversationId, customAttributes: { vipBool: null } }, cb)
    );
    assert(!("vipBool" in core.customAttributesOf(conversationId)));
    await ok((cb) =>
      core.describeCustomer({
        attributes: { sharedEmails: ["a@b.c"] },
        customAttributes: { tierStr: "gold" },
      }, cb)
    );
    assertEquals(core.customer.customAttributes, { tierStr: "gold" });
    core.dispose();
  });
});

Deno.test("SimulatedKustomerCore events", async (t) => {
  await t.step("listeners get events for all of the customer's conversations", async () => {
    const { core, of } = await ready();
    const a = await newConversation(core, "a");
    const b = await newConversation(core, "b");
    await send(core, a, "x");
    await send(core, b, "y");
    core.agentSend(a, "to a");
    core.agentTyping(b, true);
    core.agentSend(b, "to b");
    await settle();
    assertEquals(of("onMessageReceived").map((m) => [m.conversationId, m.body]), [
      [a, "to a"],
      [b, "to b"],
    ]);
    assertEquals(of("onAgentTypingActivity"), [
      { conversationId: b, user: { id: "agent-ada", displayName: "Ada" }, typing: true },
    ]);
    core.dispose();
  });

  await t.step(
    "agent message shape: direction out, sentBy user, quick replies template",
    async () => {
      const { core, of } = await ready();
      const conversationId = await newConversation(core);
      await send(core, conversationId, "x");
      const grace = { ...DEFAULT_AGENTS[1], avatarUrl: "https://example.com/g.png" };
      const actions = [{ displayText: "Yes", value: "yes" }];
      const message = core.agentSend(conversationId, "Pick one", {
        agent: grace,
        quickReplies: actions,
      });
      assertEquals(message.direction, "out");
      assertEquals(message.sentBy, {
        type: "user",
        id: "agent-grace",
        displayName: "Grace",
        avatarUrl: "https://example.com/g.png",
      });
      assertEquals(message.meta, {
        template: { templateType: "quick_replies", body: "Pick one", actions },
      });
      await settle();
      assertEquals(of("onMessageReceived"), [message]);
      core.dispose();
    },
  );

  await t.step("removeListener needs the same reference", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    await send(core, conversationId, "x");
    const seen: string[] = [];
    const listener = (m: KustomerMessage) => seen.push(m.body!);
    core.addListener("onMessageReceived", listener);
    assertEquals(core.listenerCount("onMessageReceived"), 2);
    core.removeListener("onMessageReceived", (m: KustomerMessage) => seen.push(m.body!));
    assertEquals(core.listenerCount("onMessageReceived"), 2);
    core.agentSend(conversationId, "one");
    await settle();
    core.removeListener("onMessageReceived", listener);
    assertEquals(core.listenerCount("onMessageReceived"), 1);
    core.agentSend(conversationId, "two");
    await settle();
    assertEquals(seen, ["one"]);
    core.dispose();
  });

  await t.step("a throwing listener breaks neither other listeners nor the simulator", async () => {
    const { core, of } = await ready();
    const conversationId = await newConversation(core);
    await send(core, conversationId, "x");
    core.addListener("onMessageReceived", () => {
      throw new Error("boom");
    });
    core.agentSend(conversationId, "one");
    await settle();
    core.agentSend(conversationId, "two");
    await settle();
    assertEquals(of("onMessageReceived").map((m) => m.body), ["one", "two"]);
    assertEquals(core.uncaughtErrors.length, 2);
    assertEquals(core.uncaughtErrors[0].source, "onMessageReceived");
    core.dispose();
  });

  await t.step(
    "endConversation fires onConversationEnded, also for the customer's own end",
    async () => {
      const { core, of } = await ready();
      const conversationId = await newConversation(core);
      const response = await ok((cb) => core.endConversation({ conversationId }, cb));
      assertEquals(response, {
        conversationId,
        createdAt: core.conversations[0].createdAt,
        ended: true,
      });
      await settle();
      assertEquals(of("onConversationEnded"), [response]);
      core.dispose();
    },
  );

  await t.step("endConversation fails with 403 when the org does not allow it", async () => {
    const { core } = await ready({ allowEndConversation: false });
    const conversationId = await newConversation(core);
    const { error } = await call((cb) => core.endConversation({ conversationId }, cb));
    assertEquals(error?.status, 403);
    assertEquals(core.conversations[0].ended, false);
    assertEquals(core.agentEnd(conversationId).ended, true, "agents can always end");
    core.dispose();
  });

  await t.step("an agent message reopens an ended conversation", async () => {
    const { core, of } = await ready();
    const conversationId = await newConversation(core);
    await send(core, conversationId, "x");
    core.agentEnd(conversationId);
    core.agentSend(conversationId, "one more thing");
    await settle();
    assertEquals(of("onConversationUnended").map((e) => e.ended), [false]);
    assertEquals(core.conversations[0].ended, false);
    core.dispose();
  });

  await t.step("agentSend refuses drafts, long texts and unknown conversations", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    assertThrows(() => core.agentSend(conversationId, "hi"), Error, "draft");
    await send(core, conversationId, "x");
    assertThrows(() => core.agentSend(conversationId, "x".repeat(1025)), RangeError, "1024");
    assertThrows(() => core.agentSend("conv-404", "hi"), RangeError, "Unknown conversation");
    core.dispose();
  });
});

Deno.test("SimulatedKustomerCore reads, typing, availability", async (t) => {
  await t.step("markRead records receipts and clears unread counts", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    await send(core, conversationId, "x");
    const one = core.agentSend(conversationId, "one");
    core.agentSend(conversationId, "two");
    assertEquals(core.getUnreadCount(), { total: 2, conversations: { [conversationId]: 2 } });
    const read = probe();
    core.markRead({ conversationId, messageIds: [one.messageId] }, read.cb);
    await settle();
    assertEquals(read.calls.length, 1);
    assertEquals(core.getUnreadCount().total, 1);
    core.markRead({ conversationId });
    await settle();
    assertEquals(core.getUnreadCount(), { total: 0, conversations: {} });
    assertEquals(core.readReceipts.map((r) => r.messageIds), [[one.messageId], undefined]);
    core.dispose();
  });

  await t.step("sendTypingActivity records the customer's typing", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    assertEquals(core.typingOf(conversationId), undefined);
    core.sendTypingActivity({ conversationId, typing: true });
    assertEquals(core.typingOf(conversationId), true);
    core.sendTypingActivity({ conversationId, typing: false });
    assertEquals(core.typingOf(conversationId), false);
    core.dispose();
  });

  await t.step("isChatAvailable answers a string or an object", () => {
    const plain = new SimulatedKustomerCore();
    assertEquals(plain.isChatAvailable(), "online");
    plain.setAvailability("offline");
    assertEquals(plain.isChatAvailable(), "offline");
    const shaped = new SimulatedKustomerCore({
      availabilityShape: "object",
      availability: "hidden",
    });
    assertEquals(shaped.isChatAvailable(), { availability: "hidden" });
    assertThrows(() => plain.setAvailability("maybe" as "online"), TypeError);
    plain.dispose();
    shaped.dispose();
  });
});

Deno.test("SimulatedKustomerCore satisfaction", async (t) => {
  await t.step("is sent only when an agent had joined and the chat ended", async () => {
    const { core } = await ready();
    const quiet = await newConversation(core);
    await send(core, quiet, "x");
    core.agentEnd(quiet);
    assertThrows(() => core.sendSatisfaction(quiet), Error, "agent had joined");

    const open = await newConversation(core);
    await send(core, open, "x");
    core.agentSend(open, "hello");
    assertThrows(() => core.sendSatisfaction(open), Error, "ended");
    core.dispose();
  });

  await t.step(
    "fires onSatisfactionReceived, shows in getMessages, accepts a submission",
    async () => {
      const { core, timers, of } = await ready();
      const conversationId = await newConversation(core);
      await send(core, conversationId, "x");
      core.agentSend(conversationId, "hello");
      await ok((cb) => core.endConversation({ conversationId }, cb));
      const event = core.sendSatisfaction(conversationId);
      assertEquals(event.satisfactionId, "sat-1");
      await settle();
      assertEquals(of("onSatisfactionReceived"), [event]);
      const messages = await ok<{ satisfaction?: { satisfactionId: string } }>((cb) =>
        core.getMessages({ conversationId }, cb)
      );
      assertEquals(messages.satisfaction?.satisfactionId, "sat-1");
      const submitted = await ok<{ response: { rating: number } }>((cb) =>
        core.submitSatisfactionForm({
          satisfactionId: "sat-1",
          rating: 5,
          submittedAt: new Date(timers.now).toISOString(),
        }, cb)
      );
      assertEquals(submitted.response.rating, 5);
      const unknown = await call((cb) =>
        core.submitSatisfactionForm({ satisfactionId: "sat-9", submittedAt: "2024-01-01" }, cb)
      );
      assertEquals(unknown.error?.status, 404);
      core.dispose();
    },
  );
});

Deno.test("SimulatedKustomerCore faults", async (t) => {
  await t.step("fail: once by default, with status and code, without effect", async () => {
    const { core } = await ready();
    core.faults.fail("createConversation");
    assertEquals(core.faults.remaining("createConversation"), 1);
    const { error } = await call((cb) => core.createConversation({ title: "x" }, cb));
    assert(error instanceof Error);
    assertEquals(error!.status, 500);
    assertEquals(error!.code, "simulated_fault");
    assertEquals(core.conversations.length, 0);
    assertEquals(core.faults.remaining(), 0);
    await ok((cb) => core.createConversation({ title: "x" }, cb));
    core.dispose();
  });

  await t.step("fail: custom error and times", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    core.faults.fail("sendMessage", {
      times: 2,
      error: { status: 429, code: "rate_limited", message: "Slow down" },
    });
    for (let i = 0; i < 2; i++) {
      const { error } = await call((cb) => core.sendMessage({ conversationId, body: "x" }, cb));
      assertEquals([error?.status, error?.code, error?.message], [
        429,
        "rate_limited",
        "Slow down",
      ]);
    }
    await send(core, conversationId, "x");
    assertEquals(core.messagesOf(conversationId).length, 1);
    core.dispose();
  });

  await t.step("fail applies to init too", async () => {
    const { core } = setup();
    core.faults.fail("init");
    const { error } = await call((cb) => core.init({}, cb));
    assert(error);
    assertEquals(core.state, "idle");
    await ok((cb) => core.init({}, cb));
    assertEquals(core.state, "ready");
    core.dispose();
  });

  await t.step("hang: never calls back (forever by default), no effect; clear", async () => {
    const { core, timers } = await ready();
    core.faults.hang("createConversation");
    const hung = probe();
    core.createConversation({ title: "x" }, hung.cb);
    core.createConversation({ title: "y" }, hung.cb);
    await timers.advance(60_000);
    assertEquals(hung.calls, []);
    assertEquals(core.conversations.length, 0);
    assertEquals(core.faults.remaining("createConversation"), Infinity);
    core.faults.clear();
    await ok((cb) => core.createConversation({ title: "z" }, cb));
    core.dispose();
  });

  await t.step("hang with times and applied: the effect happens, the answer is lost", async () => {
    const { core } = await ready();
    const conversationId = await newConversation(core);
    core.faults.hang("sendMessage", { times: 1, applied: true });
    const hung = probe();
    core.sendMessage({ conversationId, body: "lost answer" }, hung.cb);
    await settle();
    assertEquals(hung.calls, []);
    assertEquals(core.messagesOf(conversationId).map((m) => m.body), ["lost answer"]);
    await send(core, conversationId, "next");
    core.dispose();
  });

  await t.step("fault options are validated", () => {
    const core = new SimulatedKustomerCore();
    assertThrows(() => core.faults.fail("nope" as "init"), TypeError, "unknown SDK method");
    assertThrows(() => core.faults.fail("init", { times: 0 }), RangeError);
    assertThrows(() => core.faults.hang("init", { times: 1.5 }), RangeError);
    core.dispose();
  });

  await t.step(
    "dropConnection: calls hang without effect, events are lost, agent messages stored",
    async () => {
      const { core, timers, of } = await ready();
      const conversationId = await newConversation(core);
      await send(core, conversationId, "before");
      await settle();
      core.dropConnection();
      assertEquals(core.connection, "dropped");
      const hung = probe();
      core.sendMessage({ conversationId, body: "while dropped" }, hung.cb);
      core.getMessages({ conversationId }, hung.cb);
      const agentMessage = core.agentSend(conversationId, "are you there?");
      await timers.advance(60_000);
      assertEquals(hung.calls, []);
      assertEquals(of("onMessageReceived"), []);
      assertEquals(core.messagesOf(conversationId).map((m) => m.body), [
        "before",
        "are you there?",
      ]);

      core.restoreConnection();
      await settle();
      assertEquals(hung.calls, [], "calls made while dropped stay unanswered");
      const { messages } = await ok<{ messages: KustomerMessage[] }>((cb) =>
        core.getMessages({ conversationId }, cb)
      );
      assertEquals(messages.map((m) => m.messageId), ["msg-1", agentMessage.messageId]);
      core.agentSend(conversationId, "back");
      await settle();
      assertEquals(of("onMessageReceived").map((m) => m.body), ["back"]);
      core.dispose();
    },
  );

  await t.step("duplicate: every onMessageReceived fires twice", async () => {
    const { core, of } = await ready({ deliveryMode: "duplicate" });
    const conversationId = await newConversation(core);
    await send(core, conversationId, "x");
    const message = core.agentSend(conversationId, "twice");
    await settle();
    const received = of("onMessageReceived");
    assertEquals(received, [message, message]);
    assert(received[0] !== received[1], "distinct objects: dedupe by messageId, not by reference");
    assertEquals(of("onConversationCreate").length, 1);
    core.dispose();
  });

  await t.step(
    "reverse: a tick's agent messages arrive in reverse; getMessages newest first",
    async () => {
      const { core, of } = await ready({ deliveryMode: "reverse" });
      const conversationId = await newConversation(core);
      await send(core, conversationId, "x");
      core.agentSend(conversationId, "first");
      core.agentSend(conversationId, "second");
      core.agentSend(conversationId, "third");
      await settle();
      assertEquals(of("onMessageReceived").map((m) => m.body), ["third", "second", "first"]);
      const { messages } = await ok<{ messages: KustomerMessage[] }>((cb) =>
        core.getMessages({ conversationId }, cb)
      );
      assertEquals(messages.map((m) => m.body), ["third", "second", "first", "x"]);
      assertEquals(core.messagesOf(conversationId).map((m) => m.body), [
        "x",
        "first",
        "second",
        "third",
      ]);
      core.deliveryMode = "normal";
      core.agentSend(conversationId, "a");
      core.agentSend(conversationId, "b");
      await settle();
      assertEquals(of("onMessageReceived").slice(3).map((m) => m.body), ["a", "b"]);
      core.dispose();
    },
  );

  await t.step("sendMessage beyond 120 per minute fails with 429", async () => {
    const { core, timers } = await ready({ rateLimitPerMinute: 3 });
    const conversationId = await newConversation(core);
    for (let i = 0; i < 3; i++) await send(core, conversationId, `m${i}`);
    const { error } = await call((cb) => core.sendMessage({ conversationId, body: "x" }, cb));
    assertEquals(error?.status, 429);
    timers.now += 60_000;
    await send(core, conversationId, "later");
    core.dispose();
  });
});

Deno.test("SimulatedKustomerCore scripted agent", async (t) => {
  const script = { joinDelayMs: 1000, replyDelayMs: 500, typingMs: 200 };

  await t.step(
    "joins, greets, echoes, transfers, offers quick replies, acks files, ends",
    async () => {
      const { core, timers, of, events } = await ready({ script });
      const conversationId = await newConversation(core);
      const bodies = () => of("onMessageReceived").map((m) => `${m.sentBy.displayName}: ${m.body}`);

      await send(core, conversationId, "Hello");
      await timers.advance(999);
      assertEquals(of("onAgentTypingActivity"), []);
      await timers.advance(1);
      assertEquals(of("onAgentTypingActivity").map((e) => e.typing), [true]);
      await timers.advance(200);
      assertEquals(bodies(), ["Ada: Hi, I'm Ada. How can I help you today?"]);
      assertEquals(of("onAgentTypingActivity").map((e) => e.typing), [true, false]);

      await send(core, conversationId, "Where is my order?");
      await timers.advance(700);
      assertEquals(bodies().at(-1), "Ada: You said: Where is my order?");

      await send(core, conversationId, "Please transfer me");
      await timers.advance(700);
      assertEquals(bodies().at(-1), "Ada: I'm transferring you to Grace. One moment, please.");
      await timers.advance(1200);
      const graceHello = of("onMessageReceived").at(-1);
      assertEquals(graceHello.sentBy.id, "agent-grace");
      assertMatch(graceHello.body, /^Hi, I'm Grace/);
      assertEquals(core.conversations[0].agent?.id, "agent-grace");

      await send(core, conversationId, "quick options?");
      await timers.advance(700);
      const quick = of("onMessageReceived").at(-1);
      assertEquals(quick.sentBy.id, "agent-grace");
      assertEquals(quick.meta.template.templateType, "quick_replies");
      assertEquals(quick.meta.template.actions.map((a: { value: string }) => a.value), [
        "keep chatting",
        "end chat",
      ]);

      await ok((cb) =>
        core.sendMessage({
          conversationId,
          attachments: [{ file: new File(["hi"], "receipt.pdf", { type: "application/pdf" }) }],
        }, cb)
      );
      await timers.advance(700);
      assertEquals(bodies().at(-1), "Grace: Thanks, I received receipt.pdf.");

      await ok((cb) =>
        core.sendMessage({ conversationId, body: "End chat", payload: "end chat" }, cb)
      );
      await timers.advance(700);
      assertEquals(bodies().at(-1), "Grace: Goodbye! Thanks for chatting with us.");
      assertEquals(of("onConversationEnded").map((e) => e.conversationId), [conversationId]);
      assertEquals(events.at(-1)!.name, "onConversationEnded");
      const after = await call((cb) => core.sendMessage({ conversationId, body: "hello?" }, cb));
      assertEquals(after.error?.code, "conversation_ended");
      assertEquals(timers.pending, 0);
      assertEquals(core.pendingTimers, 0);
      core.dispose();
    },
  );

  await t.step(
    "the first message is the hand-off context: keywords in it only get a greeting",
    async () => {
      const { core, timers, of } = await ready({ script });
      const conversationId = await newConversation(core);
      await send(core, conversationId, "A customer was transferred to you. They said bye.");
      await timers.advance(5000);
      assertEquals(of("onMessageReceived").map((m) => m.body), [
        "Hi, I'm Ada. How can I help you today?",
      ]);
      assertEquals(core.conversations[0].ended, false);
      assertEquals(core.conversations[0].agent?.id, "agent-ada");
      core.dispose();
    },
  );

  await t.step("replies keep their order when messages come quickly", async () => {
    const { core, timers, of } = await ready({ script });
    const conversationId = await newConversation(core);
    await send(core, conversationId, "one");
    await send(core, conversationId, "two");
    await send(core, conversationId, "three");
    await timers.advance(10_000);
    assertEquals(of("onMessageReceived").map((m) => m.body), [
      "Hi, I'm Ada. How can I help you today?",
      "You said: two",
      "You said: three",
    ]);
    core.dispose();
  });

  await t.step("the customer ending the chat cancels pending replies", async () => {
    const { core, timers, of } = await ready({ script });
    const conversationId = await newConversation(core);
    await send(core, conversationId, "hello");
    assertEquals(core.pendingTimers, 1);
    await ok((cb) => core.endConversation({ conversationId }, cb));
    assertEquals(core.pendingTimers, 0);
    await timers.advance(10_000);
    assertEquals(of("onMessageReceived"), []);
    core.dispose();
  });
});

Deno.test("SimulatedKustomerCore dispose", async (t) => {
  await t.step("cancels scheduled work; later calls never call back", async () => {
    const { core, timers, of } = setup({ script: true, latencyMs: 10 });
    const init = probe();
    core.init({}, init.cb);
    await timers.advance(10);
    assertEquals(init.calls.length, 1);
    const created = probe<{ conversationId: string }>();
    core.createConversation({ title: "x" }, created.cb);
    await timers.advance(10);
    const conversationId = created.calls[0].response!.conversationId;
    const sent = probe();
    core.sendMessage({ conversationId, body: "hello" }, sent.cb);
    assert(timers.pending > 0);
    core.dispose();
    core.dispose();
    assertEquals(timers.pending, 0);
    assertEquals(core.pendingTimers, 0);
    assertEquals(core.state, "disposed");
    const later = probe();
    core.getMessages({ conversationId }, later.cb);
    await timers.advance(60_000);
    assertEquals(sent.calls, []);
    assertEquals(later.calls, []);
    assertEquals(of("onMessageReceived"), []);
    assertEquals(core.listenerCount(), 0);
    assertThrows(() => core.agentSend(conversationId, "x"), Error, "disposed");
  });

  await t.step("with real timers, nothing outlives dispose", async () => {
    // Real timers, tracked: every one the simulator starts must be finished or cleared.
    const active = new Set<unknown>();
    const scheduler: SimScheduler = {
      setTimeout(fn, ms) {
        const id: unknown = setTimeout(() => {
          active.delete(id);
          fn();
        }, ms);
        active.add(id);
        return id;
      },
      clearTimeout(id) {
        active.delete(id as number);
        clearTimeout(id as number);
      },
    };
    const core = new SimulatedKustomerCore({
      script: true,
      latencyMs: 5,
      objectUrls: false,
      scheduler,
    });
    const init = new Promise((resolve) => core.init({}, resolve));
    await init;
    const conversation = await new Promise<{ conversationId: string } | undefined>((resolve) =>
      core.createConversation({ title: "x" }, (r) => resolve(r))
    );
    core.sendMessage({ conversationId: conversation!.conversationId, body: "hello" });
    assert(core.pendingTimers > 0);
    assert(active.size > 0);
    core.dispose();
    assertEquals(core.pendingTimers, 0);
    assertEquals(active.size, 0);
  });

  await t.step("with the default global scheduler, dispose clears its timers", async () => {
    const core = new SimulatedKustomerCore({ script: true, latencyMs: 1, objectUrls: false });
    await new Promise((resolve) => core.init({}, resolve));
    core.createConversation({ title: "x" });
    assertEquals(core.pendingTimers, 1);
    core.dispose();
    assertEquals(core.pendingTimers, 0);
  });
});

Deno.test("makeTestJwt() makes a three-part base64url token with the claims", () => {
  const token = makeTestJwt({ externalId: "ü-1", iat: 1 });
  const [header, payload, signature] = token.split(".");
  assertMatch(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  const decode = (part: string) => {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  };
  assertEquals(decode(header), { alg: "HS256", typ: "JWT" });
  assertEquals(decode(payload), { externalId: "ü-1", iat: 1 });
  assert(signature.length > 0);
});

Deno.test("SimulatedKustomerCore exportState/importState keep the server across a page reload", async (t) => {
  await t.step("a new simulator with the saved state answers as the old one", async () => {
    const { core } = await ready();
    await ok((cb) =>
      core.login({ jwtToken: makeTestJwt({ externalId: "u-1", iat: nowSeconds(Date.now()) }) }, cb)
    );
    const conversationId = await newConversation(core);
    await send(core, conversationId, "hello");
    core.agentSend(conversationId, "hi there");
    await ok((cb) =>
      core.describeConversation({ conversationId, customAttributes: { noteStr: "kept" } }, cb)
    );
    const saved = JSON.parse(JSON.stringify(core.exportState()));
    core.dispose();

    const { core: next } = await ready();
    next.importState(saved);
    assertEquals(next.messagesOf(conversationId).map((m) => m.body), ["hello", "hi there"]);
    assertEquals(next.customAttributesOf(conversationId), { noteStr: "kept" });
    assertEquals(next.customer.identified, true);
    const { messages } = await ok<KustomerMessagesResponse>((cb) =>
      next.getMessages({ conversationId }, cb)
    );
    assertEquals(messages.length, 2);
    const second = await newConversation(next);
    assertEquals(second, "conv-2", "ids go on from the saved counters");
    next.dispose();
  });

  await t.step(
    "the scripted agent answers a customer message that was pending at the reload",
    async () => {
      const script = { joinDelayMs: 10, replyDelayMs: 10, typingMs: 10 };
      const { core, timers } = await ready({ script });
      const conversationId = await newConversation(core);
      await send(core, conversationId, "context for the agent");
      await timers.advance(100); // the greeting
      await send(core, conversationId, "are you there?");
      const saved = JSON.parse(JSON.stringify(core.exportState())); // the reply was still pending
      core.dispose();

      const { core: next, timers: nextTimers } = await ready({ script });
      next.importState(saved);
      await nextTimers.advance(100);
      assertEquals(
        next.messagesOf(conversationId).map((m) => m.body).slice(-2),
        ["are you there?", "You said: are you there?"],
      );
      next.dispose();
    },
  );

  await t.step("anything else is refused with a TypeError", () => {
    const { core } = setup();
    assertThrows(() => core.importState({ v: 2 } as never), TypeError, "exportState()");
    core.dispose();
  });
});

Deno.test("SimulatedKustomerCore network: seeded latency, calls applied part-way", async (t) => {
  /** Sends `count` messages one at a time, 1 ms steps: when each took effect and was answered. */
  async function timings(seed: number, count = 6) {
    const env = setup({ network: { seed, minMs: 20, maxMs: 120 } });
    const init = probe();
    env.core.init({}, init.cb);
    while (init.calls.length === 0) await env.timers.advance(1);
    const created = probe<{ conversationId: string }>();
    env.core.createConversation({ title: "Help" }, created.cb);
    while (created.calls.length === 0) await env.timers.advance(1);
    const conversationId = created.calls[0].response!.conversationId;
    const rows: { effectMs: number; answerMs: number }[] = [];
    for (let i = 0; i < count; i++) {
      const start = env.timers.now;
      const sent = probe();
      env.core.sendMessage({ conversationId, body: `m${i}` }, sent.cb);
      let effectMs = -1;
      while (sent.calls.length === 0) {
        if (effectMs < 0 && env.core.messagesOf(conversationId).length > i) {
          effectMs = env.timers.now - start;
        }
        await env.timers.advance(1);
      }
      if (effectMs < 0) effectMs = env.timers.now - start;
      rows.push({ effectMs, answerMs: env.timers.now - start });
    }
    env.core.dispose();
    return rows;
  }

  await t.step(
    "every call takes between minMs and maxMs, and takes effect before its answer",
    async () => {
      const rows = await timings(11);
      for (const { effectMs, answerMs } of rows) {
        assert(answerMs >= 20 && answerMs <= 121, `answer after ${answerMs} ms`);
        assert(effectMs <= answerMs, `effect at ${effectMs} ms, answer at ${answerMs} ms`);
      }
      assert(rows.some((r) => r.effectMs < r.answerMs), "some call takes effect before its answer");
    },
  );

  await t.step("the same seed gives the same delays, another seed others", async () => {
    assertEquals(await timings(11), await timings(11));
    const other = await timings(12);
    assert(JSON.stringify(other) !== JSON.stringify(await timings(11)));
  });

  await t.step(
    "a page gone between effect and answer: the server has the message, no answer",
    async () => {
      const env = setup({ network: { seed: 3, minMs: 200, maxMs: 200 } });
      env.core.init({}, () => {});
      await env.timers.advance(200);
      const created = probe<{ conversationId: string }>();
      env.core.createConversation({ title: "Help" }, created.cb);
      await env.timers.advance(200);
      const conversationId = created.calls[0].response!.conversationId;
      // Find the point where a send has reached the server but not been answered, then "reload".
      const sent = probe();
      env.core.sendMessage({ conversationId, body: "half way" }, sent.cb);
      while (env.core.messagesOf(conversationId).length === 0) await env.timers.advance(1);
      const saved = env.core.exportState();
      assertEquals(sent.calls.length, 0, "the answer is still on its way");
      env.core.dispose();
      await env.timers.advance(500);
      assertEquals(sent.calls.length, 0);
      const next = new SimulatedKustomerCore({ objectUrls: false });
      next.importState(saved);
      assertEquals(next.messagesOf(conversationId).map((m) => m.body), ["half way"]);
      next.dispose();
    },
  );

  await t.step("a page gone before the request arrived: no effect", async () => {
    const env = setup({ network: { seed: 5, minMs: 200, maxMs: 200 } });
    env.core.init({}, () => {});
    await env.timers.advance(200);
    const created = probe();
    env.core.createConversation({ title: "Help" }, created.cb);
    env.core.dispose();
    await env.timers.advance(500);
    assertEquals(created.calls.length, 0);
    assertEquals(env.core.conversations.length, 0);
  });

  await t.step("each event takes its own delay: events overtake each other", async () => {
    const env = setup({ network: { seed: 21, minMs: 0, maxMs: 300 } });
    env.core.init({}, () => {});
    await env.timers.advance(300);
    const created = probe<{ conversationId: string }>();
    env.core.createConversation({ title: "Help" }, created.cb);
    await env.timers.advance(300);
    const conversationId = created.calls[0].response!.conversationId;
    env.core.sendMessage({ conversationId, body: "hi" }, () => {});
    await env.timers.advance(300);
    const sentAt = env.timers.now;
    const bodies = ["a1", "a2", "a3", "a4", "a5", "a6"];
    for (const body of bodies) env.core.agentSend(conversationId, body);
    const arrived: { body: string; ms: number }[] = [];
    env.core.addListener("onMessageReceived", (m) => {
      arrived.push({ body: (m as KustomerMessage).body!, ms: env.timers.now - sentAt });
    });
    await env.timers.advance(301);
    assertEquals(arrived.length, bodies.length);
    assertEquals(new Set(arrived.map((a) => a.body)), new Set(bodies));
    assert(arrived.every((a) => a.ms <= 300), JSON.stringify(arrived));
    assert(
      arrived.map((a) => a.body).join() !== bodies.join(),
      `seed 21 should reorder: ${arrived.map((a) => a.body)}`,
    );
    env.core.dispose();
  });

  await t.step("bad network options are refused, naming the field", () => {
    assertThrows(
      () => new SimulatedKustomerCore({ network: { seed: 1.5 } }),
      TypeError,
      "network.seed",
    );
    assertThrows(
      () => new SimulatedKustomerCore({ network: { seed: 1, minMs: 50, maxMs: 10 } }),
      RangeError,
      "maxMs",
    );
    assertThrows(
      () => new SimulatedKustomerCore({ network: { seed: 1, maxMs: -1 } }),
      RangeError,
      "network.maxMs",
    );
  });
});
