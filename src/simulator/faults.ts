/**
 * Fault injection of the simulated Kustomer Core: rules that make the next calls of a method fail
 * or hang, queued per method, first in first out.
 *
 * @module
 */

import { _checkTimes } from "./checks.ts";
import {
  SIM_METHODS,
  type SimFailOptions,
  type SimFaultError,
  type SimFaults,
  type SimHangOptions,
  type SimMethod,
} from "./types.ts";

/** One queued fault rule. */
export interface _FaultRule {
  kind: "fail" | "hang";
  times: number;
  error?: SimFaultError;
  applied?: boolean;
}

/**
 * Makes the fault rules of one simulator: `faults` for the test, `take` for the simulator, which
 * takes the rule (if any) that applies to a call now made.
 */
export function _makeFaults(): {
  faults: SimFaults;
  take: (method: SimMethod) => _FaultRule | undefined;
} {
  const rules = new Map<SimMethod, _FaultRule[]>();
  const check = (method: unknown, what: string): SimMethod => {
    if (!SIM_METHODS.includes(method as SimMethod)) {
      throw new TypeError(`Cannot ${what}: unknown SDK method ${String(method)}`);
    }
    return method as SimMethod;
  };
  const add = (method: SimMethod, rule: _FaultRule) => {
    const list = rules.get(method) ?? [];
    list.push(rule);
    rules.set(method, list);
  };
  const faults: SimFaults = {
    fail(method: SimMethod, options: SimFailOptions = {}): void {
      const m = check(method, "fail");
      const times = options.times ?? 1;
      _checkTimes(times, `fail ${m}`);
      add(m, { kind: "fail", times, ...(options.error ? { error: { ...options.error } } : {}) });
    },
    hang(method: SimMethod, options: SimHangOptions = {}): void {
      const m = check(method, "hang");
      const times = options.times ?? Infinity;
      _checkTimes(times, `hang ${m}`);
      add(m, { kind: "hang", times, applied: options.applied ?? false });
    },
    clear(method?: SimMethod): void {
      if (method === undefined) rules.clear();
      else rules.delete(check(method, "clear faults"));
    },
    remaining(method?: SimMethod): number {
      const lists = method === undefined ? [...rules.values()] : [rules.get(method) ?? []];
      return lists.flat().reduce((sum, r) => sum + r.times, 0);
    },
  };
  const take = (method: SimMethod): _FaultRule | undefined => {
    const list = rules.get(method);
    const rule = list?.[0];
    if (!list || !rule) return undefined;
    rule.times -= 1;
    if (rule.times <= 0) list.shift();
    if (list.length === 0) rules.delete(method);
    return rule;
  };
  return { faults, take };
}
