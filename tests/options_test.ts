/**
 * Every option of `kustomerServiceDeskFactory` is checked: a bad value throws a TypeError (wrong
 * type) or a RangeError (out of range) naming the option and the value, a good value is taken, and
 * a key that is not an option is rejected, with the option it is probably a typo of.
 *
 * @module
 */

import { assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import { kustomerServiceDeskFactory, MemoryLogStore } from "../mod.ts";
import { editDistance, OPTION_NAMES, resolveOptions } from "../src/options.ts";
import { chatOptions } from "../src/engine/defaults.ts";
import { SimulatedKustomerCore } from "../simulator.ts";
import { FakeScheduler } from "./_helpers.ts";

type ErrorClass = typeof TypeError | typeof RangeError;

/**
 * For each option: a value it takes, and bad values with the error they raise and what the
 * message says (besides the option's name).
 */
const CASES: Record<string, { good: unknown; bad: [unknown, ErrorClass, string][] }> = {
  apiKey: { good: "public-chat-key", bad: [["", TypeError, '""'], [42, TypeError, "number 42"]] },
  core: {
    good: new SimulatedKustomerCore(),
    bad: [[{}, TypeError, "an object"], ["KustomerCore", TypeError, '"KustomerCore"']],
  },
  scriptUrl: { good: "https://example.test/core.js", bad: [[5, TypeError, "number 5"]] },
  init: {
    good: { brandId: "brand-1", lang: "fr" },
    bad: [["brand", TypeError, '"brand"'], [{ brandId: 7 }, TypeError, "brandId"]],
  },
  getJwt: { good: () => Promise.resolve(undefined), bad: [["token", TypeError, '"token"']] },
  title: {
    good: "Refund request",
    bad: [[42, TypeError, "number 42"], ["x".repeat(257), RangeError, "at most 256"]],
  },
  sessionHistoryAttribute: {
    good: "botHistoryTxt",
    bad: [["history", TypeError, "ending in Str or Txt"]],
  },
  transferMessage: { good: "From the bot:", bad: [[42, TypeError, "number 42"]] },
  conversationSummary: { good: () => "user: hi", bad: [["x", TypeError, '"x"']] },
  store: { good: new MemoryLogStore(), bad: [["disk", TypeError, '"disk"']] },
  durability: { good: "strict", bad: [["fast", TypeError, '"fast"'], [true, TypeError, "true"]] },
  locks: { good: false, bad: [[true, TypeError, "true"], [{}, TypeError, "LockManager"]] },
  outbox: { good: false, bad: [[true, TypeError, "true"], [{}, TypeError, "Storage"]] },
  timeoutMs: {
    good: 1_000,
    bad: [["15s", TypeError, '"15s"'], [-1, RangeError, "positive"], [0, RangeError, "number 0"]],
  },
  retryIntervalMs: { good: 500, bad: [[0, RangeError, "a positive number"]] },
  heartbeatMs: { good: 0, bad: [[-5, RangeError, "number -5"], [null, TypeError, "null"]] },
  retentionMs: { good: 60_000, bad: [[Infinity, RangeError, "Infinity"]] },
  abandonedMs: { good: 1, bad: [[NaN, RangeError, "NaN"]] },
  orphanedChat: { good: "end", bad: [["keep", TypeError, '"keep"']] },
  orphanTimeoutMs: { good: 0, bad: [["5 min", TypeError, '"5 min"']] },
  allowFileUploads: { good: false, bad: [["no", TypeError, '"no"'], [0, TypeError, "number 0"]] },
  waitingMessage: { good: "Hold on.", bad: [[7, TypeError, "number 7"]] },
  onSatisfaction: { good: () => {}, bad: [[1, TypeError, "number 1"]] },
  logger: { good: { warn() {} }, bad: [[{}, TypeError, "an object"]] },
  name: {
    good: "kustomer-eu",
    bad: [[3, TypeError, "number 3"], ["", RangeError, '""'], ["n".repeat(41), RangeError, "40"]],
  },
  now: { good: () => 0, bad: [[Date.now(), TypeError, "number"]] },
  scheduler: { good: new FakeScheduler(), bad: [[{ setTimeout() {} }, TypeError, "clearTimeout"]] },
};

Deno.test("options: the table of cases covers every option, in the options' order", () => {
  assertEquals(Object.keys(CASES), [...OPTION_NAMES]);
});

Deno.test("options: each bad value throws the right error, naming the option and the value", async (t) => {
  for (const [option, { bad }] of Object.entries(CASES)) {
    await t.step(option, () => {
      for (const [value, errorClass, says] of bad) {
        const error = assertThrows(
          () => kustomerServiceDeskFactory({ [option]: value }),
          errorClass,
          `${option} must be`,
        );
        assertEquals(error.constructor, errorClass);
        if (!error.message.includes(says)) {
          throw new Error(`the message for ${option}: ${String(value)} does not say "${says}"`);
        }
      }
    });
  }
});

Deno.test("options: each good value is taken as given", () => {
  const options = Object.fromEntries(Object.entries(CASES).map(([key, { good }]) => [key, good]));
  const resolved = resolveOptions(options) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(options)) assertStrictEquals(resolved[key], value);
  // And an option left undefined is the same as one left out: its default (the desk's, or the
  // engine's for what only a chat reads).
  assertEquals(resolveOptions({ retryIntervalMs: undefined }).retryIntervalMs, 5_000);
  assertEquals(chatOptions(resolveOptions({ timeoutMs: undefined })).timeoutMs, 15_000);
  assertEquals(chatOptions(resolveOptions({ timeoutMs: 7 })).timeoutMs, 7);
});

