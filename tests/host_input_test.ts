/**
 * Hostile input from the chat host: every ServiceDesk method that takes data, given wrong types and
 * sizes, throws a TypeError or RangeError that names the field, and nothing is stored or sent.
 */

import { assert, assertEquals } from "@std/assert";
import { type KustomerServiceDesk, kustomerServiceDeskFactory, MemoryLogStore } from "../mod.ts";
import { SimulatedKustomerCore } from "../simulator.ts";
import { CheckedHost, ManualClock } from "./fuzz/checked_host.ts";
import { Rng } from "./fuzz/rng.ts";

type Path = (string | number)[];

/** A valid call of each method, and the fields a hostile host could get wrong (with their kind). */
const CALLS: Record<
  string,
  { args: () => unknown[]; fields: [Path, "string" | "object" | "array" | "size" | "id"][] }
> = {
  startChat: {
    args: () => [
      {
        output: {
          generic: [{
            response_type: "connect_to_agent",
            message_to_human_agent: "help",
            transfer_info: { session_history_key: "k::1", summary_message_to_agent: "sum" },
          }],
        },
      },
      { agentAppInfo: { sessionHistoryKey: "k::2" } },
    ],
    fields: [
      [[0], "object"],
      [[0, "output"], "object"],
      [[0, "output", "generic"], "array"],
      [[0, "output", "generic", 0, "message_to_human_agent"], "string"],
      [[0, "output", "generic", 0, "transfer_info"], "object"],
      [[0, "output", "generic", 0, "transfer_info", "session_history_key"], "string"],
      [[0, "output", "generic", 0, "transfer_info", "summary_message_to_agent"], "string"],
      [[1], "object"],
      [[1, "agentAppInfo"], "object"],
      [[1, "agentAppInfo", "sessionHistoryKey"], "string"],
    ],
  },
  sendMessageToAgent: {
    args: () => [
      { id: "m-1", input: { text: "hello", message_type: "text" } },
      "m-1",
      { filesToUpload: [{ id: "f-1", file: new File(["x"], "a.txt", { type: "text/plain" }) }] },
    ],
    fields: [
      [[0], "object"],
      [[0, "input"], "object"],
      [[0, "input", "text"], "string"],
      [[2], "object"],
      [[2, "filesToUpload"], "array"],
      [[2, "filesToUpload", 0], "object"],
      [[2, "filesToUpload", 0, "id"], "id"],
      [[2, "filesToUpload", 0, "file"], "object"],
      [[2, "filesToUpload", 0, "file", "name"], "string"],
      [[2, "filesToUpload", 0, "file", "type"], "string"],
      [[2, "filesToUpload", 0, "file", "size"], "size"],
    ],
  },
  filesSelectedForUpload: {
    args: () => [[{ id: "f-1", file: { name: "a.txt", size: 1, type: "text/plain" } }]],
    fields: [
      [[0], "array"],
      [[0, 0], "object"],
      [[0, 0, "id"], "id"],
      [[0, 0, "file"], "object"],
      [[0, 0, "file", "name"], "string"],
      [[0, 0, "file", "type"], "string"],
      [[0, 0, "file", "size"], "size"],
    ],
  },
  updateState: {
    args: () => [{ sessionID: "s", userID: "u", locale: "fr" }],
    fields: [[[0], "object"], [[0, "sessionID"], "string"], [[0, "userID"], "string"], [
      [0, "locale"],
      "string",
    ]],
  },
};

/** Values that are wrong for a field of each kind (never `undefined`: optional fields allow it). */
const WRONG: Record<string, unknown[]> = {
  string: [null, 5, true, {}, [], ["a"], () => "x", Symbol("s")],
  object: [null, 5, "text", true, [1]],
  array: [null, 5, "text", {}, { length: 1 }],
  id: [null, 5, "", {}, []],
  size: [-1, NaN, Infinity, "5", null, {}],
};

/** The argument list with the value at `path` replaced. */
function mutate(args: unknown[], path: Path, value: unknown): unknown[] {
  const copy = args.map((a) => a instanceof Object ? structuredCloneLoose(a) : a);
  let target: Record<string | number, unknown> = copy as never;
  for (const key of path.slice(0, -1)) target = target[key] as never;
  target[path[path.length - 1]] = value;
  return copy;
}

/** A deep copy; a File becomes a plain `{ name, size, type }` (a File's fields cannot be set). */
function structuredCloneLoose<T>(value: T): T {
  if (value instanceof File) return { name: value.name, size: value.size, type: value.type } as T;
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(structuredCloneLoose) as T;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, structuredCloneLoose(v)]),
  ) as T;
}

