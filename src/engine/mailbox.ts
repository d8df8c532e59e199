/**
 * The engine's mailbox: every input (a host call, a Kustomer event or answer, a timer) is handled
 * one at a time, to completion or to its next wait.
 *
 * @module
 */

/**
 * Runs handlers one at a time. A handler that waits for something slow (a Kustomer call) does it
 * through {@linkcode Mailbox.wait}: the mailbox is free for other inputs meanwhile, and the answer
 * comes back as a new input at the end of the queue, so the handler goes on against the state as
 * it is then (it must check that its chat is still the one it was working on).
 */
export class Mailbox {
  #busy = false;
  #queue: (() => void)[] = [];

  /** Queues `handler`; settles with its result once it has run. */
  async post<T>(handler: () => T | Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await handler();
    } finally {
      this.#release();
    }
  }

  /**
   * From inside a handler: frees the mailbox while `slow` settles, then queues the rest of the
   * handler as a new input and resumes when its turn comes.
   */
  async wait<T>(slow: Promise<T>): Promise<T> {
    this.#release();
    try {
      return await slow;
    } finally {
      await this.#acquire();
    }
  }

  #acquire(): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }

  #release(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#busy = false;
  }
}
