/**
 * `deno task dev`: builds the bundles, serves `example.html` and `dist/` on a local port, prints
 * the URL, and rebuilds when a source file changes (esbuild's watch mode).
 *
 * ```sh
 * deno task dev              # http://127.0.0.1:8000/
 * deno task dev --port=9000
 * ```
 *
 * @module
 */

import * as esbuild from "esbuild";
import { build, bundleOptions } from "./build.ts";

const ROOT = new URL(".", import.meta.url).pathname;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".png": "image/png",
  ".txt": "text/plain; charset=utf-8",
};

/** Options of {@linkcode serveFiles}. */
export interface ServeFilesOptions {
  /** The port; 0 picks a free one. @default {0} */
  port?: number;
  /** @default {"127.0.0.1"} */
  hostname?: string;
  /** Where `/dist/*` comes from. @default {"<repo>/dist"} */
  distDir?: string;
  /** Extra pages by path (`/starter-kit.html` → its HTML). */
  pages?: Record<string, string>;
  /** Send `Access-Control-Allow-Origin: *` (a CDN does). @default {true} */
  cors?: boolean;
  /** Extra headers on every response (a benchmark's cross-origin isolation). */
  headers?: Record<string, string>;
}

/**
 * Serves `example.html` at `/`, the built files at `/dist/`, and any extra pages. Nothing else
 * in the repository is served.
 *
 * @returns The server; `server.addr.port` is the port.
 */
export function serveFiles(options: ServeFilesOptions = {}): Deno.HttpServer<Deno.NetAddr> {
  const distDir = options.distDir ?? `${ROOT}dist`;
  const pages = options.pages ?? {};
  return Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
  }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const headers = new Headers({ "cache-control": "no-store", ...options.headers });
    if (options.cors ?? true) headers.set("access-control-allow-origin", "*");
    if (path in pages) {
      headers.set("content-type", TYPES[".html"]);
      return new Response(pages[path], { headers });
    }
    let file: string | undefined;
    if (path === "/" || path === "/example.html") file = `${ROOT}example.html`;
    else if (/^\/dist\/[\w.-]+$/.test(path)) file = `${distDir}/${path.slice("/dist/".length)}`;
    if (!file) return new Response("Not found", { status: 404, headers });
    try {
      const body = await Deno.readFile(file);
      headers.set(
        "content-type",
        TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream",
      );
      return new Response(body, { headers });
    } catch {
      return new Response("Not found", { status: 404, headers });
    }
  });
}

/**
 * Serves the example on `port`, or explains in one line why it cannot (the port is taken, or is
 * not a port), naming the port and the flag that picks another.
 *
 * @throws {Error} With that line.
 */
export function listen(port: number, from: string): Deno.HttpServer<Deno.NetAddr> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${from} is not a port number: use --port=N with N from 1 to 65535`);
  }
  try {
    return serveFiles({ port });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `Port ${port} is already in use (another deno task dev?): pick another with --port=N, ` +
          `e.g. deno task dev --port=${port === 8000 ? 8001 : port + 1}`,
      );
    }
    throw error;
  }
}

if (import.meta.main) {
  const portArg = Deno.args.find((a) => a.startsWith("--port="));
  const from = portArg ?? (Deno.env.get("PORT") ? `PORT=${Deno.env.get("PORT")}` : "8000");
  const port = Number(portArg?.slice("--port=".length) ?? Deno.env.get("PORT") ?? 8000);
  // The port first: a taken port is said at once, not after a build.
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = listen(port, from);
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
  // A full build: sizes, checks and types (over budget only warns here).
  await build({ enforceBudget: false });
  const contexts = await Promise.all(
    Object.entries(bundleOptions(`${ROOT}dist`)).map(async ([name, options]) => {
      const ctx = await esbuild.context({
        ...options,
        logLevel: "warning",
        plugins: [
          ...(options.plugins ?? []),
          {
            name: "rebuild-log",
            setup(b) {
              let first = true;
              b.onEnd((result) => {
                if (first) {
                  first = false;
                  return;
                }
                if (result.errors.length === 0) {
                  console.log(`${new Date().toLocaleTimeString()} rebuilt ${name}`);
                }
              });
            },
          },
        ],
      });
      await ctx.watch();
      return ctx;
    }),
  );
  console.log(`\nExample page: http://127.0.0.1:${server.addr.port}/`);
  console.log("Watching for changes; Ctrl-C to stop.");
  const shutdown = async () => {
    await Promise.all(contexts.map((c) => c.dispose()));
    await server.shutdown();
    await esbuild.stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", shutdown);
  Deno.addSignalListener("SIGTERM", shutdown);
}
