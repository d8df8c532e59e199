/** A small seeded random generator (mulberry32) and the helpers the fuzzers draw from. */

/** Seeded pseudo-random numbers: the same seed gives the same sequence, everywhere. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** One key of a weight table, drawn by weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    let roll = this.next() * entries.reduce((sum, [, w]) => sum + w, 0);
    for (const [key, weight] of entries) {
      roll -= weight;
      if (roll < 0) return key;
    }
    return entries[entries.length - 1][0];
  }
}

/** The seed of case `index` of a run with `seed`: cases can be replayed one by one. */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Text that a hostile or careless sender might use. */
export const NASTY_TEXTS: readonly string[] = [
  "",
  " ",
  "hello",
  "<b>bold</b>",
  '<img src=x onerror="globalThis.__xss=1">',
  "<script>globalThis.__xss=1</script>",
  "[link](javascript:alert(1))",
  "𝕦𝕟𝕚𝕔𝕠𝕕𝕖 ✓ — 日本語 \u202e reversed",
  "line\nbreak\r\n\ttab",
  "\u0000nul",
  "__proto__",
  "constructor",
  "{{template}} ${injection}",
];

/** Ids that break naive maps (`__proto__`, `constructor`) among plain ones. */
export const NASTY_IDS: readonly string[] = [
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "valueOf",
  " ",
  "id with spaces",
  "😀",
];

/** A random text: mostly short, sometimes nasty, sometimes long. */
export function randomText(rng: Rng, max = 1024): string {
  const kind = rng.int(10);
  if (kind < 4) return `text ${rng.int(1e6)}`;
  if (kind < 8) return rng.pick(NASTY_TEXTS);
  const length = rng.range(1, max);
  return "x".repeat(length);
}
