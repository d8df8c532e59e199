/**
 * What the desk's entry and its engine share: errors, their descriptions, timers.
 *
 * @module
 */

/** Timers, injectable for tests. */
export interface Scheduler {
  /** Runs `fn` after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a pending run. */
  clearTimeout(id: unknown): void;
}

/** The global timers. */
export const realScheduler: Scheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/** A short description of an error for a warning. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    return error.name === "Error" ? error.message : `${error.name}: ${error.message}`;
  }
  return String(error);
}

/** Why a Kustomer call failed. */
export type KustomerErrorReason = "rejected" | "timeout" | "unavailable" | "load";

/** A Kustomer Core call failed, timed out, or the Core could not be had. */
export class KustomerError extends Error {
  // The fields are `declare`d, not defined: the constructor sets them (a bundle would otherwise
  // list them twice).
  /**
   * The Core method, such as `"sendMessage"`; `"load"` when core.js could not be had, `"engine"`
   * when the desk's own chat code could not be loaded.
   */
  declare readonly method: string;
  /** Why it failed. */
  declare readonly reason: KustomerErrorReason;
  /** The SDK's status, when it gave one. */
  declare readonly status?: number;
  /** The SDK's code, when it gave one. */
  declare readonly code?: string | number;

  /** Creates the error. */
  constructor(
    method: string,
    reason: KustomerErrorReason,
    message: string,
    options: { cause?: unknown; status?: number; code?: string | number } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "KustomerError";
    this.method = method;
    this.reason = reason;
    this.status = options.status;
    this.code = options.code;
  }
}

/** A value in a message: strings quoted (and cut short), objects by kind, others with their type. */
export function describe(value: unknown): string {
  return typeof value === "string"
    ? JSON.stringify(value.slice(0, 40))
    : value === null
    ? "null"
    : typeof value === "object"
    ? Array.isArray(value) ? "an array" : "an object"
    : typeof value === "function"
    ? "a function"
    : `${typeof value} ${String(value)}`;
}
