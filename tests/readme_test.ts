/**
 * What README.md says that could drift from the code: the options table lists exactly the
 * options, the API reference exactly the exports, the tasks it names exist, its install lines name
 * this package and version, the snippets the package test runs are there, and the screenshot is a
 * small PNG. (The ```ts snippets themselves run under `deno test --doc`; the browser ones run in
 * tests/browser/npm_package_test.ts.)
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import ts from "typescript";
import { OPTION_NAMES } from "../src/options.ts";

const root = new URL("../", import.meta.url);
const README = await Deno.readTextFile(new URL("README.md", root));
const DENO_JSON = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));

/** The text of a README section (from its `## heading` to the next). */
function section(heading: string): string {
  const start = README.indexOf(`\n## ${heading}\n`);
  assert(start >= 0, `README has a "## ${heading}" section`);
  const end = README.indexOf("\n## ", start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** The first cells of a markdown table's body rows. */
function firstCells(table: string): string[] {
  return table.split("\n").filter((line) => line.startsWith("| "))
    .slice(2) // the header and the separator
    .map((line) => line.split(" | ")[0].slice(2).trim());
}

/** The names in backticks in a text. */
const ticked = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

Deno.test("README: the options table lists exactly the options", () => {
  const rows = firstCells(section("Options")).flatMap(ticked);
  assertEquals(rows.toSorted(), [...OPTION_NAMES].sort());
});

/** The exports of a module, as TypeScript sees them, and whether each is a value. */
function exportsOf(program: ts.Program, file: string): Map<string, boolean> {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!);
  return new Map(exported.map((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    return [symbol.name, (target.flags & ts.SymbolFlags.Value) !== 0];
  }));
}

Deno.test("README: the API reference lists exactly the exports of mod.ts and simulator.ts", () => {
  const path = (file: string) => new URL(file, root).pathname;
  const program = ts.createProgram([path("mod.ts"), path("simulator.ts")], {
    noEmit: true,
    allowImportingTsExtensions: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    noLib: true, // only the export lists are read
    types: [],
  });
  const reference = section("API reference");
  const tables = reference.split(/\n(?=\| `@kustomer-desk)/).slice(1);
  assertEquals(tables.length, 2, "one table for each export path");
  for (const [table, file] of [[tables[0], "mod.ts"], [tables[1], "simulator.ts"]]) {
    const exports = exportsOf(program, path(file));
    assert(exports.size > 10, `${file} exports found`);
    const cells = firstCells(table);
    // "`Sim*`" is a pattern: every export starting with "Sim" that is not listed by name.
    const names = cells.flatMap(ticked);
    const patterns = names.filter((n) => n.endsWith("*")).map((n) => n.slice(0, -1));
    const explicit = new Set(names.filter((n) => !n.endsWith("*")));
    for (const name of explicit) assert(exports.has(name), `${file} exports ${name}`);
    const uncovered = [...exports.keys()].filter((name) =>
      !explicit.has(name) && !patterns.some((prefix) => name.startsWith(prefix))
    );
    assertEquals(uncovered, [], `exports of ${file} missing from README's API reference`);
    for (const prefix of patterns) {
      assert(
        [...exports.keys()].some((name) => !explicit.has(name) && name.startsWith(prefix)),
        `${prefix}* in README's API reference matches an export of ${file}`,
      );
    }
  }
});

Deno.test("README: the tasks it names exist", () => {
  const tasks = Object.keys(DENO_JSON.tasks);
  const named = [...README.matchAll(/deno(?:@[\d.]+)? task ([\w:-]+)/g)].map((m) => m[1]);
  const other = /Other\s+tasks:([^.]*)\./.exec(README);
  if (!other) throw new Error('README lists no "Other tasks"');
  const others = ticked(other[1]).filter((n) => /^[\w:-]+$/.test(n));
  assert(others.length >= 5, `other tasks: ${others}`);
  for (const task of [...named, ...others]) {
    assert(tasks.includes(task), `deno task ${task} exists`);
  }
  assert(named.includes("dev") && named.includes("test"), "the two commands");
});

Deno.test("README: the install lines name this package and its version", () => {
  const name: string = DENO_JSON.name;
  const install = section("Install");
  assert(install.includes(`npm i ${name}`), "npm i");
  assert(install.includes(`deno add jsr:${name}`), "deno add");
  const versions = [...README.matchAll(/@kustomer-desk\/web-chat@([\d.]+)/g)].map((m) => m[1]);
  assert(versions.length >= 3, "CDN URLs with a version");
  for (const version of versions) assertEquals(version, DENO_JSON.version);
  for (const url of install.matchAll(/jsdelivr\.net\/npm\/[^ ]+?@[\d.]+\/([^ ]+)/g)) {
    assert(/^browser\/kustomer-service-desk(\.iife)?\.js$/.test(url[1]), url[1]);
  }
});

Deno.test("README: the snippets the package test runs are there", () => {
  for (const name of ["carbon", "watsonx", "deno"]) {
    assert(README.includes(`<!-- snippet: ${name} `), `the ${name} snippet`);
  }
});

Deno.test("README: the screenshot is a small PNG", async () => {
  const image = /!\[[^\]]+\]\(([^)]+\.png)\)/.exec(README.slice(0, 2000));
  if (!image) throw new Error("no screenshot on README's first screen");
  const bytes = await Deno.readFile(new URL(image[1], root));
  assertEquals([...bytes.slice(1, 4)], [0x50, 0x4e, 0x47], "PNG");
  assert(bytes.byteLength < 250_000, `${bytes.byteLength} bytes`);
});
