/**
 * The example page's simulated Kustomer "server" survives a page reload, as the real one lives on
 * Kustomer's servers: the simulator's state (`exportState()`) is saved in `localStorage` when the
 * page goes away (and every second, so a crash loses little), and a fresh simulator takes it back
 * (`importState()`) when the page loads. A scripted reply still pending at the reload is lost.
 *
 * @module
 */

import {
  type SimServerState,
  SimulatedKustomerCore,
  type SimulatedKustomerCoreOptions,
} from "../simulator.ts";

/** A simulator whose server state is kept in `localStorage`. */
export interface PersistentSimulator {
  /** The simulator (the page's Kustomer Core). */
  readonly sim: SimulatedKustomerCore;
  /** Saves the state now. */
  save(): void;
  /** Forgets the saved state (the page should reload after). */
  reset(): void;
}

/**
 * Opens the persisted simulator: a new simulator with the saved state, if any.
 *
 * @param key The `localStorage` key.
 * @param options Simulator options.
 */
export function openPersistentSimulator(
  key: string,
  options: SimulatedKustomerCoreOptions = {},
): PersistentSimulator {
  const sim = new SimulatedKustomerCore(options);
  const saved = localStorage.getItem(key);
  if (saved) {
    try {
      sim.importState(JSON.parse(saved) as SimServerState);
    } catch (error) {
      console.warn("example: the saved simulator state cannot be read; starting afresh", error);
    }
  }
  let forgotten = false;
  const save = () => {
    if (forgotten) return;
    try {
      localStorage.setItem(key, JSON.stringify(sim.exportState()));
    } catch (error) {
      console.warn("example: could not save the simulator state", error);
    }
  };
  addEventListener("pagehide", save);
  setInterval(save, 1000);
  return {
    sim,
    save,
    reset() {
      forgotten = true;
      localStorage.removeItem(key);
    },
  };
}
