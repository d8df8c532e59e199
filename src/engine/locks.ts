/**
 * Escalations and the pages that hold them: a live page holds a Web Lock named after its
 * escalation, so a log whose lock is free belongs to no living page.
 *
 * @module
 */

import type { LogHead } from "../log_store.ts";
import { type DeskLocks, lockName } from "../options.ts";

/** Takes the lock of escalation `id` if it is free: resolves with its release, else undefined. */
export function tryHold(locks: DeskLocks, id: string): Promise<(() => void) | undefined> {
  return new Promise((resolve, reject) => {
    locks.request(lockName(id), { ifAvailable: true }, (lock) => {
      if (!lock) return resolve(undefined);
      return new Promise<void>((release) => resolve(() => release()));
    }).catch(reject);
  });
}

/**
 * The escalations of this browser that are still open (not ended), other than `except`, newest
 * first, and untouched for at least `idleMs`: those a page may take up or end once it holds
 * their lock.
 */
export function openEscalations(
  heads: readonly LogHead[],
  options: { now: number; idleMs?: number; except?: string },
): LogHead[] {
  const { now, idleMs = 0, except } = options;
  return heads
    .filter((h) => h.endedAt === undefined && h.id !== except && now - h.updatedAt >= idleMs)
    .sort((a, b) => b.updatedAt - a.updatedAt);
}
