/**
 * How the desk's entry loads its engine: the one `import()` of it, which the build turns into an
 * import of the engine file beside the entry (so each bundle spells its address once).
 *
 * @module
 */

/** Loads the engine (a separate chunk in the browser bundle). */
export const loadEngine = (): Promise<typeof import("./engine.ts")> => import("./engine.ts");