/** A desk with a chat going (so a bad message would have somewhere to go). */
async function world() {
  const clock = new ManualClock();
  const sim = new SimulatedKustomerCore({ now: clock.now, scheduler: clock, objectUrls: false });
  const store = new MemoryLogStore();
  const host = new CheckedHost();
  const make = () =>
    kustomerServiceDeskFactory({
      core: sim,
      store,
      now: clock.now,
      scheduler: clock,
      heartbeatMs: 0,
    })(
      { callback: host.callback },
    ) as KustomerServiceDesk;
  const desk = make();
  await clock.drive(
    desk.startChat({ output: { generic: [{ response_type: "connect_to_agent" }] } }),
  );
  const id = host.state.escalationId as string;
  /** What is stored and sent: must not change when a call is refused. */
  const footprint = async () =>
    JSON.stringify({
      log: (await store.load(id)).records.length,
      heads: (await store.heads()).length,
      conversations: sim.conversations.length,
      messages: sim.messagesOf(desk.state!.conversationId!).length,
      hostCalls: host.calls.filter((c) => c.name !== "updatePersistedState").length,
      calls: sim.callLog.length,
    });
  return { clock, sim, store, host, desk, make, footprint };
}

/** Calls `method` and returns what it threw or rejected with (undefined when it succeeded). */
async function attempt(
  desk: KustomerServiceDesk,
  method: string,
  args: unknown[],
): Promise<unknown> {
  try {
    await (desk as unknown as Record<string, (...a: unknown[]) => unknown>)[method](...args);
  } catch (error) {
    return error;
  }
}

Deno.test("host input: each wrong type or size is a TypeError or RangeError naming the field, and nothing is stored", async (t) => {
  const w = await world();
  const before = await w.footprint();
  for (const [method, { args, fields }] of Object.entries(CALLS)) {
    await t.step(method, async () => {
      for (const [path, kind] of fields) {
        for (const value of WRONG[kind]) {
          // startChat with a chat going is refused anyway: a fresh desk (on the same store) checks first.
          const desk = method === "startChat" ? w.make() : w.desk;
          const error = await attempt(desk, method, mutate(args(), path, value));
          const where = `${method}(${path.join(".")} = ${String(value)})`;
          assert(
            error instanceof TypeError || error instanceof RangeError,
            `${where}: ${String(error)}`,
          );
          const field = path.filter((p) => typeof p === "string").at(-1);
          assert(
            field === undefined || (error as Error).message.includes(String(field)) ||
              (error as Error).message.includes(method) && path.length === 1,
            `${where}: "${(error as Error).message}" does not name ${field}`,
          );
          if (kind === "size") {
            assert(error instanceof RangeError, `${where}: a size is a RangeError`);
          }
        }
      }
    });
  }
  await w.clock.settle();
  assertEquals(await w.footprint(), before, "a refused call stored or sent something");
  assertEquals(w.host.violations, []);
  await w.desk.endChat();
});

Deno.test("host input: 300 seeded random corruptions of valid calls are all refused, none stored", async () => {
  const w = await world();
  const before = await w.footprint();
  const rng = new Rng(11);
  const methods = Object.keys(CALLS);
  for (let i = 0; i < 300; i++) {
    const method = rng.pick(methods);
    const { args, fields } = CALLS[method];
    // One to three fields wrong at once (the innermost may vanish under an outer one).
    let call = args();
    for (let k = rng.range(1, 3); k > 0; k--) {
      const [path, kind] = rng.pick(fields);
      try {
        call = mutate(call, path, rng.pick(WRONG[kind]));
      } catch {
        // The path no longer exists: an outer field is already wrong.
      }
    }
    const desk = method === "startChat" ? w.make() : w.desk;
    const error = await attempt(desk, method, call);
    assert(
      error instanceof TypeError || error instanceof RangeError,
      `case ${i}: ${method}(${Deno.inspect(call)}) accepted or failed oddly: ${String(error)}`,
    );
    assert(/\w+\(\)|must be|needs/.test((error as Error).message), (error as Error).message);
  }
  await w.clock.settle();
  assertEquals(await w.footprint(), before);
  await w.desk.endChat();
});

Deno.test("host input: the valid calls the corruptions start from are accepted", async () => {
  const w = await world();
  for (const method of ["sendMessageToAgent", "filesSelectedForUpload", "updateState"]) {
    assertEquals(await attempt(w.desk, method, CALLS[method].args()), undefined, method);
  }
  await w.desk.endChat();
  const fresh = w.make();
  assertEquals(await attempt(fresh, "startChat", CALLS.startChat.args()), undefined);
  await fresh.endChat();
});
