/**
 * Takes `docs/screenshot.png`, README's picture: the example page mid-chat, in headless Chromium.
 * Run `deno task build` first, then `deno run -A docs/screenshot.ts`.
 *
 * @module
 */

import { launch, send, serve, waitForMessage } from "../tests/browser/_helpers.ts";

const { url, server } = serve({});
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(`${url}/?agentDelay=30&reset`);
  await waitForMessage(page, "example assistant", 60_000);
  await send(page, "My order arrived broken. Can I talk to an agent?");
  await waitForMessage(page, "Hi, I'm Ada", 60_000);
  await send(page, "The box was crushed and the mug inside is in pieces.");
  await waitForMessage(page, "You said: The box was crushed", 60_000);
  await page.locator('[data-testid="console-input"]').fill(
    "Sorry about that! I'm sending a new one today.",
  );
  await page.locator('[data-testid="console-send"]').click();
  await waitForMessage(page, "sending a new one today", 60_000);
  await page.screenshot({ path: new URL("./screenshot.png", import.meta.url).pathname });
  console.log("wrote docs/screenshot.png");
} finally {
  await browser.close();
  await server.shutdown();
}
