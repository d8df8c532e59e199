/**
 * `deno task dev` on a port that is taken, or that is not a port: one line naming the port and the
 * flag, at once (before the build), and a failing exit code. Runs `dev.ts` as `deno task dev` does.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "@std/assert";

const DEV = new URL("../../dev.ts", import.meta.url).pathname;

async function dev(...args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", DEV, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

Deno.test("dev: a busy port is one line naming the port and --port, before any build", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const run = await dev(`--port=${port}`);
  assertEquals(run.code, 1);
  assertEquals(run.stderr.split("\n").length, 1, run.stderr);
  assertMatch(run.stderr, new RegExp(`^Port ${port} is already in use.*--port=N`));
  assertMatch(run.stderr, new RegExp(`deno task dev --port=${port + 1}$`));
  // Nothing was built (a build prints "Built …") and no uncaught error was shown.
  assertEquals(run.stdout, "");
  assert(!run.stderr.includes("AddrInUse"), run.stderr);
});

Deno.test("dev: a --port that is not a port says so", async () => {
  const run = await dev("--port=eighty");
  assertEquals(run.code, 1);
  assertEquals(
    run.stderr,
    "--port=eighty is not a port number: use --port=N with N from 1 to 65535",
  );
  assertEquals(run.stdout, "");
});