Deno.test("options: an unknown key is rejected, with the option it is close to", () => {
  const says = (options: unknown, text: string) =>
    assertThrows(() => kustomerServiceDeskFactory(options as never), TypeError, text);
  says(
    { apikey: "k" },
    "apikey is not an option of the Kustomer service desk; did you mean apiKey?",
  );
  says({ timeout: 5 }, "did you mean timeoutMs?");
  says({ retryInterval: 5 }, "did you mean retryIntervalMs?");
  says({ allowFileUpload: true }, "did you mean allowFileUploads?");
  says({ sessionHistoryAtribute: "xStr" }, "did you mean sessionHistoryAttribute?");
  // Nothing close: no guess.
  const error = assertThrows(
    () => kustomerServiceDeskFactory({ colour: "red" } as never),
    TypeError,
  );
  assertEquals(error.message, "colour is not an option of the Kustomer service desk");
  // Inherited keys are not options either.
  says(Object.create({ apiKey: "k" }, { toString: { value: 1, enumerable: true } }), "toString");
});

Deno.test("options: not an object", () => {
  for (const bad of [null, "apiKey", 42, ["apiKey"]]) {
    assertThrows(() => kustomerServiceDeskFactory(bad as never), TypeError, "must be an object");
  }
});

Deno.test("options: the classic script's prefix names window.kustomerServiceDeskOptions", () => {
  const prefix = "window.kustomerServiceDeskOptions.";
  assertThrows(
    () => resolveOptions({ apikey: "k" } as never, prefix),
    TypeError,
    "window.kustomerServiceDeskOptions.apikey is not an option of the Kustomer service desk; " +
      "did you mean window.kustomerServiceDeskOptions.apiKey?",
  );
  assertThrows(
    () => resolveOptions({ waitingMessage: 7 } as never, prefix),
    TypeError,
    "window.kustomerServiceDeskOptions.waitingMessage must be",
  );
  assertThrows(
    () => resolveOptions("x" as never, prefix),
    TypeError,
    'window.kustomerServiceDeskOptions must be an object, got "x"',
  );
});

Deno.test("options: edit distance", () => {
  assertEquals(editDistance("apikey", "apiKey"), 0);
  assertEquals(editDistance("timeout", "timeoutMs"), 2);
  assertEquals(editDistance("kitten", "sitting"), 3);
  assertEquals(editDistance("", "abc"), 3);
});
