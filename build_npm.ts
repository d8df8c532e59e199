/**
 * The npm package, written by `deno task build` to `dist/npm/` from the same sources as the JSR
 * package and the browser files:
 *
 * - `esm/`: ES modules for app bundlers (Vite, webpack, esbuild, Rollup): `index.js` (what
 *   `mod.ts` exports) and `simulator.js`, split by esbuild so that the engine is its own file,
 *   `engine-<hash>.js`, reached only through `import()`: an app bundler keeps it a lazy chunk.
 *   Not minified (the app's bundler minifies).
 * - `browser/`: the minified files of `dist/` for a page that loads the desk by URL from a CDN:
 *   `kustomer-service-desk.js` (ESM) or `kustomer-service-desk.iife.js` (classic script), the
 *   engine both load from beside themselves, `simulator.js`, their source maps and `.d.ts` files.
 * - `types/`: `index.d.ts` and `simulator.d.ts`, one self-contained declaration file each.
 * - `package.json`: `exports` for `.` and `./simulator` (with `types`), `./browser/*`, no
 *   dependencies.
 *
 * idb-keyval is inlined, not declared as a dependency: it is 0.6 KB, the desk is tested against
 * the copy it carries, and only files without bare imports can be loaded by URL straight from the
 * tarball (jsDelivr and unpkg serve the files as they are; only esm.sh rewrites imports).
 *
 * @module
 */

import * as esbuild from "esbuild";

/** The package's folders and files, relative to its root. */
export const NPM_FILES = {
  index: "esm/index.js",
  simulator: "esm/simulator.js",
  types: "types/index.d.ts",
  simulatorTypes: "types/simulator.d.ts",
  browser: "browser",
} as const;

/** What {@linkcode buildNpmPackage} needs from the browser build. */
export interface NpmPackageInput {
  /** Where the package goes (emptied first). */
  readonly dir: string;
  /** The repository root (holds `deno.json`, `mod.ts`, `simulator.ts`). */
  readonly root: string;
  /** The built browser files to copy into `browser/`, by name, and the directory they are in. */
  readonly browserFiles: readonly string[];
  /** The directory of the browser files. */
  readonly browserDir: string;
  /** The declarations of `mod.ts` and of `simulator.ts`. */
  readonly declarations: { readonly index: string; readonly simulator: string };
}

/** What {@linkcode buildNpmPackage} wrote. */
export interface NpmPackage {
  /** The package directory. */
  readonly dir: string;
  /** Its `package.json`. */
  readonly packageJson: Record<string, unknown>;
  /** The files of `esm/`, relative to the package root. */
  readonly esm: readonly string[];
  /** The engine's file in `esm/`, relative to the package root. */
  readonly engine: string;
}

/** The package's `package.json` for a name and version (from `deno.json`). */
export function packageJson(
  deno: { name: string; version: string; license?: string },
): Record<string, unknown> {
  return {
    name: deno.name,
    version: deno.version,
    description:
      "A Kustomer service desk for IBM watsonx Assistant web chat and Carbon AI Chat: hands a " +
      "chat to a human agent in Kustomer, and the chat survives a page reload.",
    license: deno.license ?? "MIT",
    type: "module",
    exports: {
      ".": { types: `./${NPM_FILES.types}`, default: `./${NPM_FILES.index}` },
      "./simulator": {
        types: `./${NPM_FILES.simulatorTypes}`,
        default: `./${NPM_FILES.simulator}`,
      },
      "./browser/*": "./browser/*",
      "./package.json": "./package.json",
    },
    main: `./${NPM_FILES.index}`,
    module: `./${NPM_FILES.index}`,
    types: `./${NPM_FILES.types}`,
    // What jsDelivr and unpkg serve for the package's bare URL: the classic script.
    jsdelivr: "./browser/kustomer-service-desk.iife.js",
    unpkg: "./browser/kustomer-service-desk.iife.js",
    // Only the browser files do something on import (the classic script defines globals; the
    // browser ESM file publishes its modules for its engine); esm/ can be tree-shaken.
    sideEffects: ["./browser/*"],
    files: ["esm/", "browser/", "types/"],
    keywords: [
      "kustomer",
      "watsonx",
      "watson-assistant",
      "web-chat",
      "carbon-ai-chat",
      "service-desk",
    ],
  };
}

/**
 * Writes the npm package.
 *
 * @throws {Error} When the engine is not a file of its own reached only by `import()`.
 */
export async function buildNpmPackage(input: NpmPackageInput): Promise<NpmPackage> {
  const { dir, root } = input;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${dir}/types`, { recursive: true });
  await Deno.mkdir(`${dir}/${NPM_FILES.browser}`, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [{ in: "mod.ts", out: "index" }, { in: "simulator.ts", out: "simulator" }],
    outdir: `${dir}/esm`,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    chunkNames: "[name]-[hash]",
    legalComments: "none",
    logLevel: "warning",
    metafile: true,
  });
  const outputs = result.metafile!.outputs;
  const relative = (path: string) => path.slice(path.lastIndexOf("/esm/") + 1);
  const esm = Object.keys(outputs).map(relative);
  const engine = Object.entries(outputs).find(([, o]) => o.entryPoint === "src/engine.ts");
  if (!engine) throw new Error("the npm package has no engine chunk (src/engine.ts)");
  const index = Object.entries(outputs).find(([path]) => relative(path) === NPM_FILES.index)!;
  // The engine must be reached only by import(), not loaded with index.js.
  const reached = new Set<string>();
  const walk = (path: string) => {
    for (const imported of outputs[path]?.imports ?? []) {
      if (imported.kind !== "import-statement" || reached.has(imported.path)) continue;
      reached.add(imported.path);
      walk(imported.path);
    }
  };
  walk(index[0]);
  const engineFile = relative(engine[0]);
  if ([...reached].some((path) => relative(path) === engineFile)) {
    throw new Error(`${NPM_FILES.index} loads ${engineFile} up front`);
  }
  for (const file of input.browserFiles) {
    await Deno.copyFile(`${input.browserDir}/${file}`, `${dir}/${NPM_FILES.browser}/${file}`);
  }
  await Deno.writeTextFile(`${dir}/${NPM_FILES.types}`, input.declarations.index);
  await Deno.writeTextFile(`${dir}/${NPM_FILES.simulatorTypes}`, input.declarations.simulator);
  const deno = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const json = packageJson(deno);
  await Deno.writeTextFile(`${dir}/package.json`, JSON.stringify(json, null, 2) + "\n");
  await Deno.copyFile(`${root}/README.md`, `${dir}/README.md`);
  return { dir, packageJson: json, esm, engine: engineFile };
}
