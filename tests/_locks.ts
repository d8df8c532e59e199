/** Web Locks for tests: one registry per "browser", one lock manager per page, freed when it dies. */

import type { DeskLocks } from "../src/options.ts";

/** The locks of one browser: which names are held. */
export class LockRegistry {
  readonly held = new Set<string>();

  /** A page's `navigator.locks`. */
  page(): PageLocks {
    return new PageLocks(this.held);
  }
}

/** One page's lock manager (`ifAvailable` requests only); `unload()` frees what the page held. */
export class PageLocks implements DeskLocks {
  #held: Set<string>;
  #mine = new Map<string, () => void>();

  constructor(held: Set<string>) {
    this.#held = held;
  }

  request(
    name: string,
    _options: { ifAvailable: true },
    callback: (lock: unknown) => unknown,
  ): Promise<unknown> {
    if (this.#held.has(name)) return Promise.resolve().then(() => callback(null));
    this.#held.add(name);
    const free = () => {
      if (this.#mine.delete(name)) this.#held.delete(name);
    };
    this.#mine.set(name, free);
    return Promise.resolve().then(() => callback({ name })).finally(free);
  }

  query(): Promise<{ held: { name: string }[] }> {
    return Promise.resolve({ held: [...this.#held].map((name) => ({ name })) });
  }

  /** The page went away: its locks are free. */
  unload(): void {
    for (const free of [...this.#mine.values()]) free();
  }
}
