/**
 * Web Locks for tests: one registry per "browser", one lock manager per page, freed when it dies.
 *
 * As strict as `navigator.locks` where the desk relies on it: a lock asked for with `ifAvailable`
 * is granted to one page at a time (the callback gets `null` while another page holds it) and held
 * until the callback's promise settles; a page that went away can neither ask nor query
 * (`InvalidStateError`, as a document that is no longer fully active). Only `ifAvailable` requests
 * are supported: anything else is a `TypeError`, so a change in how the desk asks shows up here.
 *
 * `lineUp(n)` makes the pages' sweeps race: every `query()` waits until `n` pages have asked, then
 * all are answered at once, so their next steps interleave as they would in a browser where two
 * tabs' timers fire together.
 */

import type { DeskLocks } from "../src/options.ts";

/** The locks of one browser: which names are held. */
export class LockRegistry {
  readonly held = new Set<string>();
  /** Grants, in order: the lock name each time one was given. */
  readonly grants: string[] = [];
  #lineUp?: { size: number; waiting: (() => void)[] };

  /** A page's `navigator.locks`. */
  page(): PageLocks {
    return new PageLocks(this);
  }

  /** The next `size` queries (from any pages) are answered together, once all have been made. */
  lineUp(size: number): void {
    if (!Number.isInteger(size) || size < 2) {
      throw new RangeError(`lineUp needs at least 2 queries, got ${size}`);
    }
    this.#lineUp = { size, waiting: [] };
  }

  /** How many queries are waiting for the line-up to fill. */
  get waiting(): number {
    return this.#lineUp?.waiting.length ?? 0;
  }

  /** Waits in the line-up, if there is one (resolves at once otherwise). */
  _queue(): Promise<void> {
    const line = this.#lineUp;
    if (!line) return Promise.resolve();
    return new Promise((resolve) => {
      line.waiting.push(resolve);
      if (line.waiting.length < line.size) return;
      this.#lineUp = undefined;
      for (const go of line.waiting) go();
    });
  }
}

/** One page's lock manager (`ifAvailable` requests only); `unload()` frees what the page held. */
export class PageLocks implements DeskLocks {
  #registry: LockRegistry;
  #mine = new Map<string, () => void>();
  #alive = true;

  constructor(registry: LockRegistry) {
    this.#registry = registry;
  }

  request(
    name: string,
    options: { ifAvailable: true },
    callback: (lock: unknown) => unknown,
  ): Promise<unknown> {
    if (!this.#alive) return Promise.reject(gone("request"));
    if (typeof name !== "string" || name.startsWith("-")) {
      return Promise.reject(new TypeError(`Invalid lock name: ${String(name)}`));
    }
    if (options?.ifAvailable !== true || typeof callback !== "function") {
      return Promise.reject(
        new TypeError("This double supports request(name, { ifAvailable: true }, callback) only"),
      );
    }
    const held = this.#registry.held;
    if (held.has(name)) return Promise.resolve().then(() => callback(null));
    held.add(name);
    this.#registry.grants.push(name);
    const free = () => {
      if (this.#mine.delete(name)) held.delete(name);
    };
    this.#mine.set(name, free);
    return Promise.resolve().then(() => callback({ name, mode: "exclusive" })).finally(free);
  }

  async query(): Promise<{ held: { name: string }[] }> {
    if (!this.#alive) throw gone("query");
    await this.#registry._queue();
    if (!this.#alive) throw gone("query");
    return { held: [...this.#registry.held].map((name) => ({ name })) };
  }

  /** The page went away: its locks are free, and it can no longer ask for any. */
  unload(): void {
    this.#alive = false;
    for (const free of [...this.#mine.values()]) free();
  }
}

const gone = (what: string) =>
  new DOMException(`Cannot ${what} a lock: the page has gone away`, "InvalidStateError");
