/**
 * The seeded network of the simulated Kustomer Core: a delay for each event, and for each call a
 * delay until it reaches the server and another until its answer arrives.
 *
 * @module
 */

import { _checkDelay, _isObject } from "./checks.ts";
import type { SimNetworkOptions } from "./types.ts";

/** The seeded delays of {@linkcode SimNetworkOptions}. */
export class _Network {
  #state: number;
  #min: number;
  #span: number;

  constructor(options: SimNetworkOptions) {
    if (!_isObject(options) || !Number.isInteger(options.seed)) {
      throw new TypeError(`Invalid network.seed: expected an integer, got ${options?.seed}`);
    }
    const min = _checkDelay(options.minMs ?? 0, "network.minMs");
    const max = _checkDelay(options.maxMs ?? 300, "network.maxMs");
    if (max < min) {
      throw new RangeError(`Invalid network: maxMs (${max}) is below minMs (${min})`);
    }
    this.#state = options.seed >>> 0;
    this.#min = min;
    this.#span = max - min;
  }

  /** mulberry32: a small seeded generator of numbers in [0, 1). */
  #next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A delay for one event. */
  event(): number {
    return Math.round(this.#min + this.#next() * this.#span);
  }

  /** A call's delays: until it reaches the server, then until its answer arrives. */
  call(): { requestMs: number; answerMs: number } {
    const total = this.#min + this.#next() * this.#span;
    const requestMs = Math.round(total * this.#next());
    return { requestMs, answerMs: Math.max(0, Math.round(total) - requestMs) };
  }
}
